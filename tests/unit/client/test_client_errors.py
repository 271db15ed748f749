"""HTTP statuses and transport failures become typed, one-line exceptions."""

from __future__ import annotations

import base64
from collections.abc import Callable

import httpx
import pytest

from librarian_client import (
    AlreadyExists,
    AuthenticationError,
    BadRequest,
    InsufficientStorage,
    LibrarianClient,
    LibrarianClientError,
    LibrarianConnectionError,
    LibrarianHTTPError,
    LibrarianTimeoutError,
    NotFound,
    PermissionDenied,
    ProtocolError,
    ServerError,
    VerificationFailed,
)
from librarian_client.exceptions import RangeNotSatisfiable

URL = "http://librarian.test"


def client_for(
    handler: Callable[[httpx.Request], httpx.Response], timeout: float = 60.0
) -> LibrarianClient:
    return LibrarianClient(URL, timeout=timeout, transport=httpx.MockTransport(handler))


def error_body(reason: str, remedy: str, error: str = "SomeError") -> dict[str, str]:
    return {"reason": reason, "suggested_remedy": remedy, "error": error}


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequest),
        (401, AuthenticationError),
        (403, PermissionDenied),
        (404, NotFound),
        (409, AlreadyExists),
        (416, RangeNotSatisfiable),
        (422, VerificationFailed),
        (507, InsufficientStorage),
        (500, ServerError),
        (503, ServerError),
        (418, LibrarianHTTPError),
    ],
)
def test_status_maps_to_exception_with_server_reason(status: int, cls: type[Exception]) -> None:
    body = error_body("It went wrong\nbadly.", "Do the other thing.", "FileAlreadyExists")
    client = client_for(lambda request: httpx.Response(status, json=body))

    with pytest.raises(cls) as info:
        client.info("a/b")

    exc = info.value
    assert type(exc) is cls
    assert isinstance(exc, LibrarianHTTPError)
    assert exc.status_code == status
    assert exc.reason == "It went wrong badly."
    assert exc.suggested_remedy == "Do the other thing."
    assert exc.error == "FileAlreadyExists"
    assert str(exc) == "It went wrong badly. (Do the other thing.)"


def test_non_json_error_body_still_gives_a_readable_line() -> None:
    client = client_for(lambda request: httpx.Response(502, text="<html>Bad gateway</html>"))

    with pytest.raises(ServerError) as info:
        client.ping()

    assert info.value.status_code == 502
    text = str(info.value)
    assert "502" in text and "/api/v2/ping" in text
    assert "\n" not in text
    assert info.value.suggested_remedy  # the class default, not empty


def test_connection_refused_becomes_connection_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    with pytest.raises(LibrarianConnectionError) as info:
        client_for(refuse).ping()

    assert "Connection refused" in info.value.reason
    assert URL in info.value.reason
    assert isinstance(info.value, LibrarianClientError)


def test_timeout_becomes_timeout_error_naming_the_limit() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(LibrarianTimeoutError) as info:
        client_for(slow, timeout=2.5).ping()

    assert "2.5 s" in info.value.reason


def test_answer_outside_the_contract_is_a_protocol_error() -> None:
    client = client_for(lambda request: httpx.Response(200, json={"unexpected": True}))

    with pytest.raises(ProtocolError) as info:
        client.ping()

    assert "PingResponse" in info.value.reason


def test_every_request_has_a_timeout() -> None:
    seen: list[dict[str, float | None]] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return httpx.Response(200, json={"name": "x", "version": "1", "checksum_algorithm": "md5"})

    client_for(record, timeout=7.0).ping()

    assert seen == [{"connect": 7.0, "read": 7.0, "write": 7.0, "pool": 7.0}]


def test_basic_auth_is_sent_for_username_and_password() -> None:
    headers: list[str] = []

    def record(request: httpx.Request) -> httpx.Response:
        headers.append(request.headers.get("Authorization", ""))
        return httpx.Response(200, json={"name": "x", "version": "1", "checksum_algorithm": "md5"})

    LibrarianClient(URL, "alice", "pw", transport=httpx.MockTransport(record)).ping()
    LibrarianClient(URL, "alice", "pw", token="tok", transport=httpx.MockTransport(record)).ping()
    LibrarianClient(URL, transport=httpx.MockTransport(record)).ping()

    assert headers == [
        "Basic " + base64.b64encode(b"alice:pw").decode(),
        "Bearer tok",  # a token wins over a password
        "",
    ]


def test_base_url_path_prefix_is_kept() -> None:
    paths: list[str] = []

    def record(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        return httpx.Response(200, json={"name": "x", "version": "1", "checksum_algorithm": "md5"})

    LibrarianClient(f"{URL}/site-a/", transport=httpx.MockTransport(record)).ping()

    assert paths == ["/site-a/api/v2/ping"]


def test_non_http_url_is_a_config_error() -> None:
    with pytest.raises(LibrarianClientError, match="not an http"):
        LibrarianClient("localhost:8080")
