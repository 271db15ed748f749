"""What every subcommand gets: parsed arguments, a way to build the client, progress bars.

Tests inject an ``httpx`` transport here (``main(argv, transport=...)``), so the
CLI runs its real connection resolution and the real ``LibrarianClient``
against an in-memory server.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from librarian_client._connections import resolve
from librarian_client.client import LibrarianClient
from librarian_client.exceptions import LibrarianClientError

if TYPE_CHECKING:
    import httpx

    from librarian_client.cli.progress import Progress

DEFAULT_TIMEOUT = 60.0


class CLIError(LibrarianClientError):
    """A problem with what the user asked for, found after argument parsing (exit 1)."""


def read_secret_file(path: str, what: str) -> str:
    """A password or token from a file (never from argv, where `ps` would show it)."""
    with open(path, encoding="utf-8") as handle:
        value = handle.read().strip()
    if not value:
        raise CLIError(f"The {what} file {path} is empty.", f"Put the {what} in {path}.")
    return value


@dataclass
class Context:
    args: argparse.Namespace
    transport: httpx.BaseTransport | None = None

    @property
    def json(self) -> bool:
        return bool(self.args.json)

    def client(self) -> LibrarianClient:
        """Resolve the connection (flags > env > config file) and build the client."""
        args = self.args
        password = read_secret_file(args.password_file, "password") if args.password_file else None
        token = read_secret_file(args.token_file, "token") if args.token_file else None
        # As ``config.resolve_connection``, without its pydantic models (see ``_connections``).
        conn = resolve(args.connection, args.url, args.username, password, token)
        timeout = args.timeout if args.timeout is not None else DEFAULT_TIMEOUT
        return LibrarianClient(
            conn.url,
            conn.username,
            conn.password,
            token=conn.token,
            timeout=timeout,
            transport=self.transport,
        )

    def progress(self, total_bytes: int, total_files: int, desc: str) -> Progress:
        from librarian_client.cli.progress import Progress  # tqdm: only for commands with bars

        enabled = not self.args.no_progress and sys.stderr.isatty()
        return Progress(total_bytes, total_files, desc, enabled=enabled)

    def warn(self, message: str) -> None:
        print(f"librarian: warning: {message}", file=sys.stderr)
