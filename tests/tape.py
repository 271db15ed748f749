"""Live helpers for the cold store's tests: the tape simulator and a NATS JetStream broker,
each a real process on a free loopback port in its own process group (an ``atexit`` hook
SIGKILLs whatever a dying test run leaves behind)."""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from librarian_server.stores.tape.base import TapeError
from librarian_server.stores.tape.scout import ScoutClient

NATS_SERVER = "/usr/sbin/nats-server"

_live: set[subprocess.Popen[bytes]] = set()


@atexit.register
def _kill_all() -> None:
    for proc in list(_live):
        _signal_group(proc, signal.SIGKILL)


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)


def _end(proc: subprocess.Popen[bytes], sig: signal.Signals, grace: float) -> None:
    """Signal the group, wait, then SIGKILL what is left."""
    _signal_group(proc, sig)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        _signal_group(proc, signal.SIGKILL)
        proc.wait(timeout=10)
    _live.discard(proc)


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL a process started in its own session, and everything it started."""
    _end(proc, signal.SIGKILL, grace=10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path, lines: int = 30) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


class TapeSimulatorProcess:
    """``python -m librarian_server.tape_simulator`` with a random password in a file."""

    account = "tape-test"

    def __init__(self, workdir: Path | None = None) -> None:
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="tapesim-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.password = secrets.token_urlsafe(16)
        self.password_file = self.workdir / "tape-password"
        self.password_file.write_text(self.password + "\n")
        self.password_file.chmod(0o600)
        self.log = self.workdir / "tape-simulator.log"
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, root: Path, tape: Path, **options: Any) -> TapeSimulatorProcess:
        """Options are the command line's, in Python spelling: ``stage_delay=0.5``."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.port = free_port()
        argv = [sys.executable, "-m", "librarian_server.tape_simulator"]
        argv += ["--root", str(root), "--tape", str(tape), "--port", str(self.port)]
        argv += ["--account", self.account, "--password-file", str(self.password_file)]
        for name, value in options.items():
            if value is not None:
                argv += [f"--{name.replace('_', '-')}", str(value)]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        _live.add(self.proc)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + 20
        client = self.client(timeout=5.0)
        try:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"tape simulator exited:\n{_tail(self.log)}")
                try:
                    client.cache_state()
                    return
                except TapeError:
                    if time.monotonic() > deadline:
                        self.kill()
                        raise RuntimeError(
                            f"tape simulator not ready:\n{_tail(self.log)}"
                        ) from None
                    time.sleep(0.05)
        finally:
            client.close()

    def client(self, **options: Any) -> ScoutClient:
        return ScoutClient(self.url, self.account, self.password, **options)

    def stop(self) -> None:
        """SIGTERM, as an operator would; the simulator must exit by itself."""
        if self.proc is not None:
            _end(self.proc, signal.SIGTERM, grace=10)

    def kill(self) -> None:
        if self.proc is not None:
            _end(self.proc, signal.SIGKILL, grace=10)


class NatsServer:
    """One nats-server with JetStream and a file store; ``restart`` keeps the port and the
    store, so a stream's messages outlive the broker's crash as they would in production."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.store = workdir / "nats-store"
        self.log = workdir / "nats-server.log"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> NatsServer:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.workdir.mkdir(parents=True, exist_ok=True)
        argv = [NATS_SERVER, "-js", "-a", "127.0.0.1", "-p", str(self.port)]
        argv += ["-sd", str(self.store)]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        _live.add(self.proc)
        deadline = time.monotonic() + 15
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nats-server exited:\n{_tail(self.log)}")
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"nats-server not listening:\n{_tail(self.log)}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            _end(self.proc, signal.SIGTERM, grace=10)

    def kill(self) -> None:
        """SIGKILL: a crash, with no chance to flush or say goodbye."""
        if self.proc is not None:
            _end(self.proc, signal.SIGKILL, grace=10)

    def restart(self) -> NatsServer:
        self.kill()
        return self.start()
