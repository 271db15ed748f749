"""The CLI starts fast because it imports only what a command needs: guarded without timing.

Each case runs the CLI in a fresh interpreter and lists which heavy modules it
imported; ``bench.cli_startup`` measures the time itself.
"""

from __future__ import annotations

import argparse
import http.server
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from librarian_client.cli import build_parser
from librarian_client.cli.parsers import Command
from librarian_client.limits import API_PREFIX

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

# ``ping`` reads its answer and the config file as plain JSON: no wire model is built,
# and the uploader stays unloaded.
UNUSED_BY_PING = [
    *(
        f"librarian_client.models.{name}"
        for name in ("admin", "clone", "deletion", "files", "replication", "sneakernet", "upload")
    ),
    "librarian_client._upload",
]
# Loading pydantic and building the models' validators would double ``ping``'s start-up.
PYDANTIC = {
    "pydantic",
    "pydantic_core",
    "librarian_client.config",
    "librarian_client.models.common",
}

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
    assert {"httpx", "librarian_client.client"} <= modules
    assert sorted(modules & {"tqdm", "librarian_client.cli.progress", *FOREIGN}) == []
    assert sorted(modules & {*UNUSED_BY_PING, "anyio", "httpx._main", "pygments"}) == []
    assert sorted(modules & PYDANTIC) == []


@pytest.fixture
def ping_server() -> Iterator[tuple[str, list[str | None]]]:
    """A loopback HTTP server answering ``ping`` as a librarian does; the auth headers seen."""
    seen: list[str | None] = []
    answer = {"name": "librarian", "version": "0.1.0", "checksum_algorithm": "md5"}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization"))
            found = self.path == f"{API_PREFIX}/ping"
            body = json.dumps({**answer, "user": "alice", "permission": "admin"}).encode()
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_a_ping_that_succeeds_reads_its_config_and_answer_without_pydantic(
    tmp_path: Path, ping_server: tuple[str, list[str | None]]
) -> None:
    url, seen = ping_server
    stored = {"url": url, "username": "alice", "password": None, "token": "t0k"}
    config = {"default": "here", "connections": {"here": stored}}
    (tmp_path / "client.json").write_text(json.dumps(config))

    code, modules = loaded(tmp_path, "ping")

    assert code == 0
    assert seen == ["Bearer t0k"]  # the connection came from the file
    assert sorted(modules & PYDANTIC) == []
    assert sorted(modules & {*UNUSED_BY_PING, "tqdm", *FOREIGN}) == []


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
