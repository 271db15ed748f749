"""Replication by Globus, end to end: two live sites, Globus answered by globus-sdk's fixtures.

Site B is a live server that offers Globus (its store's root is ``/globus/site-b`` on its
collection) and never calls Globus itself. Site A is a live server too (uploads, the
admin API), but its background work runs here, in the test process, through the real
``Runner`` on A's database, so that globus-sdk's fixtures (``responses``) answer A's
calls to Globus while A and B talk over real HTTP. The test plays Globus's data plane:
it copies each submitted item from A's collection path to B's, both mapped back to
local directories, checking the MD5 as Globus would.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import responses
from globus_sdk import ConfidentialAppAuthClient, TransferClient
from globus_sdk.testing import RegisteredResponse, load_response
from sqlalchemy import Engine, update

from librarian_server.background import Runner
from librarian_server.db import make_engine, make_session_factory
from librarian_server.orm import SendQueue, utcnow
from librarian_server.settings import load_settings
from librarian_server.transfer.globus import GlobusManager
from tests import pg
from tests.e2e.conftest import LiveServer, md5
from tests.globus_fixtures import sdk_answer, sdk_task

pytestmark = pytest.mark.e2e

SITE_A, SITE_B = "site-a", "site-b"
ENDPOINT_A = "aaaaaaaa-0000-4000-8000-00000000000a"
ENDPOINT_B = "bbbbbbbb-0000-4000-8000-00000000000b"
COLLECTION_A, COLLECTION_B = "/globus/site-a", "/globus/site-b"


def globus_env(site: str, endpoint: str, collection_root: str) -> dict[str, str]:
    return {
        "LIBRARIAN_SERVER_SITE_NAME": site,
        "LIBRARIAN_SERVER_GLOBUS__ENABLED": "true",
        "LIBRARIAN_SERVER_GLOBUS__ENDPOINT_ID": endpoint,
        "LIBRARIAN_SERVER_GLOBUS__CLIENT_ID": f"librarian-{site}",
        "LIBRARIAN_SERVER_GLOBUS__CLIENT_SECRET": f"{site}-client-secret",
        "LIBRARIAN_SERVER_GLOBUS__STORES": json.dumps(
            [{"store": "local", "path": collection_root}]
        ),
    }


class Sites:
    def __init__(self, a: LiveServer, b: LiveServer) -> None:
        self.a, self.b = a, b
        self.collections = {COLLECTION_A: a.store_dir, COLLECTION_B: b.store_dir}

    def local(self, collection_path: str) -> Path:
        for root, directory in self.collections.items():
            if collection_path.startswith(root + "/"):
                return directory / collection_path[len(root) + 1 :]
        raise AssertionError(f"{collection_path} is on no collection of this test")

    def play_globus(self, task: dict[str, Any]) -> None:
        """What Globus does for a task: copy each item, verifying the external checksum."""
        assert (task["source_endpoint"], task["destination_endpoint"]) == (ENDPOINT_A, ENDPOINT_B)
        for item in task["DATA"]:
            source, target = self.local(item["source_path"]), self.local(item["destination_path"])
            data = source.read_bytes()
            assert item["checksum_algorithm"] == "MD5"
            assert item["external_checksum"] == hashlib.md5(data).hexdigest()  # noqa: S324
            assert target.parent.is_dir(), "B staged the file somewhere else"
            shutil.copyfile(source, target)

    def outgoing(self, names: list[str]) -> dict[str, dict[str, Any]]:
        with self.a.http("ops") as http:
            rows = http.get("/api/v2/transfers", params={"direction": "outgoing"}).json()
        return {t["name"]: t for t in rows["transfers"] if t["name"] in names}

    def queue(self, queue_id: int) -> dict[str, Any]:
        with self.a.http("ops") as http:
            queues = http.get("/api/v2/queues").json()
        return next(q for q in queues if q["id"] == queue_id)

    def upload(self, tmp_path: Path, files: dict[str, bytes]) -> None:
        for name, data in files.items():
            local = tmp_path / name.replace("/", "_")
            local.write_bytes(data)
            result = self.a.cli("upload", str(local), name)
            assert result.returncode == 0, result


@pytest.fixture(scope="module")
def sites(start_server: Callable[..., LiveServer], database_url: str | None) -> Iterator[Sites]:
    # Each site has its own database: a second PostgreSQL one for B.
    with pg.temporary_database() if database_url else nullcontext() as url_b:
        b = start_server(url_b, env=globus_env(SITE_B, ENDPOINT_B, COLLECTION_B))
        b.add_user(SITE_A, "peer")  # a peer account is named after the calling site
        a = start_server(
            database_url,
            env=globus_env(SITE_A, ENDPOINT_A, COLLECTION_A)
            | {"LIBRARIAN_SERVER_BACKGROUND__IN_SERVER": "false"},
        )
        a.add_user("ops", "admin")
        a.admin(
            "add-peer", SITE_B, b.url,
            "--username", SITE_A,
            "--password-file", str(b.password_file(SITE_A)),
            "--managers", "globus,http",
        )  # fmt: skip
        peers = json.loads(a.admin("peers", "--json").stdout)
        assert [(p["name"], p["transfer_managers"]) for p in peers] == [
            (SITE_B, ["globus", "http"])
        ]
        yield Sites(a, b)
        b.stop()  # before its database goes


@pytest.fixture
def make_runner(sites: Sites, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Runner]]:
    """A's background work, here: ``make_runner(globus={...}, replication={...}, env={...})``."""
    engines: list[Engine] = []
    for key in list(os.environ):
        if key.startswith("LIBRARIAN_SERVER_"):
            monkeypatch.delenv(key)

    def factory(
        *,
        globus: dict[str, Any] | None = None,
        replication: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
        **settings: Any,
    ) -> Runner:
        with monkeypatch.context() as patch:
            for key, value in (env or {}).items():
                patch.setenv(key, value)
            site = load_settings(
                data_dir=sites.a.data_dir,
                database_url=sites.a.database_url,
                site_name=SITE_A,
                write_client_config=False,
                globus={
                    "enabled": True,
                    "endpoint_id": ENDPOINT_A,
                    "client_id": f"librarian-{SITE_A}",
                    "client_secret": f"{SITE_A}-client-secret",
                    "stores": [{"store": "local", "path": COLLECTION_A}],
                    **(globus or {}),
                },
                replication={
                    "transfer_managers": ["globus", "http"],
                    "retry_backoff_seconds": 0.01,
                    **(replication or {}),
                },
                **settings,
            )
        engine = make_engine(site)
        engines.append(engine)
        return Runner(make_session_factory(engine), site)

    yield factory
    for engine in engines:
        engine.dispose()


