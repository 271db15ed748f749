"""The argument parsers of the ``librarian`` subcommands, apart from what they run.

Building the whole parser (for ``--help``, usage errors or shell completion)
imports none of the commands: each subcommand names its implementation as a
``Command``, and only the one that runs is imported, with the client, httpx and
the wire models it needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from librarian_client.cli.context import Context


class Command:
    """``cmd_ls`` in ``librarian_client.cli.catalogue``, imported when it is called.

    A plain class: ``dataclasses`` alone would cost ``--help`` some 10 ms of imports.
    """

    __slots__ = ("function", "module")

    def __init__(self, module: str, function: str) -> None:
        self.module = module
        self.function = function

    def __repr__(self) -> str:
        return f"Command({self.module!r}, {self.function!r})"

    def load(self) -> Callable[[Context], int]:
        module = importlib.import_module(f"librarian_client.cli.{self.module}")
        function: Callable[[Context], int] = getattr(module, self.function)
        return function

    def __call__(self, ctx: Context) -> int:
        return self.load()(ctx)
