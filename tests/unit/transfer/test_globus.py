"""The Globus transfer manager against globus-sdk's own testing fixtures, offline.

Every HTTP call the SDK makes is answered by ``globus_sdk.testing`` (built-in
fixtures, or ``RegisteredResponse`` where the SDK has none, as for ``get_task``);
one that matches nothing raises a connection error, so nothing reaches the network.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import responses
from globus_sdk import ConfidentialAppAuthClient, TransferClient
from globus_sdk.testing import (
    RegisteredResponse,
    get_last_request,
    load_response,
)
from pydantic import SecretStr
from requests import PreparedRequest

from librarian_client.models import CloneOutcome, CloneStagedItem, CloneStageResponse, GlobusOffer
from librarian_server.settings import GlobusSettings, GlobusStoreMapping, load_settings
from librarian_server.transfer import (
    AsyncStatus,
    Batch,
    BatchOutcome,
    ManagerRegistry,
    SendItem,
    TaskState,
    TransferBusy,
    TransferError,
)
from librarian_server.transfer.globus import GlobusManager
from librarian_server.transfer.peer_client import PeerClient
from tests.globus_fixtures import body, query, sdk_task

OURS = "5d3c1a0e-0000-4000-8000-00000000000a"
THEIRS = "5d3c1a0e-0000-4000-8000-00000000000b"
SECRET = "s3cret-client-secret"
REFRESH = "r3fresh-token-value"
STORE_ROOT = Path("/data/fast")
TASK_PATH = "/v0.10/task/{}"


@pytest.fixture(autouse=True)
def globus_http() -> Iterator[None]:
    """All of requests' traffic goes to the registered fixtures, reset after each test."""
    responses.start()
    yield
    responses.stop()
    responses.reset()


def settings(**changes: Any) -> GlobusSettings:
    values: dict[str, Any] = {
        "enabled": True,
        "endpoint_id": OURS,
        "client_id": "librarian-site-a",
        "client_secret": SecretStr(SECRET),
        "stores": [GlobusStoreMapping(store="fast", path="/~/librarian/fast/")],
    }
    values.update(changes)
    return GlobusSettings(**values)


def item(transfer_id: int, relative: str, checksum: str, *, store: str = "fast") -> SendItem:
    return SendItem(
        transfer_id=transfer_id,
        name=f"obs/{Path(relative).name}",
        size=10,
        checksum=checksum,
        source_path=STORE_ROOT / relative,
        store_name=store,
        store_root=STORE_ROOT,
        staged=CloneStagedItem(
            source_transfer_id=transfer_id,
            outcome=CloneOutcome.STAGED,
            transfer_id=1000 + transfer_id,
            put_path=f"/api/v2/clone/{1000 + transfer_id}",
            globus_path=f"/project/b/staging/t{transfer_id}",
        ),
    )


def offer(items: list[SendItem], *, globus: bool = True) -> CloneStageResponse:
    return CloneStageResponse(
        site="site-b",
        files=[i.staged for i in items],
        managers=["globus", "http"],
        globus=GlobusOffer(endpoint_id=THEIRS) if globus else None,
    )


def refuse_peer_calls(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"the Globus manager called the peer: {request.url}")


def batch(items: list[SendItem], submission_id: str | None = "sub-0001") -> Batch:
    peer = PeerClient(
        "site-b", "http://peer.invalid", "site-a", "pw", timeout=5,
        transport=httpx.MockTransport(refuse_peer_calls),
    )  # fmt: skip
    return Batch(peer, offer(items), items, "librarian site-a->site-b", submission_id=submission_id)


def task_doc(task_id: str, status: str, **fields: Any) -> dict[str, Any]:
    """A task document shaped like the SDK's own task_list fixture, with our changes."""
    base = sdk_task()
    return {**base, "task_id": task_id, "status": status, **fields}


def poll_answers(task_id: str, *docs: dict[str, Any]) -> None:
    """get_task answers, in order (the SDK has no get_task fixture)."""
    for doc in docs:
        RegisteredResponse(service="transfer", path=TASK_PATH.format(task_id), json=doc).add()