@pytest.fixture
def globus() -> Iterator[None]:
    """Globus as globus-sdk's fixtures answer it; anything unregistered fails loudly."""
    responses.start()
    load_response(ConfidentialAppAuthClient.oauth2_client_credentials_tokens)
    load_response(TransferClient.get_submission_id)
    load_response(TransferClient.task_list)
    yield
    responses.stop()
    responses.reset()


def requests_to(path: str, method: str = "GET") -> list[Any]:
    return [
        c.request
        for c in responses.calls
        if urlsplit(c.request.url).path == path and c.request.method == method
    ]


def submitted() -> dict[str, Any]:
    """The last task submitted to Globus, as sent."""
    posts = requests_to("/v0.10/transfer", "POST")
    assert posts, "nothing was submitted to Globus"
    body: dict[str, Any] = json.loads(posts[-1].body)
    return body


def task_answers(task_id: str, *statuses: dict[str, Any]) -> None:
    """get_task answers in order (the SDK has no get_task fixture); the last one repeats."""
    base = sdk_task()
    for fields in statuses:
        doc = {**base, "task_id": task_id, **fields}
        RegisteredResponse(service="transfer", path=f"/v0.10/task/{task_id}", json=doc).add()


def run(runner: Runner, task: str) -> dict[str, Any]:
    result = runner.run_task(task)
    assert result.ok, result.error
    return result.summary


