"""``librarian-server``: run the service and administer its catalogue.

Each command imports the app, the services or the database inside its function, so that
``--help`` and a mistyped command answer at once; no import here dodges a cycle (the
layers are checked with function-level imports included).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from librarian_server.cli import background, dark, peers, release, site, stores, users
from librarian_server.cli.common import CLIError
from librarian_server.cli.errors import EXPECTED, error_lines

__all__ = ["CLIError", "build_parser", "entrypoint", "main"]


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", type=Path, help="data directory (LIBRARIAN_SERVER_DATA_DIR)")
    common.add_argument("--config", type=Path, help="TOML or JSON settings file")

    parser = argparse.ArgumentParser(prog="librarian-server", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for module in (site, users, stores, release, dark, peers, background):
        module.register(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except EXPECTED as exc:
        for line in error_lines(exc):
            print(f"librarian-server: error: {line}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def entrypoint() -> None:
    sys.exit(main())
