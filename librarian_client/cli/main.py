"""The ``librarian`` entry point: parse, run one subcommand, turn failures into one line.

Exit codes: 0 success (also when a listing or search matched nothing), 1 an
expected failure (server error, unreachable server, bad local path, checksum
mismatch, a local file in the way), 2 a usage error (argparse), 130 Ctrl-C.
With ``--json`` an error is one JSON object on stderr instead of the line.
Unexpected exceptions are bugs and keep their traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn

from librarian_client.cli.output import examples, positive_float
from librarian_client.cli.parsers import (
    account,
    catalogue,
    completion,
    events,
    release,
    remove,
    replication,
    sneakernet,
    staging,
    transfer,
    users,
    webhooks,
)

if TYPE_CHECKING:
    import httpx

PROG = "librarian"
EXIT_CODES = """exit status:
  0    success, also when ls or search found nothing (a line on stderr says so)
  1    the request failed: one 'librarian: error: ...' line on stderr, ending
       in the server's error code as [code] (with --json: {"reason": ...,
       "suggested_remedy": ..., "code": ...} on stderr)
  2    the command line is wrong (usage)
  130  interrupted (Ctrl-C)"""


class UsageError(Exception):
    """argparse found the command line wrong; ``main`` reports it (as JSON with --json)."""

    def __init__(self, usage: str, message: str) -> None:
        super().__init__(message)
        self.usage = usage
        self.message = message


class HelpFormatter(argparse.HelpFormatter):
    """Wraps prose as usual, but keeps text that has line breaks (examples) as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


class Parser(argparse.ArgumentParser):
    """Every (sub)parser: the shared formatter, and errors raised rather than printed."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> NoReturn:
        raise UsageError(self.format_usage(), message)


def version() -> str:
    from importlib import metadata  # reads the installed distributions: only for --version

    try:
        return metadata.version("librarian")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "unknown"


class VersionAction(argparse.Action):
    """``--version``, looking the version up only when asked."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        print(f"{parser.prog} {version()}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = Parser(
        prog=PROG,
        description="Upload, download and find files in a Librarian data catalogue. "
        "Connection settings: flags > LIBRARIAN_URL/_USERNAME/_PASSWORD/_TOKEN/_CONNECTION "
        "> the client config file (LIBRARIAN_CLIENT_CONFIG, default "
        "~/.config/librarian/client.json). `librarian COMMAND --help` shows a command's "
        "options and examples.",
        epilog=examples(
            "librarian connections add site http://localhost:21108 --username alice \\",
            "    --password-file ~/.alice-pw    # stores a token, not the password",
            "librarian upload ./night1/ obs/2024-06-01/ --transfers 4",
            "librarian ls obs/2024-06-01/",
            "librarian download obs/2024-06-01/ ./night1-copy/",
            "librarian --connection mountain search --name 'obs/*.g3' --min-size 1GiB",
        )
        + "\n\n"
        + EXIT_CODES,
    )
    parser.add_argument(
        "--version", action=VersionAction, help="show program's version number and exit"
    )
    conn = parser.add_argument_group("connection")
    conn.add_argument(
        "--connection", metavar="NAME", help="a configured connection (see `connections`)"
    )
    conn.add_argument("--url", help="server base URL, e.g. http://localhost:21108")
    conn.add_argument("--username", metavar="U", help="log in as U (with --password-file)")
    conn.add_argument("--password-file", metavar="F", help="file holding the password")
    conn.add_argument("--token-file", metavar="F", help="file holding a bearer token")
    conn.add_argument(
        "--timeout", metavar="SECONDS", type=positive_float, help="per-request timeout (60)"
    )
    json_help = "machine-readable output on stdout (errors as JSON on stderr)"
    progress_help = "no progress bars (they are shown only on a terminal anyway)"
    parser.add_argument("--json", action="store_true", help=json_help)
    parser.add_argument("--no-progress", action="store_true", help=progress_help)

    # Also accepted after the subcommand; SUPPRESS keeps a value given before it.
    common = Parser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help=json_help)
    common.add_argument(
        "--no-progress", action="store_true", default=argparse.SUPPRESS, help=progress_help
    )

    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    transfer.register(sub, common)
    catalogue.register(sub, common)
    remove.register(sub, common)
    release.register(sub, common)
    account.register(sub, common)
    users.register(sub, common)
    replication.register(sub, common)
    sneakernet.register(sub, common)
    staging.register(sub, common)
    events.register(sub, common)
    webhooks.register(sub, common)
    completion.register(sub, parser)
    return parser


def _error(message: str, remedy: str = "", *, as_json: bool = False, code: str = "") -> None:
    """One line on stderr; ``code`` is the server's error code, when it sent one."""
    if as_json:
        body = {"reason": " ".join(message.split()), "suggested_remedy": " ".join(remedy.split())}
        if code:
            body["code"] = code
        print(json.dumps(body), file=sys.stderr)
        return
    line = f"{message} ({remedy})" if remedy else message
    if code:
        line = f"{line} [{code}]"
    print(f"{PROG}: error: {' '.join(line.split())}", file=sys.stderr)


def _os_error(exc: OSError) -> tuple[str, str]:
    where = f": {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc}{where}", "check the local path and its permissions"


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
    words = sys.argv[1:] if argv is None else list(argv)
    as_json = "--json" in words
    try:
        args = parser.parse_args(words)
    except SystemExit as exc:  # --help and --version (0)
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    except UsageError as exc:
        if as_json:
            _error(exc.message, "see `librarian --help`", as_json=True)
        else:
            print(exc.usage, end="", file=sys.stderr)
            _error(exc.message)
        return 2
    if "httpx" not in sys.modules:
        # httpx imports its own command line (click, rich, pygments: some 40 ms) whenever
        # those happen to be installed, and httpcore anyio for its async locks; this
        # process never runs the one and makes only blocking requests.
        sys.modules["httpx._main"] = None  # type: ignore[assignment]
        sys.modules.setdefault("anyio", None)  # type: ignore[arg-type]
    # Only now that a command runs: --help and usage errors need neither httpx nor the models.
    from librarian_client.checksum import ChecksumError
    from librarian_client.cli.context import Context
    from librarian_client.exceptions import LibrarianClientError, LibrarianHTTPError

    ctx = Context(args, transport)
    as_json = ctx.json
    try:
        code: int = args.func(ctx)
    except KeyboardInterrupt:
        _error("interrupted", as_json=as_json)
        return 130
    except BrokenPipeError:
        _quiet_broken_pipe()
        return 1
    except LibrarianClientError as exc:
        said = (exc.code or "") if isinstance(exc, LibrarianHTTPError) else ""
        _error(exc.reason, exc.suggested_remedy, as_json=as_json, code=said)
        return 1
    except ChecksumError as exc:
        remedy = "the server uses a checksum algorithm this client cannot compute"
        _error(str(exc), remedy, as_json=as_json)
        return 1
    except OSError as exc:
        _error(*_os_error(exc), as_json=as_json)
        return 1
    return code
