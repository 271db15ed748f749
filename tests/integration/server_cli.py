"""``librarian-server`` commands run in-process on a test site's catalogue."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from librarian_server.cli import main
from tests.integration.conftest import Site


@dataclass
class Ran:
    code: int
    out: str
    err: str

    def error(self) -> str:
        """The one error line of a command that failed."""
        assert self.code == 1, self
        (line,) = self.err.splitlines()
        assert line.startswith("librarian-server: error: ")
        return line.removeprefix("librarian-server: error: ")


ServerCommand = Callable[..., Ran]


def server_command(
    site: Site,
    database_url: str | None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> ServerCommand:
    """``run("stores", "--json")``: the command on the site's data directory and database."""
    if database_url is not None:
        monkeypatch.setenv("LIBRARIAN_SERVER_DATABASE_URL", database_url)

    def run(*argv: str) -> Ran:
        capsys.readouterr()
        code = main([*argv, "--data-dir", str(site.settings.data_dir)])
        captured = capsys.readouterr()
        return Ran(code, captured.out, captured.err)

    return run