def logged_in() -> None:
    load_response(ConfidentialAppAuthClient.oauth2_client_credentials_tokens)


def no_retries(manager: GlobusManager) -> None:
    """The SDK retries network errors with growing sleeps; one try is enough here."""
    manager.client().retry_config.max_retries = 0


def requests_to(path: str) -> list[PreparedRequest]:
    return [c.request for c in responses.calls if urlsplit(c.request.url).path == path]


# -- logging in ------------------------------------------------------------------------------


def test_client_credentials_log_in_on_first_use_only() -> None:
    tokens = load_response(ConfidentialAppAuthClient.oauth2_client_credentials_tokens)
    submission = load_response(TransferClient.get_submission_id)
    manager = GlobusManager(settings())
    assert manager.receivable()
    assert len(responses.calls) == 0  # building the manager contacts nobody

    assert manager.new_submission_id() == submission.metadata["submission_id"]

    login, asked = (c.request for c in responses.calls)
    assert login.url == "https://auth.globus.org/v2/oauth2/token"
    assert parse_qs(body(login)) == {
        "grant_type": ["client_credentials"],
        "scope": ["urn:globus:auth:scope:transfer.api.globus.org:all"],
    }
    expected = base64.b64encode(f"librarian-site-a:{SECRET}".encode()).decode()
    assert login.headers["Authorization"] == f"Basic {expected}"
    assert asked.url == "https://transfer.api.globus.org/v0.10/submission_id"
    assert asked.headers["Authorization"] == f"Bearer {tokens.metadata['access_token']}"
    manager.new_submission_id()
    assert len(requests_to("/v2/oauth2/token")) == 1  # the token is kept until it expires


def test_refresh_token_logs_in_as_the_user_who_granted_it() -> None:
    tokens = load_response(ConfidentialAppAuthClient.oauth2_client_credentials_tokens)
    load_response(TransferClient.get_submission_id)
    manager = GlobusManager(settings(client_secret=None, refresh_token=SecretStr(REFRESH)))

    manager.new_submission_id()

    login = requests_to("/v2/oauth2/token")[0]
    assert parse_qs(body(login)) == {
        "grant_type": ["refresh_token"],
        "refresh_token": [REFRESH],
        "client_id": ["librarian-site-a"],  # a native app: no secret
    }
    assert "Authorization" not in login.headers
    asked = get_last_request()
    assert asked is not None
    assert asked.headers["Authorization"] == f"Bearer {tokens.metadata['access_token']}"


def test_refused_login_says_so_and_leaks_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    RegisteredResponse(
        service="auth",
        path="/v2/oauth2/token",
        method="POST",
        status=401,
        json={"error": "invalid_client"},
    ).add()
    manager = GlobusManager(settings())
    with caplog.at_level(logging.DEBUG), pytest.raises(TransferError) as raised:
        manager.new_submission_id()
    assert "HTTP 401" in str(raised.value)
    assert SECRET not in str(raised.value) and SECRET not in caplog.text
    assert SECRET not in repr(settings())


# -- choosing Globus for a batch ---------------------------------------------------------------


def test_offered_only_when_configured_with_a_mapped_store() -> None:
    assert GlobusManager(settings()).receivable()
    assert not GlobusManager(settings(stores=[])).receivable()
    assert not GlobusManager(settings(enabled=False)).receivable()


def test_valid_needs_an_offer_a_destination_path_and_a_mapped_source_store() -> None:
    manager = GlobusManager(settings())
    good = [item(1, "files/a1/x.dat", "md5:" + "0" * 32)]
    assert manager.valid(offer(good), good)
    assert not manager.valid(offer(good, globus=False), good)

    unmapped = [*good, item(2, "files/b2/y.dat", "md5:" + "1" * 32, store="cold")]
    assert not manager.valid(offer(unmapped), unmapped)

    no_path = item(3, "files/c3/z.dat", "md5:" + "2" * 32)
    no_path = SendItem(
        **{**no_path.__dict__, "staged": no_path.staged.model_copy(update={"globus_path": None})}
    )
    assert not manager.valid(offer([no_path]), [no_path])

    outside = SendItem(**{**good[0].__dict__, "source_path": Path("/elsewhere/x.dat")})
    assert not manager.valid(offer([outside]), [outside])
    assert len(responses.calls) == 0  # choosing costs no call to Globus


