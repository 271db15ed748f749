"""Shared benchmark plumbing: a live server on loopback, timing, and peak RSS."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    data_dir: Path
    env: dict[str, str]
    admin_password: str

    def peak_rss_mb(self) -> float:
        """High-water RSS of the server process (VmHWM), in MB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def cli(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [str(BIN / "librarian"), "--no-progress", *args],
            env=self.env,
            check=True,
            capture_output=True,
        )


PG = os.environ.get("LIBRARIAN_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")


@contextmanager
def postgres_database() -> Iterator[str]:
    """A throw-away database on the server at LIBRARIAN_TEST_POSTGRES, dropped after."""
    import uuid

    import psycopg

    name = f"librarian_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG}/{name}"
    finally:
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def live_server(workdir: Path, **env_overrides: str) -> Iterator[Server]:
    data = workdir / "server"
    port = free_port()
    env = dict(os.environ)
    env.update(
        {
            "HOME": str(workdir / "home"),
            "XDG_CONFIG_HOME": str(workdir / "home" / ".config"),
            "LIBRARIAN_SERVER_WRITE_CLIENT_CONFIG": "false",
            "LIBRARIAN_SERVER_LOG_LEVEL": "WARNING",
        }
    )
    env.update(env_overrides)
    log = open(workdir / "server.log", "wb")  # closed below
    process = subprocess.Popen(
        [str(BIN / "librarian-server"), "run", "--data-dir", str(data), "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url + "/api/v2/ping", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start; see {workdir}/server.log") from None
                time.sleep(0.2)
        password = (data / "initial-admin-password").read_text().strip()
        # The CLI authenticates as after the quick start: with a bearer token.
        token = httpx.post(
            url + "/api/v2/tokens", json={}, auth=("admin", password), timeout=30
        ).json()["token"]
        client_env = dict(env)
        client_env.update(
            {
                "LIBRARIAN_URL": url,
                "LIBRARIAN_TOKEN": token,
            }
        )
        yield Server(process, url, data, client_env, password)
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@contextmanager
def workspace() -> Iterator[Path]:
    base = Path(os.environ.get("LIBRARIAN_BENCH_DIR", tempfile.gettempdir()))
    path = Path(tempfile.mkdtemp(prefix="librarian-bench-", dir=base))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def timed(fn: Callable[..., object], *args: object) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def make_file(path: Path, size: int, chunk: int = 1 << 24) -> None:
    with open(path, "wb") as handle:
        left = size
        block = os.urandom(min(chunk, size))
        while left > 0:
            handle.write(block[: min(len(block), left)])
            left -= len(block)


# A line of the figures: what, measured, target, PASS or MISS.
Row = tuple[str, str, str, str]


def table(
    rows: list[Row],
    head: Row = ("benchmark", "measured", "target", "result"),
) -> str:
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in [head, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
