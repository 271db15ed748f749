"""The `librarian` CLI's ``main(argv, transport=...)`` against the in-process server.

The real CLI (argument parsing, connection resolution, the client library) talks to
the real app with a real database and store, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from librarian_client.cli import main
from librarian_client.config import Connection, save_connection
from tests.integration.conftest import PASSWORD, Site
from tests.integration.helpers import upload


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        assert self.code == 0, self
        return json.loads(self.out)


Run = Callable[..., Result]


@pytest.fixture
def cli(
    site: Site, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Run:
    """cli("ls", "obs/", user="reader") -> Result, as that user's saved connection."""
    monkeypatch.setenv("LIBRARIAN_CLIENT_CONFIG", str(tmp_path / "client-config" / "client.json"))
    for user in ("writer", "reader", "admin"):
        conn = Connection.model_validate(
            {"url": "http://testserver", "username": user, "password": PASSWORD}
        )
        save_connection(user, conn, make_default=user == "writer")
    transport: httpx.BaseTransport = site.http._transport

    def invoke(*argv: str, user: str = "writer") -> Result:
        capsys.readouterr()
        code = main(["--connection", user, *argv], transport=transport)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke


@pytest.fixture
def add_files(site: Site) -> Callable[..., None]:
    """add_files({"obs/a": b"..."}): committed through the real upload endpoints."""

    def factory(files: dict[str, bytes]) -> None:
        for name, data in files.items():
            upload(site.http, site.auth(), name, data)

    return factory
