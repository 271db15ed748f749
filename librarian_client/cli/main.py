"""The ``librarian`` entry point: parse, run one subcommand, turn failures into one line.

Exit codes: 0 success, 1 an expected failure (server error, unreachable server,
bad local path, checksum mismatch), 2 a usage error (argparse), 130 Ctrl-C.
Unexpected exceptions are bugs and keep their traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import httpx

from ..checksum import ChecksumError
from ..exceptions import LibrarianClientError
from . import account, catalogue, remove, replication, sneakernet, transfer
from .context import Context
from .output import positive_float

PROG = "librarian"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Upload, download and find files in a Librarian data catalogue.",
        epilog="Connection settings: flags > LIBRARIAN_URL/_USERNAME/_PASSWORD/_TOKEN/"
        "_CONNECTION > the client config file (LIBRARIAN_CLIENT_CONFIG, default "
        "~/.config/librarian/client.json).",
    )
    conn = parser.add_argument_group("connection")
    conn.add_argument("--connection", metavar="NAME", help="a configured connection")
    conn.add_argument("--url", help="server base URL")
    conn.add_argument("--username", metavar="U")
    conn.add_argument("--password-file", metavar="F", help="file holding the password")
    conn.add_argument("--token-file", metavar="F", help="file holding a bearer token")
    conn.add_argument(
        "--timeout", metavar="SECONDS", type=positive_float, help="per-request timeout (60)"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")

    # Also accepted after the subcommand; SUPPRESS keeps a value given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    common.add_argument("--no-progress", action="store_true", default=argparse.SUPPRESS)

    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    transfer.register(sub, common)
    catalogue.register(sub, common)
    remove.register(sub, common)
    account.register(sub, common)
    replication.register(sub, common)
    sneakernet.register(sub, common)
    return parser


def _error(message: str) -> None:
    print(f"{PROG}: error: {' '.join(message.split())}", file=sys.stderr)


def _os_error_line(exc: OSError) -> str:
    where = f": {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc}{where} (check the local path and its permissions)"


def _quiet_broken_pipe() -> None:
    """`librarian ls | head`: stop quietly, and keep Python from complaining at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def main(argv: Sequence[str] | None = None, *, transport: httpx.BaseTransport | None = None) -> int:
    """Run the CLI and return its exit code; ``transport`` routes requests in tests."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # usage errors (2) and --help (0)
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    ctx = Context(args, transport)
    try:
        code: int = args.func(ctx)
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except BrokenPipeError:
        _quiet_broken_pipe()
        return 1
    except LibrarianClientError as exc:
        _error(str(exc))
        return 1
    except ChecksumError as exc:
        _error(f"{exc} (the server uses a checksum algorithm this client cannot compute)")
        return 1
    except OSError as exc:
        _error(_os_error_line(exc))
        return 1
    return code
