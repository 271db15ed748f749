"""The client chooses its exception by the server's error code, then by the status."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

import httpx
import pytest

from librarian_client import LibrarianClient
from librarian_client.exceptions import (
    AlreadyExists,
    BadRequest,
    Conflict,
    InsufficientStorage,
    LibrarianHTTPError,
    PeerError,
    ProtocolError,
    ServerError,
    TransferRunning,
)
from librarian_client.models import ErrorCode

URL = "http://librarian.test"


def client_for(handler: Callable[[httpx.Request], httpx.Response]) -> LibrarianClient:
    return LibrarianClient(URL, transport=httpx.MockTransport(handler))


def answer(status: int, code: str | None, reason: str = "Refused.") -> httpx.Response:
    body = {"reason": reason, "suggested_remedy": "Do this.", "error": "X"}
    if code is not None:
        body["code"] = code
    return httpx.Response(status, json=body)


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (409, "transfer_running", TransferRunning),
        (409, "file_exists", AlreadyExists),
        (409, "conflict", Conflict),
        (409, "name_conflict", Conflict),
        (502, "peer_error", PeerError),
        (502, None, ServerError),  # a proxy's 502 is not a peer's
        (409, None, AlreadyExists),  # an older server: the status decides, as it did
        (409, "some_new_code", AlreadyExists),  # a newer server's code: the status decides
        (400, "some_new_code", BadRequest),
        (418, "some_new_code", LibrarianHTTPError),
    ],
)
def test_the_code_decides_then_the_status(status: int, code: str | None, cls: type) -> None:
    with pytest.raises(LibrarianHTTPError) as info:
        client_for(lambda request: answer(status, code)).info("a/b")

    exc = info.value
    assert type(exc) is cls
    assert exc.status_code == status
    assert exc.code == code
    if code in ErrorCode.__members__.values():
        assert isinstance(exc.code, ErrorCode)
    assert exc.reason == "Refused." and exc.suggested_remedy == "Do this."


def test_a_transfer_running_is_not_a_file_that_exists() -> None:
    with pytest.raises(Conflict) as info:
        client_for(lambda request: answer(409, "transfer_running")).ping()

    assert not isinstance(info.value, AlreadyExists)
    assert "immutable" not in str(info.value)


def test_peer_error_is_still_a_server_error() -> None:
    with pytest.raises(ServerError) as info:
        client_for(lambda request: answer(502, "peer_error", "ucsd is unreachable.")).ping()

    assert isinstance(info.value, PeerError) and info.value.code is ErrorCode.PEER_ERROR


def _stream(*events: Mapping[str, object]) -> Callable[[httpx.Request], httpx.Response]:
    text = "".join(json.dumps(e) + "\n" for e in events)
    return lambda request: httpx.Response(200, text=text)


def test_a_streamed_error_raises_the_exception_of_its_status_and_code() -> None:
    failed = {
        "event": "error",
        "status": 507,
        "code": "insufficient_storage",
        "reason": "No store has room for this upload.",
        "suggested_remedy": "Free space.",
    }
    client = client_for(_stream({"event": "start", "total_files": 1, "total_bytes": 1}, failed))

    with pytest.raises(InsufficientStorage) as info:
        list(client.sneakernet_ingest("/mnt/disk"))

    exc = info.value
    assert (exc.status_code, exc.code) == (507, ErrorCode.INSUFFICIENT_STORAGE)
    assert str(exc) == "No store has room for this upload. (Free space.)"


def test_a_streamed_error_with_an_unknown_code_goes_by_its_status() -> None:
    failed = {
        "event": "error",
        "status": 409,
        "code": "disk_haunted",
        "reason": "The disk is haunted.",
        "suggested_remedy": "Call someone.",
    }
    with pytest.raises(AlreadyExists) as info:
        list(client_for(_stream(failed)).sneakernet_export("ucsd", "/mnt/disk"))

    assert info.value.code == "disk_haunted" and info.value.reason == "The disk is haunted."


def test_a_streamed_error_of_an_older_server_is_a_server_error() -> None:
    failed = {"event": "error", "reason": "it broke"}
    with pytest.raises(ServerError) as info:
        list(client_for(_stream(failed)).sneakernet_export("ucsd", "/mnt/disk"))

    assert (info.value.status_code, info.value.code, info.value.reason) == (500, None, "it broke")


def test_a_malformed_stream_line_is_still_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        list(client_for(_stream({"event": "error", "status": "x"})).sneakernet_export("u", "/d"))