def test_registry_builds_it_from_settings_and_prefers_it(tmp_path: Path) -> None:
    site = load_settings(
        data_dir=tmp_path,
        globus=settings().model_dump(),
        replication={"transfer_managers": ["globus", "http"]},
    )
    registry = ManagerRegistry.from_settings(site)
    assert isinstance(registry.get("globus"), GlobusManager)
    assert registry.receivable() == ["globus", "http"]
    items = [item(1, "files/a1/x.dat", "md5:" + "0" * 32)]
    chosen = registry.choose(["globus", "http"], offer(items), items)
    assert chosen is registry.get("globus")
    assert registry.choose(["http"], offer(items), items) is registry.get("http")


# -- submitting ------------------------------------------------------------------------------------


def test_one_task_per_batch_with_the_catalogue_checksums() -> None:
    logged_in()
    load_response(TransferClient.task_list)
    submitted = load_response(TransferClient.submit_transfer)
    manager = GlobusManager(settings())
    digest = "0123456789abcdef0123456789abcdef"
    items = [
        item(7, "files/a1/deadbeef-x.dat", f"md5:{digest}"),
        item(8, "files/b2/cafe-y.dat", "sha256:" + "ab" * 32),
    ]
    before = datetime.now(UTC)

    outcome = manager.transfer_many(batch(items, submission_id="sub-0001"))

    assert outcome == BatchOutcome(external_id=submitted.metadata["task_id"])
    listed = requests_to("/v0.10/task_list")
    assert len(listed) == 1
    assert query(listed[0]) == {
        "filter": ["status:ACTIVE,INACTIVE"],
        "limit": ["50"],
    }
    sent = json.loads(body(get_last_request()))
    assert len(requests_to("/v0.10/transfer")) == 1
    assert sent["DATA_TYPE"] == "transfer"
    assert (sent["source_endpoint"], sent["destination_endpoint"]) == (OURS, THEIRS)
    assert sent["submission_id"] == "sub-0001"
    assert sent["verify_checksum"] is True and sent["fail_on_quota_errors"] is True
    assert "sync_level" not in sent  # fresh staging files: always copy
    assert sent["label"] == "librarian site-a to site-b, 2 files"
    deadline = datetime.fromisoformat(sent["deadline"])
    assert before + timedelta(hours=24) - timedelta(seconds=1) <= deadline
    assert deadline <= datetime.now(UTC) + timedelta(hours=24)
    assert [
        (
            d["source_path"],
            d["destination_path"],
            d.get("checksum_algorithm"),
            d.get("external_checksum"),
        )
        for d in sent["DATA"]
    ] == [
        ("/~/librarian/fast/files/a1/deadbeef-x.dat", "/project/b/staging/t7", "MD5", digest),
        ("/~/librarian/fast/files/b2/cafe-y.dat", "/project/b/staging/t8", None, None),
    ]


def test_settings_shape_the_task() -> None:
    logged_in()
    load_response(TransferClient.task_list)
    load_response(TransferClient.submit_transfer)
    fetched = load_response(TransferClient.get_submission_id)
    manager = GlobusManager(settings(verify_checksum=False, deadline_hours=2.5, max_active_tasks=7))
    assert manager.deadline == timedelta(hours=2, minutes=30)

    manager.transfer_many(batch([item(1, "files/a1/x.dat", "md5:" + "0" * 32)], submission_id=None))

    assert query(requests_to("/v0.10/task_list")[0])["limit"] == ["7"]
    sent = json.loads(body(get_last_request()))
    assert sent["verify_checksum"] is False
    # None stored (a sender that skipped new_submission_id): the SDK fetches one itself.
    assert sent["submission_id"] == fetched.metadata["submission_id"]
    lead = datetime.fromisoformat(sent["deadline"]) - datetime.now(UTC)
    assert timedelta(hours=2, minutes=29) < lead <= timedelta(hours=2, minutes=30)


