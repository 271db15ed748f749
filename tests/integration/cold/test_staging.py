"""Staging jobs against a live tape simulator, on SQLite and PostgreSQL."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from librarian_client.models import StagedFileState, StagingJobState
from librarian_server.orm import Instance, OutboxMessage, StagedCopy, StagingJobFile
from librarian_server.services.core import outbox
from librarian_server.services.core.credentials import CredentialBox
from librarian_server.transfer.notify import verify_signature
from tests.integration.cold.conftest import Receiver, Tape, run_round, to_tape, until
from tests.integration.conftest import Site
from tests.integration.helpers import upload

Cold = tuple[Site, Tape]


def _fill(site: Site, count: int, prefix: str = "obs/night1") -> dict[str, bytes]:
    files = {f"{prefix}/f{i:04d}.fits": f"frame {i} ".encode() * (i + 1) for i in range(count)}
    for name, data in files.items():
        upload(site.http, site.auth(), name, data)
    released = to_tape(site)
    assert released.get("released") == count, released
    return files


def _online_bytes(site: Site) -> int:
    stores = site.http.get("/api/v2/stores", auth=site.auth("admin")).json()
    (cold,) = [s for s in stores if s["kind"] == "cold"]
    return int(cold["online_bytes"])


def _job(site: Site, job_id: str, user: str = "writer", **params: Any) -> dict[str, Any]:
    r = site.http.get(f"/api/v2/staging/{job_id}", auth=site.auth(user), params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _settle(site: Site, job_id: str, user: str = "writer") -> dict[str, Any]:
    done: dict[str, Any] = until(
        lambda: (j := _job(site, job_id, user))["state"] != "pending" and j,
        then=lambda: run_round(site),
        what=f"job {job_id} to end",
    )
    return done


def _deliver(site: Site) -> dict[str, int]:
    return outbox.deliver(
        site.factory,
        CredentialBox.for_settings(site.settings),
        site.settings.cold,
        limit=100,
        out_of_time=lambda: False,
    )


def test_a_file_only_on_tape_is_staged_by_its_download_then_served(cold_site: Cold) -> None:
    site, tape = cold_site
    files = _fill(site, 3)
    name = next(iter(files))

    def on_disk() -> list[Path]:
        return [p for p in (tape.root / "librarian/files").rglob("*") if p.is_file()]

    assert on_disk() == [], "released: only on tape"
    assert _online_bytes(site) == 0
    first = site.http.get(f"/api/v2/download/{name}", auth=site.auth("reader"))
    assert first.status_code == 409, first.text
    assert first.json()["code"] == "file_offline"
    job_id = first.headers["x-librarian-staging-job"]
    assert first.headers["retry-after"].isdigit()
    assert f"job {job_id}" in first.json()["reason"]
    again = site.http.get(f"/api/v2/download/{name}", auth=site.auth("reader"))
    assert again.headers["x-librarian-staging-job"] == job_id  # joined, not a second job
    done = _settle(site, job_id, "reader")
    assert done["state"] == "complete" and done["counts"] == {
        "total": 1,
        "ready": 1,
        "pending": 0,
        "error": 0,
    }
    served = site.http.get(f"/api/v2/download/{name}", auth=site.auth("reader"))
    assert served.status_code == 200 and served.content == files[name]
    assert [p.name.endswith("-f0000.fits") for p in on_disk()] == [True]
    assert _online_bytes(site) == len(files[name])
    # The other files stayed on tape.
    other = sorted(files)[-1]
    assert site.http.get(f"/api/v2/download/{other}", auth=site.auth()).status_code == 409


def test_a_prefix_job_completes_with_per_file_ready_times_and_pages(cold_site: Cold) -> None:
    site, tape = cold_site
    files = _fill(site, 12)
    r = site.http.post("/api/v2/staging", json={"prefix": "obs/night1/"}, auth=site.auth())
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["state"] == "pending" and job["counts"]["total"] == 12
    assert job["notify_secret"] is None  # no notify_url, nothing to sign
    done = _settle(site, job["id"])
    assert done["counts"]["ready"] == 12
    page = _job(site, job["id"], limit=5)
    assert [f["name"] for f in page["files"]] == sorted(files)[:5]
    assert all(f["state"] == "ready" and f["ready_time"] for f in page["files"])
    rest = _job(site, job["id"], limit=100, after=page["next_after"])
    assert len(rest["files"]) == 7 and rest["next_after"] is None
    for name, data in files.items():
        got = site.http.get(f"/api/v2/download/{name}", auth=site.auth())
        assert got.status_code == 200 and got.content == data
    assert tape.stats()["staged"] == 12


@pytest.mark.parametrize("tape_options", [{"workers": 1, "stage_delay": 60}])
def test_files_wanted_by_two_jobs_complete_both_and_cancel_spares_shared_ones(
    cold_site: Cold,
) -> None:
    site, tape = cold_site
    files = sorted(_fill(site, 3))
    a, b, c = files
    one = site.http.post("/api/v2/staging", json={"names": [b, c]}, auth=site.auth()).json()
    two = site.http.post("/api/v2/staging", json={"names": [a, b]}, auth=site.auth()).json()
    run_round(site)  # asks for a, b, c: one worker stages a slowly, b and c wait in its queue
    with site.session() as session:
        assert session.scalar(select(func.count()).select_from(StagedCopy)) == 3
    cancelled = site.http.delete(f"/api/v2/staging/{one['id']}", auth=site.auth())
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    with site.session() as session:
        left = set(session.scalars(select(StagedCopy.file_name)))
    assert left == {a, b}, "only the file no other job wants is withdrawn"
    paths = [f"{tape.root}/librarian/files/{p}" for p in _store_paths(site, [a, b, c])]
    with closing(tape.client()) as client:
        found = client.status(paths)
    staging = [found[p].staging for p in paths]
    assert staging == [True, True, False], "the tape system was asked to cancel c only"
    tape.configure(stage_delay=0)
    done = _settle(site, two["id"])
    assert done["state"] == "complete" and done["counts"]["ready"] == 2
    assert _job(site, one["id"])["state"] == "cancelled"
    staged = tape.stats()["per_path"]
    assert sorted(staged.values()) == [1, 1] and not any(k.endswith("f0002.fits") for k in staged)


def _store_paths(site: Site, names: list[str]) -> list[str]:
    with site.session() as session:
        by_name = {
            name: path
            for name, path in session.execute(
                select(Instance.file_name, Instance.path).where(Instance.file_name.in_(names))
            )
        }
    return [by_name[n] for n in names]


def test_lost_stage_requests_are_asked_again_and_staged_once(cold_site: Cold) -> None:
    site, tape = cold_site
    files = _fill(site, 4)
    tape.configure(loss=1.0)
    job = site.http.post("/api/v2/staging", json={"glob": "obs/*/f000?.fits"}, auth=site.auth())
    job_id = job.json()["id"]
    run_round(site)
    assert tape.stats()["dropped"] == 4
    tape.configure(loss=0.0)
    done = _settle(site, job_id)
    assert done["state"] == "complete"
    with site.session() as session:
        asked = list(session.scalars(select(StagingJobFile.state)))
    assert asked == [StagedFileState.READY] * 4
    per_path = tape.stats()["per_path"]
    assert sorted(per_path.values()) == [1, 1, 1, 1], per_path
    assert len(files) == 4


def test_an_expired_job_fails_and_says_so_in_one_signed_notification(
    cold_site: Cold, receiver: Receiver
) -> None:
    site, tape = cold_site
    files = sorted(_fill(site, 2))
    tape.configure(stage_delay=60)
    r = site.http.post(
        "/api/v2/staging",
        json={"names": files, "notify_url": receiver.url, "expires_in_seconds": 0.3},
        auth=site.auth(),
    )
    job = r.json()
    secret = job["notify_secret"]
    assert secret and len(secret) == 64
    until(lambda: _job(site, job["id"])["state"] == "failed", then=lambda: run_round(site))
    failed = _job(site, job["id"], limit=10)
    assert "expired" in failed["reason"]
    assert {f["state"] for f in failed["files"]} == {"error"}
    assert _deliver(site)["delivered"] == 1
    assert _deliver(site)["delivered"] == 0  # once per outcome
    run_round(site)
    assert _deliver(site)["delivered"] == 0
    ((headers, body),) = receiver.received
    assert verify_signature(secret, body, headers["x-librarian-signature"])
    assert not verify_signature("0" * 64, body, headers["x-librarian-signature"])
    note = receiver.bodies()[0]
    assert note["job"] == job["id"] and note["state"] == "failed"
    assert note["counts"]["error"] == 2 and len(note["errors"]) == 2
    assert headers["x-librarian-delivery"].startswith("staging-")


def test_a_receiver_down_for_a_while_gets_its_notification_once(cold_site: Cold) -> None:
    site, _ = cold_site
    files = _fill(site, 1)
    receiver = Receiver().start()
    port = receiver.port
    receiver.stop()  # down: nothing listens on its port
    r = site.http.post(
        "/api/v2/staging",
        json={"names": list(files), "notify_url": f"http://127.0.0.1:{port}/hook"},
        auth=site.auth(),
    )
    job_id = r.json()["id"]
    assert _settle(site, job_id)["state"] == "complete"
    assert _deliver(site) == {"delivered": 0, "failed": 1, "abandoned": 0}
    until(lambda: _deliver(site)["failed"], what="a second failed attempt")
    with site.session() as session:
        row = session.scalars(select(OutboxMessage)).one()
        assert (
            row.attempts >= 2 and row.delivered_time is None and "Connect" in (row.last_error or "")
        )
    back = Receiver().start(port)
    try:
        until(lambda: _deliver(site)["delivered"], what="delivery once the receiver is up")
        assert _deliver(site)["delivered"] == 0
        assert len(back.received) == 1 and back.bodies()[0]["state"] == "complete"
    finally:
        back.stop()


def test_staging_requests_are_checked(cold_site: Cold) -> None:
    site, _ = cold_site
    _fill(site, 1)
    post = site.http.post
    assert post("/api/v2/staging", json={"prefix": "obs/"}).status_code == 401
    none = post("/api/v2/staging", json={}, auth=site.auth())
    assert none.status_code == 400 and none.json()["code"] == "validation_error"
    assert "exactly one of" in none.json()["reason"]
    both = post("/api/v2/staging", json={"prefix": "a", "glob": "b*"}, auth=site.auth())
    assert both.status_code == 400
    missing = post("/api/v2/staging", json={"names": ["no/such"]}, auth=site.auth())
    assert missing.status_code == 404 and "no/such" in missing.json()["reason"]
    bad_url = post(
        "/api/v2/staging", json={"prefix": "obs/", "notify_url": "file:///etc"}, auth=site.auth()
    )
    assert bad_url.status_code == 400
    mine = post("/api/v2/staging", json={"prefix": "obs/"}, auth=site.auth("writer")).json()
    other = site.http.get(f"/api/v2/staging/{mine['id']}", auth=site.auth("reader"))
    assert other.status_code == 403
    assert (
        site.http.delete(f"/api/v2/staging/{mine['id']}", auth=site.auth("reader")).status_code
        == 403
    )
    assert _job(site, mine["id"], user="admin")["owner"] == "writer"
    listed = site.http.get("/api/v2/staging", auth=site.auth("reader")).json()["jobs"]
    assert listed == []
    assert site.http.get("/api/v2/staging/nothex", auth=site.auth()).status_code == 400


def test_a_file_on_disk_elsewhere_is_ready_at_once(cold_site: Cold) -> None:
    site, _ = cold_site
    files = _fill(site, 1)
    (name,) = files
    job = site.http.post("/api/v2/staging", json={"names": [name]}, auth=site.auth()).json()
    done = _settle(site, job["id"])
    # Staged and pinned: a second job finds it on the disk cache and is complete at once.
    again = site.http.post("/api/v2/staging", json={"names": [name]}, auth=site.auth()).json()
    assert again["state"] == StagingJobState.COMPLETE and again["counts"]["ready"] == 1
    assert done["state"] == "complete"
