"""info, search (cursor paging, filters), tokens, stores, ping."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from librarian_client import LibrarianClient, NotFound
from librarian_client._download import name_path
from tests.unit.client.conftest import URL
from tests.unit.fake_librarian import FakeLibrarian


def test_info_encodes_each_name_segment(client: LibrarianClient, fake: FakeLibrarian) -> None:
    fake.add_file("obs/a b#1%/x?.dat", b"1234")

    info = client.info("obs/a b#1%/x?.dat")

    assert info.name == "obs/a b#1%/x?.dat"
    assert info.size == 4
    assert [i.store for i in info.instances] == ["store1"]
    assert fake.requests[-1] == ("GET", "/api/v2/files/obs/a%20b%231%25/x%3F.dat")


def test_dot_segments_are_escaped_so_they_reach_the_server() -> None:
    assert name_path("a/../b") == "a/%2E%2E/b"
    assert name_path("./b") == "%2E/b"
    assert name_path("a.b/c..d") == "a.b/c..d"


def test_info_of_missing_file_is_not_found(client: LibrarianClient) -> None:
    with pytest.raises(NotFound):
        client.info("missing")


def test_search_follows_cursors_until_the_last_page(
    client: LibrarianClient, fake: FakeLibrarian
) -> None:
    for i in range(25):
        fake.add_file(f"run/{i:02d}", b"x" * i)
    fake.add_file("other/1", b"y")

    names = [f.name for f in client.search(prefix="run/", page_size=10)]

    assert names == [f"run/{i:02d}" for i in range(25)]
    assert fake.count("GET", "/api/v2/search") == 3


def test_search_limit_caps_results_and_requests(
    client: LibrarianClient, fake: FakeLibrarian
) -> None:
    for i in range(30):
        fake.add_file(f"f{i:02d}", b"")

    found = list(client.search(limit=12, page_size=10))

    assert [f.name for f in found] == [f"f{i:02d}" for i in range(12)]
    assert fake.count("GET", "/api/v2/search") == 2


def test_search_sends_only_given_filters_with_iso_times() -> None:
    seen: list[dict[str, str]] = []

    def server(request: httpx.Request) -> httpx.Response:
        seen.append(dict(request.url.params))
        return httpx.Response(200, json={"files": [], "next_cursor": None})

    with LibrarianClient(URL, transport=httpx.MockTransport(server)) as client:
        results = list(
            client.search(
                name="*.g3",
                created_after=datetime(2024, 6, 1, tzinfo=UTC),
                min_size=10,
                uploader="bob",
            )
        )

    assert results == []
    assert seen == [
        {
            "name": "*.g3",
            "created_after": "2024-06-01T00:00:00+00:00",
            "min_size": "10",
            "uploader": "bob",
            "limit": "1000",
        }
    ]


def test_search_glob_star_crosses_slashes(client: LibrarianClient, fake: FakeLibrarian) -> None:
    fake.add_file("obs/1/a.g3", b"1")
    fake.add_file("obs/2/deep/b.g3", b"22")
    fake.add_file("obs/2/c.txt", b"3")

    page = client.search_page(name="obs/*.g3")

    assert [f.name for f in page.files] == ["obs/1/a.g3", "obs/2/deep/b.g3"]
    assert page.next_cursor is None


def test_create_token_sends_request_and_returns_token(
    client: LibrarianClient, fake: FakeLibrarian
) -> None:
    created = client.create_token(expires_in_seconds=3600, description="pipeline")

    assert fake.tokens[created.token] == "alice"
    assert created.user == "alice"
    assert created.expires_at is not None
    with LibrarianClient(URL, token=created.token, transport=fake.transport) as by_token:
        assert by_token.ping().user == "alice"


def test_stores_and_ping(client: LibrarianClient, fake: FakeLibrarian) -> None:
    fake.add_file("a", b"12345")

    stores = client.stores()
    pong = client.ping()

    assert [(s.name, s.used_bytes) for s in stores] == [("store1", 5)]
    assert (pong.name, pong.user, pong.checksum_algorithm) == ("fake", "alice", "md5")