def test_at_the_active_task_limit_nothing_is_submitted() -> None:
    logged_in()
    listed = load_response(TransferClient.task_list)  # one unfinished task
    assert len(listed.metadata["tasks"]) == 1
    load_response(TransferClient.submit_transfer)
    manager = GlobusManager(settings(max_active_tasks=1))

    with pytest.raises(TransferBusy, match=r"1 Globus tasks .*max_active_tasks"):
        manager.transfer_many(batch([item(1, "files/a1/x.dat", "md5:" + "0" * 32)]))

    assert requests_to("/v0.10/transfer") == []


def test_a_refused_submission_fails_the_batch_with_globus_reason() -> None:
    logged_in()
    load_response(TransferClient.task_list)
    load_response(TransferClient.submit_transfer, case="failure")
    manager = GlobusManager(settings())

    with pytest.raises(TransferError) as raised:
        manager.transfer_many(batch([item(1, "files/a1/x.dat", "md5:" + "0" * 32)]))

    assert not isinstance(raised.value, TransferBusy)
    assert str(raised.value) == (
        "Globus did not take the transfer: HTTP 400 ClientError.BadRequest.NoTransferItems: "
        "A transfer requires at least one item"
    )


def test_an_unreachable_globus_fails_the_batch() -> None:
    logged_in()
    load_response(TransferClient.task_list)  # and no answer for the submission
    manager = GlobusManager(settings())
    no_retries(manager)

    with pytest.raises(
        TransferError, match="Globus did not take the transfer: GlobusConnectionError"
    ):
        manager.transfer_many(batch([item(1, "files/a1/x.dat", "md5:" + "0" * 32)]))

    assert len(requests_to("/v0.10/transfer")) == 1


def test_a_lost_answer_is_resent_with_the_same_submission_id() -> None:
    """The SDK retries a 5xx with the same body: Globus sees one submission, one task."""
    logged_in()
    load_response(TransferClient.task_list)
    RegisteredResponse(
        service="transfer", method="POST", path="/v0.10/transfer", status=502, body="bad gateway"
    ).add()
    submitted = load_response(TransferClient.submit_transfer)
    manager = GlobusManager(settings())
    manager.client().retry_config.backoff = lambda ctx: 0.0

    outcome = manager.transfer_many(batch([item(1, "files/a1/x.dat", "md5:" + "0" * 32)]))

    assert outcome.external_id == submitted.metadata["task_id"]
    sent = [json.loads(body(r))["submission_id"] for r in requests_to("/v0.10/transfer")]
    assert sent == ["sub-0001", "sub-0001"]


# -- polling and cancelling ----------------------------------------------------------------


def test_a_task_is_followed_through_active_inactive_and_succeeded() -> None:
    logged_in()
    task_id = load_response(TransferClient.submit_transfer).metadata["task_id"]
    poll_answers(
        task_id,
        task_doc(task_id, "ACTIVE", nice_status="Queued", nice_status_short_description="Queued"),
        task_doc(task_id, "ACTIVE", nice_status="OK"),
        task_doc(
            task_id,
            "ACTIVE",
            nice_status="CONNECTION_FAILED",
            nice_status_short_description="Connection to the destination failed, retrying",
        ),
        task_doc(
            task_id,
            "INACTIVE",
            nice_status="CREDENTIALS_EXPIRED",
            nice_status_short_description="credentials expired",
        ),
        task_doc(task_id, "SUCCEEDED", nice_status=None),
    )
    manager = GlobusManager(settings())

    states = [manager.status(task_id) for _ in range(5)]

    assert states == [
        AsyncStatus(TaskState.ACTIVE),
        AsyncStatus(TaskState.ACTIVE),
        AsyncStatus(
            TaskState.ACTIVE,
            "ACTIVE: CONNECTION_FAILED: Connection to the destination failed, retrying",
        ),
        AsyncStatus(TaskState.ACTIVE, "INACTIVE: CREDENTIALS_EXPIRED: credentials expired"),
        AsyncStatus(TaskState.SUCCEEDED),
    ]
    polled = requests_to(TASK_PATH.format(task_id))
    assert [r.method for r in polled] == ["GET"] * 5


