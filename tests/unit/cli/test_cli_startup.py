"""The CLI starts fast because it imports only what a command needs: guarded without timing.

Each case runs the CLI in a fresh interpreter and lists which heavy modules it
imported; ``bench.cli_startup`` measures the time itself.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from librarian_client.cli import build_parser
from librarian_client.cli.parsers import Command

# What a command that talks to no server must not load (each costs milliseconds to tens of ms).
HEAVY = [
    "httpx",
    "httpcore",
    "pydantic",
    "pydantic_core",
    "tqdm",
    "ssl",
    "dataclasses",
    "importlib.metadata",
    "librarian_client.client",
    "librarian_client.models",
    "librarian_client.exceptions",
    "librarian_client.cli.context",
]
# Never needed by the CLI at all.
FOREIGN = ["sqlalchemy", "fastapi", "starlette", "uvicorn", "librarian_server", "click", "rich"]

# ``ping`` reads one wire model; the modules of the others (and the uploader) stay unloaded.
PING_MODELS = "librarian_client.models.admin"
UNUSED_BY_PING = [
    *(
        f"librarian_client.models.{name}"
        for name in ("clone", "deletion", "files", "replication", "sneakernet", "upload")
    ),
    "librarian_client._upload",
]

PROBE = """
import json, sys
from librarian_client.cli import main
code = main(sys.argv[1:])
# A name mapped to None was kept from being imported: it is not loaded.
loaded = sorted(name for name, module in sys.modules.items() if module is not None)
print(json.dumps({"code": code, "modules": loaded}), file=sys.stderr)
"""


def loaded(tmp_path: Path, *words: str) -> tuple[int, set[str]]:
    """Run ``librarian WORDS`` in a new interpreter: its exit code and the modules it imported."""
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "LIBRARIAN_CLIENT_CONFIG": str(tmp_path / "client.json"),
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *words],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return report["code"], set(report["modules"])


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("words", "needed"),
    [
        (["--help"], set()),
        (["--version"], {"importlib.metadata"}),  # the installed version is looked up
        (["upload", "--help"], set()),
        (["transfers", "--help"], set()),
        (["ls", "--no-such-option"], set()),
    ],
)
def test_help_and_usage_errors_import_neither_httpx_nor_the_models(
    tmp_path: Path, words: list[str], needed: set[str]
) -> None:
    code, modules = loaded(tmp_path, *words)

    assert code in (0, 2)
    assert sorted(modules & {*HEAVY, *FOREIGN} - needed) == []


def test_ping_imports_the_client_but_no_progress_bars_and_no_server(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"

    code, modules = loaded(tmp_path, "--url", url, "ping")

    assert code == 1  # nothing listens there: one error line, after a real attempt
    assert {"httpx", "pydantic", "librarian_client.client", PING_MODELS} <= modules
    assert sorted(modules & {"tqdm", "librarian_client.cli.progress", *FOREIGN}) == []
    assert sorted(modules & {*UNUSED_BY_PING, "anyio", "httpx._main", "pygments"}) == []


def test_completion_imports_no_progress_bars_and_no_server(tmp_path: Path) -> None:
    code, modules = loaded(tmp_path, "completion", "bash")

    assert code == 0
    assert sorted(modules & {"tqdm", "librarian_client.cli.progress", *FOREIGN}) == []


def commands(parser: argparse.ArgumentParser) -> Iterator[Command]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield from commands(child)
    func = parser.get_default("func")
    if isinstance(func, Command):
        yield func


def test_every_command_names_a_function_that_exists() -> None:
    named = list(commands(build_parser()))

    assert len(named) > 20
    for command in named:
        assert callable(command.load()), command
