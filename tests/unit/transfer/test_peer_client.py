"""The peer client on the client library's plumbing: what a peer's failures become, and
the bytes it sends (one file streamed, small files in one bundle)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import httpx
import pytest

from librarian_client.models import CheckinItem, CheckinRequest
from librarian_server import __version__
from librarian_server.errors import PeerError
from librarian_server.transfer.peer_client import PeerClient, SentFile

URL = "http://ucsd.example:21108"
CHECKIN = CheckinRequest(
    site="mountain", files=[CheckinItem(source_transfer_id=1, name="f", committed=True)]
)


def _client(handler: httpx.MockTransport) -> PeerClient:
    return PeerClient("ucsd", URL + "/", "mountain", "secret", timeout=5, transport=handler)


def _raise(exc: Exception) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return httpx.MockTransport(handler)


def test_a_timeout_names_the_peer_and_the_call() -> None:
    with pytest.raises(PeerError) as caught, _client(_raise(httpx.ReadTimeout("slow"))) as peer:
        peer.checkin(CHECKIN)
    assert caught.value.reason == "ucsd did not answer POST /api/v2/checkin in time."
    assert caught.value.peer_wide


def test_an_unreachable_peer_names_its_url_and_the_cause() -> None:
    refused = _raise(httpx.ConnectError("Connection refused"))
    with pytest.raises(PeerError) as caught, _client(refused) as peer:
        peer.ping()
    assert caught.value.reason == f"ucsd is unreachable at {URL}: Connection refused."
    assert caught.value.peer_status is None and caught.value.peer_wide


@pytest.mark.parametrize(("status", "peer_wide"), [(507, True), (409, False)])
def test_an_error_answer_carries_the_peers_reason_and_status(status: int, peer_wide: bool) -> None:
    body = {"reason": "No store has room.", "suggested_remedy": "Add a store."}
    answer = httpx.MockTransport(lambda request: httpx.Response(status, json=body))
    with pytest.raises(PeerError) as caught, _client(answer) as peer:
        peer.checkin(CHECKIN)
    assert caught.value.reason == f"ucsd answered {status}: No store has room."
    assert (caught.value.peer_status, caught.value.peer_wide) == (status, peer_wide)


def test_an_answer_outside_the_contract_is_a_peer_error() -> None:
    answer = httpx.MockTransport(lambda request: httpx.Response(200, json={"nope": 1}))
    with pytest.raises(PeerError, match="not a PingResponse"), _client(answer) as peer:
        peer.ping()


def test_files_go_with_the_peer_credentials_and_are_hashed_as_sent(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        if request.url.path.endswith("/bundle"):
            return httpx.Response(200, json={"files": []})
        size = len(request.content)
        md5 = hashlib.md5(request.content).hexdigest()  # noqa: S324 - a checksum
        return httpx.Response(200, json={"transfer_id": 9, "size": size, "checksum": f"md5:{md5}"})

    small = [tmp_path / "a", tmp_path / "b"]
    small[0].write_bytes(b"a" * 10)
    small[1].write_bytes(b"b" * 20)
    large = tmp_path / "large"
    large.write_bytes(bytes(range(256)) * 5000)  # over a chunk: streamed
    with _client(httpx.MockTransport(handler)) as peer:
        files = [
            SentFile(_opener(p), str(p), p.stat().st_size, "md5", lambda n, f: None) for p in small
        ]
        peer.bundle([7, 8], files)
        sent = SentFile(_opener(large), str(large), large.stat().st_size, "md5", lambda n, f: None)
        received = peer.put("/api/v2/upload/9", sent)

    bundle, put = seen
    head, rest = bundle.content.split(b"\n", 1)
    assert json.loads(head) == {"transfer_ids": [7, 8]} and rest == b"a" * 10 + b"b" * 20
    assert bundle.headers["Content-Length"] == str(len(bundle.content))
    assert [f.checksum for f in files] == [
        "md5:" + hashlib.md5(p.read_bytes()).hexdigest()  # noqa: S324
        for p in small
    ]
    assert put.content == large.read_bytes() and received.checksum == sent.checksum
    for request in seen:
        assert request.headers["User-Agent"] == f"librarian-server/{__version__}"
        assert request.headers["Authorization"].startswith("Basic ")
        assert str(request.url).startswith(URL + "/api/v2/")


def _opener(path: Path) -> Callable[[], BinaryIO]:
    return lambda: path.open("rb")
