"""Behind a TLS reverse proxy: links use the scheme the proxy reports, if it is trusted."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.e2e

PROXIED = {"Host": "librarian.example.org", "X-Forwarded-Proto": "https"}


def _capabilities(server: LiveServer) -> str:
    r = httpx.get(server.url + "/vospace/capabilities", headers=PROXIED, timeout=30)
    assert r.status_code == 200, r.text
    return r.text


def test_forwarded_headers_only_from_trusted_proxies(
    start_server: Callable[..., LiveServer],
) -> None:
    trusted = start_server(None, env={"LIBRARIAN_SERVER_FORWARDED_ALLOW_IPS": "127.0.0.1"})
    assert "https://librarian.example.org/vospace" in _capabilities(trusted)

    # The same request from an address that is not the proxy's: the header is ignored.
    untrusted = start_server(None, env={"LIBRARIAN_SERVER_FORWARDED_ALLOW_IPS": "192.0.2.7"})
    text = _capabilities(untrusted)
    assert "http://librarian.example.org/vospace" in text and "https://" not in text

    # A public URL wins over whatever the request says.
    public = start_server(None, env={"LIBRARIAN_SERVER_PUBLIC_URL": "https://data.example.net"})
    assert "https://data.example.net/vospace" in _capabilities(public)
