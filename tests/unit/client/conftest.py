"""Client unit tests: the real LibrarianClient against the in-memory FakeLibrarian."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from librarian_client import LibrarianClient
from tests.unit.fake_librarian import FakeLibrarian

URL = "http://librarian.test"


@pytest.fixture
def client(fake: FakeLibrarian) -> Iterator[LibrarianClient]:
    with LibrarianClient(URL, "alice", "secret", transport=fake.transport) as c:
        yield c


@pytest.fixture
def make_file(tmp_path: Path) -> Callable[..., Path]:
    """make_file("a/b.dat", size=100) or make_file("x", data=b"...") under tmp_path/src."""

    def make(relative: str, size: int = 0, data: bytes | None = None) -> Path:
        path = tmp_path / "src" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if data is not None else os.urandom(size))
        return path

    return make
