"""The ``librarian`` command line: a thin argparse layer over ``LibrarianClient``.

``main(argv=None, *, transport=None) -> int`` returns the exit code; the
console-script wrapper (``librarian = librarian_client.cli:main``) and
``python -m librarian_client.cli`` pass it to ``sys.exit``.
"""

from librarian_client.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