def test_a_failed_task_reports_its_fatal_error_and_last_fault() -> None:
    logged_in()
    task_id = "0a0b0c0d-1111-4222-8333-444455556666"
    poll_answers(
        task_id,
        task_doc(
            task_id,
            "FAILED",
            fatal_error={"code": "PERMISSION_DENIED", "description": "permission denied"},
        ),
    )
    RegisteredResponse(
        service="transfer",
        path=f"/v0.10/task/{task_id}/event_list",
        json={
            "DATA_TYPE": "event_list",
            "DATA": [
                {
                    "DATA_TYPE": "event",
                    "code": "PERMISSION_DENIED",
                    "description": "permission denied",
                    "details": "Error (transfer)\nPath: /project/b/staging/t7",
                    "is_error": True,
                    "time": "2026-11-24T06:00:00+00:00",
                },
                {
                    "DATA_TYPE": "event",
                    "code": "STARTED",
                    "description": "started",
                    "details": "",
                    "is_error": False,
                    "time": "2026-11-24T05:59:00+00:00",
                },
            ],
            "length": 2,
            "limit": 10,
            "offset": 0,
            "total": 2,
        },
    ).add()
    manager = GlobusManager(settings())

    assert manager.status(task_id) == AsyncStatus(
        TaskState.FAILED,
        "PERMISSION_DENIED: permission denied; last error: PERMISSION_DENIED: "
        "Error (transfer)\nPath: /project/b/staging/t7",
    )


def test_a_failed_task_without_events_still_says_why() -> None:
    logged_in()
    task_id = "0a0b0c0d-1111-4222-8333-444455556667"
    poll_answers(
        task_id,
        task_doc(
            task_id,
            "FAILED",
            nice_status="DEADLINE_EXPIRED",
            nice_status_short_description="the task deadline passed",
        ),
    )
    manager = GlobusManager(settings())
    no_retries(manager)  # the event list is not answered: a network error, ignored

    assert manager.status(task_id) == AsyncStatus(
        TaskState.FAILED, "DEADLINE_EXPIRED: the task deadline passed"
    )


def test_a_task_globus_does_not_know_has_failed() -> None:
    logged_in()
    task_id = "0a0b0c0d-1111-4222-8333-444455556668"
    RegisteredResponse(
        service="transfer",
        path=TASK_PATH.format(task_id),
        status=404,
        json={
            "code": "ClientError.NotFound",
            "message": f"Task {task_id} not found",
            "request_id": "abc123",
            "resource": f"/task/{task_id}",
        },
    ).add()
    status = GlobusManager(settings()).status(task_id)
    assert status.state is TaskState.FAILED
    assert status.detail == (
        f"Globus has no such task (HTTP 404 ClientError.NotFound: Task {task_id} not found)"
    )


def test_polling_raises_when_globus_cannot_be_reached() -> None:
    logged_in()
    manager = GlobusManager(settings())
    no_retries(manager)
    with pytest.raises(Exception, match="ConnectionError") as raised:
        manager.status("0a0b0c0d-1111-4222-8333-444455556669")
    assert not isinstance(raised.value, TransferError)  # not a verdict: poll again later


def test_cancel_asks_globus_and_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    logged_in()
    cancelled = load_response(TransferClient.cancel_task)
    manager = GlobusManager(settings())

    manager.cancel(cancelled.metadata["task_id"])
    asked = get_last_request()
    assert asked is not None and asked.method == "POST"
    assert urlsplit(asked.url).path == f"/v0.10/task/{cancelled.metadata['task_id']}/cancel"

    no_retries(manager)
    with caplog.at_level(logging.WARNING):
        manager.cancel("0a0b0c0d-1111-4222-8333-44445555666a")  # unanswered: logged only
    assert "0a0b0c0d-1111-4222-8333-44445555666a could not be cancelled" in caplog.text
