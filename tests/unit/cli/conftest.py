"""CLI unit tests: ``main(argv, transport=...)`` against the in-memory FakeLibrarian."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from librarian_client.cli import main
from librarian_client.config import Connection, save_connection
from tests.unit.fake_librarian import FakeLibrarian


@dataclass
class Result:
    code: int
    out: str
    err: str


Run = Callable[..., Result]


@pytest.fixture
def configured() -> Connection:
    """A default connection, as `librarian connections add` or the server would write it."""
    conn = Connection.model_validate(
        {"url": "http://fake", "username": "alice", "password": "secret"}
    )
    save_connection("test", conn)
    return conn


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], fake: FakeLibrarian) -> Run:
    """run("ls", "x") -> Result; ``transport=`` overrides the fake for odd servers."""

    def invoke(*argv: str, transport: httpx.BaseTransport | None = None) -> Result:
        capsys.readouterr()
        code = main(list(argv), transport=transport or fake.transport)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """src/{a.txt, sub/b.bin, sub/deeper/c.dat}."""
    root = tmp_path / "src"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "a.txt").write_bytes(b"alpha")
    (root / "sub" / "b.bin").write_bytes(b"\x00" * 2048)
    (root / "sub" / "deeper" / "c.dat").write_bytes(b"c" * 3000)
    return root
