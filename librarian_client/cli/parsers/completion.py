"""The parser of ``librarian completion bash|zsh``."""

from __future__ import annotations

import argparse

from librarian_client.cli.output import examples
from librarian_client.cli.parsers import Command


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], root: argparse.ArgumentParser
) -> None:
    completion = sub.add_parser(
        "completion",
        help="print a shell completion script",
        description="Print a completion script for bash or zsh on stdout.",
        epilog=examples(
            "librarian completion bash > ~/.local/share/bash-completion/completions/librarian",
            "source <(librarian completion bash)      # this shell only, or in ~/.bashrc",
            "source <(librarian completion zsh)       # in ~/.zshrc",
        ),
    )
    completion.add_argument("shell", choices=["bash", "zsh"], help="the shell to complete for")
    completion.set_defaults(func=Command("completion", "cmd_completion"), root_parser=root)