def files_with(prefix: str, sizes: list[int]) -> dict[str, bytes]:
    return {f"{prefix}/f{i}.dat": os.urandom(size) for i, size in enumerate(sizes)}


def test_a_batch_goes_as_one_globus_task_and_is_committed_at_the_peer(
    sites: Sites, make_runner: Callable[..., Runner], globus: None, tmp_path: Path
) -> None:
    files = files_with("globus-ok", [0, 1, 4096, (1 << 20) + 3])
    sites.upload(tmp_path, files)
    runner = make_runner()
    task = load_response(TransferClient.submit_transfer).metadata

    assert run(runner, "send_clone") == {
        "queued": 4, "batches": 1, "sent": 4, "failed": 0, "postponed": 0, "waiting": 0,
    }  # fmt: skip

    sent = submitted()
    assert len(requests_to("/v0.10/transfer", "POST")) == 1  # one task for the batch
    assert sent["submission_id"] == task["submission_id"]  # the one stored on the queue
    assert sent["verify_checksum"] is True and "deadline" in sent
    assert sorted(i["external_checksum"] for i in sent["DATA"]) == sorted(
        md5(d).removeprefix("md5:") for d in files.values()
    )
    assert all(i["source_path"].startswith(f"{COLLECTION_A}/files/") for i in sent["DATA"])
    assert all(i["destination_path"].startswith(f"{COLLECTION_B}/staging/") for i in sent["DATA"])
    rows = sites.outgoing(list(files))
    assert {(r["status"], r["transfer_manager"], r["external_id"]) for r in rows.values()} == {
        ("ONGOING", "globus", task["task_id"])
    }
    (queue_id,) = {r["send_queue_id"] for r in rows.values()}
    queue = sites.queue(queue_id)
    assert (queue["status"], queue["external_id"]) == ("ONGOING", task["task_id"])

    task_answers(
        task["task_id"],
        {"status": "ACTIVE", "nice_status": "Queued"},
        {"status": "INACTIVE", "nice_status": "CREDENTIALS_EXPIRED"},
        {"status": "SUCCEEDED", "nice_status": None},
    )
    assert run(runner, "consume_queue") == {"polled": 1, "confirmed": 0, "failed": 0}
    assert sites.queue(queue_id)["error"] is None
    assert sites.b.cli("info", "globus-ok/f1.dat").returncode == 1  # nothing at B yet

    sites.play_globus(sent)
    assert run(runner, "consume_queue") == {"polled": 1, "confirmed": 0, "failed": 0}
    assert sites.queue(queue_id)["error"] == "INACTIVE: CREDENTIALS_EXPIRED"

    assert run(runner, "consume_queue") == {"polled": 1, "confirmed": 4, "failed": 0}
    assert len(requests_to(f"/v0.10/task/{task['task_id']}")) == 3  # one poll per run

    for name, data in files.items():
        at_b = sites.b.cli("info", name, "--json", user="reader").json()
        assert (at_b["size"], at_b["checksum"], at_b["source"]) == (len(data), md5(data), SITE_A)
        copy = tmp_path / "from-b"
        assert sites.b.cli("download", name, str(copy), user="reader").returncode == 0
        assert copy.read_bytes() == data
        copy.unlink()
        at_a = sites.a.cli("info", name, "--json", user="reader").json()
        assert [r["site"] for r in at_a["remote_instances"]] == [SITE_B]
    rows = sites.outgoing(list(files))
    assert {(r["status"], r["external_id"], r["attempts"]) for r in rows.values()} == {
        ("COMPLETED", task["task_id"], 0)
    }
    queue = sites.queue(queue_id)
    assert (queue["status"], queue["done_count"], queue["failed_count"]) == ("COMPLETED", 4, 0)
    for item in sent["DATA"]:  # committed: moved out of B's staging into its store
        assert not sites.local(item["destination_path"]).exists()


