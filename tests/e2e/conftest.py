"""Live servers for end-to-end tests: real ``librarian-server run`` processes, the real CLI.

``start_server(database_url)`` starts one server under pytest-xprocess on a free
127.0.0.1 port, with its own data directory and its own HOME/XDG_CONFIG_HOME (so
nothing touches the real ~/.config), and creates the users ``writer``
(read-append) and ``reader`` (read-only) with ``librarian-server create-user``.
``server.cli(...)`` runs the ``librarian`` command against it as a subprocess;
``server.kill()`` / ``server.restart()`` SIGKILL it and start it again on the
same data directory and database.

``database_url`` is overridden here with module scope (same parameters as the
root fixture): each module starts its servers once per backend.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import httpx
import pytest
from xprocess import ProcessStarter, XProcess

from tests import pg

VENV_BIN = Path(sys.executable).parent
START_TIMEOUT = 60
USERS = {"writer": "read-append", "reader": "read-only"}

_started: list[LiveServer] = []


def _command(script: str, fallback: list[str]) -> list[str]:
    found = shutil.which(script, path=str(VENV_BIN))
    return [found] if found else [sys.executable, *fallback]


LIBRARIAN = _command("librarian", ["-m", "librarian_client.cli"])
LIBRARIAN_SERVER = _command(
    "librarian-server", ["-c", "from librarian_server.cli import entrypoint; entrypoint()"]
)


def md5(data: bytes) -> str:
    """The catalogue's checksum string for ``data``."""
    return "md5:" + hashlib.md5(data).hexdigest()  # noqa: S324 - not for security


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class CLIResult(NamedTuple):
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        assert self.returncode == 0, self
        return json.loads(self.stdout)

    def error(self) -> str:
        """The one ``librarian: error: ...`` line of a command that failed with status 1."""
        assert self.returncode == 1, self
        lines = self.stderr.splitlines()
        assert len(lines) == 1, f"expected one error line, got {self.stderr!r}"
        assert lines[0].startswith("librarian: error: "), lines[0]
        return lines[0]


