"""The guard's table of body caps and anonymous access, as the README documents it."""

from __future__ import annotations

from pathlib import Path

import pytest

from librarian_server.api.guard import classify
from librarian_server.services.accounts.throttle import ThrottlePolicy
from librarian_server.settings import ServerSettings, load_settings

MiB = 1 << 20


@pytest.fixture
def settings(tmp_path: Path) -> ServerSettings:
    return load_settings(data_dir=tmp_path)


@pytest.mark.parametrize(
    ("method", "path", "cap"),
    [
        ("POST", "/api/v2/tokens", MiB),
        ("GET", "/api/v2/search", MiB),
        ("POST", "/api/v2/sneakernet/export", MiB),
        ("POST", "/api/v2/upload/stage", 32 * MiB),
        ("POST", "/api/v2/upload/commit", 32 * MiB),
        ("POST", "/api/v2/clone/complete", 32 * MiB),
        ("POST", "/api/v2/checkin", 32 * MiB),
        ("POST", "/api/v2/checkin/status", 32 * MiB),
        ("POST", "/api/v2/proofs", 32 * MiB),
        ("PUT", "/api/v2/upload/17", None),
        ("POST", "/api/v2/upload/bundle", None),
        ("PUT", "/api/v2/clone/17", None),
        ("POST", "/api/v2/clone/bundle", None),
        ("PUT", "/vospace/nodes/a/b", 256 << 10),
        ("POST", "/vospace/auth/transfers", 256 << 10),
        ("PUT", "/vospace/files/a/b", None),
        ("PUT", "/vospace/endpoints/tok/a/b", None),
        ("GET", "/nowhere", MiB),
    ],
)
def test_caps(settings: ServerSettings, method: str, path: str, cap: int | None) -> None:
    assert classify(method, path, settings).cap == cap


def test_anonymous_only_for_reads_the_settings_allow(tmp_path: Path) -> None:
    closed = load_settings(data_dir=tmp_path)
    open_ = load_settings(data_dir=tmp_path, allow_anonymous_read=True)
    assert classify("GET", "/api/v2/ping", closed).anonymous
    assert not classify("GET", "/api/v2/search", closed).anonymous
    assert classify("GET", "/api/v2/search", open_).anonymous
    assert not classify("POST", "/api/v2/tokens", open_).anonymous
    assert not classify("PUT", "/api/v2/upload/1", open_).anonymous
    assert classify("GET", "/vospace/capabilities", closed).anonymous
    assert not classify("GET", "/vospace/nodes/x", closed).anonymous
    assert classify("GET", "/vospace/nodes/x", open_).anonymous
    assert classify("POST", "/vospace/synctrans", open_).anonymous
    assert not classify("POST", "/vospace/synctrans", closed).anonymous
    assert not classify("POST", "/vospace/transfers/abc/phase", open_).anonymous
    assert not classify("PUT", "/vospace/nodes/x", open_).anonymous
    assert classify("PUT", "/vospace/endpoints/tok/x", closed).anonymous  # the URL's secret


def test_lockout_doubles_and_is_capped() -> None:
    policy = ThrottlePolicy(
        max_failures=5, lockout_seconds=30, lockout_max_seconds=3600, window_seconds=900
    )
    assert [policy.lockout(n) for n in (1, 4, 5, 6, 7)] == [0, 0, 30, 60, 120]
    assert policy.lockout(100) == 3600