def test_a_failed_task_sends_its_files_back_then_fails_them(
    sites: Sites, make_runner: Callable[..., Runner], globus: None, tmp_path: Path
) -> None:
    files = files_with("globus-failed", [2048])
    (name,) = files
    sites.upload(tmp_path, files)
    task = load_response(TransferClient.submit_transfer).metadata
    task_answers(
        task["task_id"],
        {
            "status": "FAILED",
            "fatal_error": {"code": "PERMISSION_DENIED", "description": "permission denied"},
        },
    )
    RegisteredResponse(
        service="transfer",
        path=f"/v0.10/task/{task['task_id']}/event_list",
        json={"DATA_TYPE": "event_list", "DATA": [], "length": 0, "limit": 10, "offset": 0},
    ).add()

    first = make_runner()
    run(first, "send_clone")
    destination = submitted()["DATA"][0]["destination_path"]
    assert run(first, "consume_queue") == {"polled": 1, "confirmed": 0, "failed": 1}

    row = sites.outgoing([name])[name]
    reason = f"globus task {task['task_id']} failed: PERMISSION_DENIED: permission denied"
    assert (row["status"], row["attempts"], row["error"]) == ("INITIATED", 1, reason)
    assert row["send_queue_id"] is None  # back in the pool
    assert sites.b.cli("info", name).returncode == 1

    # Once more, on a site limited to one attempt: the same staging file at B, then FAILED.
    last = make_runner(env={"LIBRARIAN_SERVER_REPLICATION__MAX_ATTEMPTS": "1"})
    assert last.settings.replication.max_attempts == 1
    time.sleep(0.05)  # the backoff
    assert run(last, "send_clone")["sent"] == 1
    assert submitted()["DATA"][0]["destination_path"] == destination
    assert run(last, "consume_queue") == {"polled": 1, "confirmed": 0, "failed": 1}
    row = sites.outgoing([name])[name]
    assert (row["status"], row["attempts"], row["error"]) == ("FAILED", 2, reason)
    assert run(last, "send_clone")["queued"] == 0  # failed for good: an operator retries it


def test_a_task_past_its_deadline_is_cancelled_and_its_batch_failed(
    sites: Sites, make_runner: Callable[..., Runner], globus: None, tmp_path: Path
) -> None:
    files = files_with("globus-late", [100])
    (name,) = files
    sites.upload(tmp_path, files)
    task = load_response(TransferClient.submit_transfer).metadata
    task_answers(task["task_id"], {"status": "ACTIVE", "nice_status": "OK"})
    # The SDK's cancel_task answer, for this task.
    cancelled = sdk_answer(TransferClient.cancel_task)
    RegisteredResponse(
        service="transfer",
        method="POST",
        path=f"/v0.10/task/{task['task_id']}/cancel",
        json=cancelled.json,
    ).add()
    runner = make_runner(globus={"deadline_hours": 0.0002}, replication={"max_attempts": 1})
    manager = runner.managers.get("globus")
    assert isinstance(manager, GlobusManager)

    run(runner, "send_clone")
    time.sleep(0.8)  # 0.72 s, the deadline
    assert run(runner, "consume_queue") == {"polled": 1, "confirmed": 0, "failed": 1}

    assert len(requests_to(f"/v0.10/task/{task['task_id']}/cancel", "POST")) == 1
    row = sites.outgoing([name])[name]
    assert row["status"] == "FAILED"
    assert row["error"] == f"globus task {task['task_id']} did not finish within {manager.deadline}"