def run(command: Sequence[str], env: dict[str, str], timeout: float = 120) -> CLIResult:
    done = subprocess.run(
        list(command), env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    return CLIResult(done.returncode, done.stdout, done.stderr)


def isolated_env(home: Path) -> dict[str, str]:
    """The caller's environment without LIBRARIAN_*, with HOME and XDG dirs under ``home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIBRARIAN_")}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CACHE_HOME=str(home / ".cache"),
        PYTHONUNBUFFERED="1",
        LIBRARIAN_SERVER_WRITE_CLIENT_CONFIG="false",
        # 4,096 bucket directories per live server add up over a suite.
        LIBRARIAN_SERVER_DEFAULT_STORE_BUCKETS="on-first-use",
    )
    return env


class LiveServer:
    """One ``librarian-server run`` process, its data directory, and its machine's HOME."""

    def __init__(
        self,
        xprocess: XProcess,
        name: str,
        base: Path,
        database_url: str | None,
        env: dict[str, str],
        run_args: Sequence[str],
    ) -> None:
        self.xprocess = xprocess
        self.name = name
        self.database_url = database_url
        self.backend = "sqlite" if database_url is None else "postgres"
        self.home = base / "home"
        self.home.mkdir()
        self.data_dir = base / "data"
        self.secrets_dir = base / "secrets"
        self.secrets_dir.mkdir(mode=0o700)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = isolated_env(self.home) | env
        if database_url is not None:
            self.env["LIBRARIAN_SERVER_DATABASE_URL"] = database_url
        self.run_args = list(run_args)
        self.passwords: dict[str, str] = {}
        self.log_path: Path | None = None
        self.popen: subprocess.Popen[bytes] | None = None

    @property
    def store_dir(self) -> Path:
        return self.data_dir / "store"

    @property
    def site(self) -> str:
        return self.env.get("LIBRARIAN_SERVER_SITE_NAME", "librarian")

    def staging_entries(self) -> list[str]:
        staging = self.store_dir / "staging"
        return sorted(p.name for p in staging.iterdir()) if staging.is_dir() else []

    def stored_files(self) -> list[str]:
        """Relative paths of every file under the store's files/ (fan-out dirs included)."""
        files = self.store_dir / "files"
        return sorted(str(p.relative_to(files)) for p in files.rglob("*") if p.is_file())

    # -- the server's admin CLI ---------------------------------------------------

    def admin(self, *args: str) -> CLIResult:
        command = [*LIBRARIAN_SERVER, *args, "--data-dir", str(self.data_dir)]
        result = run(command, self.env)
        assert result.returncode == 0, f"librarian-server {' '.join(args)} failed: {result}"
        return result

    def add_user(self, name: str, level: str) -> None:
        password = secrets.token_urlsafe(16)
        path = self.password_file(name)
        path.touch(mode=0o600)
        path.write_text(password + "\n")
        self.passwords[name] = password
        self.admin("create-user", name, "--level", level, "--password-file", str(path))

    def password_file(self, user: str) -> Path:
        if user == "admin":  # created by the server's first start
            return self.data_dir / "initial-admin-password"
        return self.secrets_dir / f"{user}.password"

    # -- the process ------------------------------------------------------------------

    def start(self) -> None:
        server = self

        class Starter(ProcessStarter):  # type: ignore[misc]
            args: ClassVar[list[str]] = [
                *LIBRARIAN_SERVER,
                "run",
                "--data-dir",
                str(server.data_dir),
                "--host",
                "127.0.0.1",
                "--port",
                str(server.port),
                *server.run_args,
            ]
            env = server.env
            pattern = rf"Uvicorn running on http://127\.0\.0\.1:{server.port}\b"
            timeout = START_TIMEOUT
            max_read_lines = 1000
            terminate_on_interrupt = True

            def get_lines(self, log_file: Any) -> Iterator[str]:
                # Fail at once, not after the timeout, when the server exits early.
                for line in super().get_lines(log_file):
                    if not line and not server.info().isrunning():
                        raise RuntimeError(f"librarian-server exited; see {server.log_path}")
                    yield line

        self._forget_pid()
        # The first start truncates what an earlier session logged under this name.
        first = self.log_path is None
        self.log_path = Path(str(self.info().logpath))
        try:
            self.xprocess.ensure(self.name, Starter, restart=True, persist_logs=not first)
        finally:  # even when it never became ready: stop() must still end it
            self.popen = self.xprocess.resources[-1].popen

    def _forget_pid(self) -> None:
        # A PID file left by an earlier run names a process that is not ours to signal.
        pidpath = self.info().pidpath
        if pidpath.check():
            pidpath.remove()

    def info(self) -> Any:
        return self.xprocess.getinfo(self.name)

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no clean-up, like a power cut to the process."""
        assert self.popen is not None
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(10)
        self.popen = None

    def restart(self) -> None:
        if self.popen is not None:
            self.kill()
        self.start()

    def stop(self) -> None:
        if self.popen is not None:
            self.info().terminate()  # SIGTERM, then SIGKILL after 20 s
            self.popen.wait(30)
            self.popen = None
        self._forget_pid()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    # -- clients ------------------------------------------------------------------------

    def cli(
        self, *args: str, user: str | None = "writer", env: dict[str, str] | None = None
    ) -> CLIResult:
        """``librarian --url URL [--username U --password-file F] --no-progress ARGS``."""
        flags = ["--url", self.url]
        if user is not None:
            flags += ["--username", user, "--password-file", str(self.password_file(user))]
        return run([*LIBRARIAN, *flags, "--no-progress", *args], self.env | (env or {}))

    def bare_cli(self, *args: str, env: dict[str, str] | None = None) -> CLIResult:
        """``librarian ARGS`` with no connection flags: config file and env decide."""
        return run([*LIBRARIAN, *args], self.env | (env or {}))

    def http(self, user: str = "writer") -> httpx.Client:
        password = self.password_file(user).read_text().strip()
        return httpx.Client(base_url=self.url, auth=(user, password), timeout=30)


def _stop_servers_using(url: str) -> None:
    """Before a database is dropped: its servers stop first, so they log no lost connection."""
    for server in _started:
        if server.database_url == url:
            server.stop()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """Module-scoped twin of the root fixture: None = embedded SQLite, else a fresh PG DB."""
    if request.param == "sqlite":
        yield None
        return
    with pg.temporary_database() as url:
        yield url
        _stop_servers_using(url)


@pytest.fixture(scope="module")
def new_database(database_url: str | None) -> Iterator[Callable[[], str | None]]:
    """More databases of the module's backend, one per extra site (None for SQLite)."""
    stack = contextlib.ExitStack()

    def factory() -> str | None:
        if database_url is None:
            return None
        url = stack.enter_context(pg.temporary_database())
        stack.callback(_stop_servers_using, url)  # runs before the drop
        return url

    with stack:
        yield factory


@pytest.fixture(scope="module")
def start_server(
    xprocess: XProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., LiveServer]]:
    """Factory: ``start_server(database_url, *, store_capacity=None, env={}, users=USERS)``."""
    servers: list[LiveServer] = []

    def factory(
        database_url: str | None,
        *,
        store_capacity: int | None = None,
        env: dict[str, str] | None = None,
        users: dict[str, str] | None = None,
        run_args: Sequence[str] = (),
    ) -> LiveServer:
        env = dict(env or {})
        if database_url is None and store_capacity is not None:
            env["LIBRARIAN_SERVER_DEFAULT_STORE_CAPACITY_BYTES"] = str(store_capacity)
        name = f"librarian-e2e-{len(_started)}"
        base = tmp_path_factory.mktemp(name)
        server = LiveServer(xprocess, name, base, database_url, env, run_args)
        servers.append(server)
        _started.append(server)
        if database_url is not None:
            # A production database is migrated by the operator and gets no automatic store.
            server.admin("migrate")
            capacity = [] if store_capacity is None else ["--capacity", str(store_capacity)]
            server.admin("add-store", "local", str(server.store_dir), *capacity)
        server.start()
        for user, level in (USERS if users is None else users).items():
            server.add_user(user, level)
        return server

    yield factory
    for server in servers:
        server.stop()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _started:
        terminalreporter.section("librarian e2e servers")
        for s in _started:
            terminalreporter.write_line(f"{s.name} ({s.backend}) {s.url} log: {s.log_path}")
