"""Live servers: refusals before the body is sent, and credentials that change in one
process (revoked tokens, disabled users, failed logins) holding in another at once.

Two ``librarian-server run`` processes share one database (PostgreSQL, or the first
server's SQLite file); the raw-socket tests send headers only, so a 401/413 that
arrives proves the server answered without waiting for the body.
"""

from __future__ import annotations

import base64
import socket
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from xprocess import XProcess

from tests.e2e.conftest import LiveServer

THROTTLE_ENV = {
    "LIBRARIAN_SERVER_LOGIN_MAX_FAILURES": "3",
    "LIBRARIAN_SERVER_LOGIN_LOCKOUT_SECONDS": "2",
}


@pytest.fixture(scope="module")
def pair(
    start_server: Callable[..., LiveServer],
    database_url: str | None,
    xprocess: XProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LiveServer, LiveServer]]:
    first = start_server(database_url, env=THROTTLE_ENV)
    shared = database_url or f"sqlite:///{first.data_dir / 'librarian.sqlite3'}"
    env = THROTTLE_ENV | {"LIBRARIAN_SERVER_DATABASE_URL": shared}
    name = f"librarian-e2e-guard-{first.backend}"
    second = LiveServer(xprocess, name, tmp_path_factory.mktemp(name), shared, env, ())
    second.start()
    yield first, second
    second.stop()


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _password(server: LiveServer, user: str) -> str:
    return server.password_file(user).read_text().strip()


def _answer(sock: socket.socket) -> tuple[int, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":", 1)[1])
            for line in head.lower().split(b"\r\n")[1:]
            if line.startswith(b"content-length:")
        ),
        0,
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    status = int(data.split(b" ", 2)[1])
    return status, head + b"\r\n\r\n" + body


def _headers_only(server: LiveServer, head: str, timeout: float = 10) -> tuple[int, bytes, float]:
    """Send only the request head (a body is promised, never sent); the answer and its time."""
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.sendall(head.encode())
        status, data = _answer(sock)
    return status, data, time.perf_counter() - started


def test_unauthenticated_huge_post_is_refused_before_its_body(
    pair: tuple[LiveServer, LiveServer],
) -> None:
    server = pair[0]

    def stage(length: int) -> str:
        return (
            "POST /api/v2/upload/stage HTTP/1.1\r\nHost: x\r\n"
            f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
        )

    # 41 MiB: over even the manifest cap, so refused before the credentials are looked at.
    status, data, elapsed = _headers_only(server, stage(41 << 20))
    assert status == 413 and b"33554432" in data, data
    assert elapsed < 5
    # 20 MiB fits a manifest, but nobody logged in: 401, and still no body was needed.
    status, data, elapsed = _headers_only(server, stage(20 << 20))
    assert status == 401, data
    assert b"www-authenticate" in data.lower()
    assert elapsed < 5
    # An upload PUT is uncapped, but not anonymous either.
    head = "PUT /api/v2/upload/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 42991616\r\n\r\n"
    assert _headers_only(server, head)[0] == 401


def test_authenticated_over_cap_is_413_before_its_body(
    pair: tuple[LiveServer, LiveServer],
) -> None:
    server = pair[0]
    auth = _basic("writer", _password(server, "writer"))
    head = (
        f"POST /api/v2/tokens HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n"
        "Content-Type: application/json\r\nContent-Length: 42991616\r\n\r\n"
    )
    status, data, _ = _headers_only(server, head)
    assert status == 413 and b"1048576" in data, data
    head = (
        f"PUT /vospace/nodes/x HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n"
        "Content-Length: 1000000\r\n\r\n"
    )
    status, data, _ = _headers_only(server, head)
    assert status == 413 and data.split(b"\r\n\r\n", 1)[1].startswith(b"InvalidArgument"), data


def test_chunked_body_is_cut_at_the_cap(pair: tuple[LiveServer, LiveServer]) -> None:
    server = pair[0]
    auth = _basic("writer", _password(server, "writer"))
    head = (
        f"POST /api/v2/tokens HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b" " * 65536
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head.encode())
        for _ in range(17):  # 1 MiB + 64 KiB: just past the cap, then nothing more
            sock.sendall(b"10000\r\n" + chunk + b"\r\n")
        status, data = _answer(sock)
    assert status == 413, data


def _ping(server: LiveServer, **headers: str) -> httpx.Response:
    return httpx.get(f"{server.url}/api/v2/ping", headers=headers, timeout=10)


def _until_refused(server: LiveServer, headers: dict[str, str], limit: float = 1.0) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < limit + 1:
        if _ping(server, **headers).status_code == 401:
            return time.perf_counter() - started
        time.sleep(0.02)
    raise AssertionError(f"still accepted after {limit + 1} s")


def test_revocation_holds_in_the_other_process_within_a_second(
    pair: tuple[LiveServer, LiveServer],
) -> None:
    first, second = pair
    parent = first.cli("token", "create", "--json", "--description", "ci").json()
    bearer = {"Authorization": f"Bearer {parent['token']}"}
    child = httpx.post(f"{first.url}/api/v2/tokens", json={}, headers=bearer, timeout=10).json()
    child_bearer = {"Authorization": f"Bearer {child['token']}"}
    for headers in (bearer, child_bearer, bearer):  # cached in the second process
        assert _ping(second, **headers).json()["user"] == "writer"
    listed = first.cli("token", "list", "--json").json()
    assert {t["id"] for t in listed} >= {parent["id"], child["id"]}
    assert next(t for t in listed if t["id"] == child["id"])["parent_id"] == parent["id"]
    table = first.cli("token", "list")
    assert table.returncode == 0 and "PARENT" in table.stdout and "ci" in table.stdout
    done = first.cli("token", "revoke", str(parent["id"]))
    assert done.returncode == 0 and "and 1 token(s) made with it" in done.stdout, done
    assert _until_refused(second, bearer) < 1.0
    assert _ping(second, **child_bearer).status_code == 401
    error = first.cli("token", "revoke", str(parent["id"])).error()
    assert "no token with id" in error


def test_disabling_a_user_holds_in_the_other_process_within_a_second(
    pair: tuple[LiveServer, LiveServer],
) -> None:
    first, second = pair
    reader = {"Authorization": _basic("reader", _password(first, "reader"))}
    assert _ping(second, **reader).json()["user"] == "reader"  # now cached there
    assert "disabled user 'reader'" in first.admin("disable-user", "reader").stdout
    assert _until_refused(second, reader) < 1.0
    assert "disabled" in _ping(second, **reader).json()["reason"]
    first.admin("enable-user", "reader")
    assert _ping(second, **reader).status_code == 200


def test_failed_logins_count_across_processes(pair: tuple[LiveServer, LiveServer]) -> None:
    first, second = pair
    writer = {"Authorization": _basic("writer", _password(first, "writer"))}
    wrong = {"Authorization": _basic("writer", "not the password")}
    assert _ping(first, **wrong).status_code == 401
    assert _ping(second, **wrong).status_code == 401
    assert _ping(first, **wrong).status_code == 401
    for server in (first, second):  # three failures in all: locked in both processes
        r = _ping(server, **writer)
        assert r.status_code == 429, r.text
        assert 1 <= int(r.headers["Retry-After"]) <= 2
    # The address failed three times too: another user from it is locked as well.
    reader = {"Authorization": _basic("reader", _password(first, "reader"))}
    assert _ping(second, **reader).status_code == 429
    time.sleep(2.1)
    assert _ping(second, **writer).json()["user"] == "writer"
    assert _ping(first, **reader).json()["user"] == "reader"