def test_a_busy_globus_postpones_the_batch_without_spending_an_attempt(
    sites: Sites, make_runner: Callable[..., Runner], globus: None, tmp_path: Path
) -> None:
    files = files_with("globus-busy", [10, 20])
    sites.upload(tmp_path, files)
    task = load_response(TransferClient.submit_transfer).metadata
    busy = make_runner(globus={"max_active_tasks": 1})  # the task_list fixture lists one

    assert run(busy, "send_clone")["postponed"] == 2
    assert requests_to("/v0.10/transfer", "POST") == []
    rows = sites.outgoing(list(files))
    assert {(r["status"], r["attempts"], r["send_queue_id"]) for r in rows.values()} == {
        ("INITIATED", 0, None)
    }
    assert all("globus.max_active_tasks" in r["error"] for r in rows.values())

    time.sleep(0.05)  # the backoff
    runner = make_runner()
    assert run(runner, "send_clone")["sent"] == 2
    sites.play_globus(submitted())
    task_answers(task["task_id"], {"status": "SUCCEEDED"})
    assert run(runner, "consume_queue") == {"polled": 1, "confirmed": 2, "failed": 0}
    rows = sites.outgoing(list(files))
    assert {(r["status"], r["attempts"]) for r in rows.values()} == {("COMPLETED", 0)}


def test_an_unreachable_globus_is_polled_again_later(
    sites: Sites, make_runner: Callable[..., Runner], globus: None, tmp_path: Path
) -> None:
    files = files_with("globus-offline", [300])
    (name,) = files
    sites.upload(tmp_path, files)
    task = load_response(TransferClient.submit_transfer).metadata
    runner = make_runner(replication={"claim_seconds": 0.5})
    manager = runner.managers.get("globus")
    assert isinstance(manager, GlobusManager)
    manager.client().retry_config.max_retries = 0  # no sleeping between retries here

    run(runner, "send_clone")
    sites.play_globus(submitted())
    failed = runner.run_task("consume_queue")  # get_task is not answered: a network error
    assert not failed.ok and "ConnectionError" in (failed.error or "")
    assert sites.outgoing([name])[name]["status"] == "ONGOING"  # no verdict, nothing lost

    task_answers(task["task_id"], {"status": "SUCCEEDED"})
    time.sleep(0.6)  # the failed poll's claim lapses
    assert run(runner, "consume_queue") == {"polled": 1, "confirmed": 1, "failed": 0}
    assert sites.outgoing([name])[name]["status"] == "COMPLETED"


def test_a_batch_orphaned_after_submission_is_resubmitted_as_the_same_task(
    sites: Sites, make_runner: Callable[..., Runner], globus: None, tmp_path: Path
) -> None:
    files = files_with("globus-orphan", [700])
    (name,) = files
    sites.upload(tmp_path, files)
    task = load_response(TransferClient.submit_transfer).metadata
    runner = make_runner()
    run(runner, "send_clone")
    first = submitted()
    queue_id = sites.outgoing([name])[name]["send_queue_id"]
    # The worker stopped after Globus took the task, before it recorded the task id.
    with runner.factory.begin() as session:
        session.execute(
            update(SendQueue)
            .where(SendQueue.id == queue_id)
            .values(external_id=None, claimed_until=utcnow() - timedelta(seconds=1))
        )

    assert run(runner, "hypervisor")["orphaned_batches"] == 1
    posts = requests_to("/v0.10/transfer", "POST")
    assert len(posts) == 2
    assert json.loads(posts[-1].body)["submission_id"] == first["submission_id"]  # same request
    queue = sites.queue(queue_id)
    assert (queue["status"], queue["external_id"]) == ("ONGOING", task["task_id"])

    sites.play_globus(submitted())
    task_answers(task["task_id"], {"status": "SUCCEEDED"})
    assert run(runner, "consume_queue") == {"polled": 1, "confirmed": 1, "failed": 0}
    assert sites.outgoing([name])[name]["status"] == "COMPLETED"
