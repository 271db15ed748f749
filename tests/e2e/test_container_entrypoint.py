"""``container/entrypoint.sh`` itself, outside a container, against the real PostgreSQL.

It is started as the image starts it (the settings of ``container/librarian.env``, secrets
as files, a data directory standing for the volume), and must migrate, add the first store
under the data directory, create the first admin and serve with several workers; the
Dockerfile's HEALTHCHECK command, run as written, must then pass.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from cryptography.fernet import Fernet

from tests import pg
from tests.e2e.conftest import LIBRARIAN_SERVER, VENV_BIN, free_port, isolated_env

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "container" / "entrypoint.sh"


def _env_file() -> dict[str, str]:
    text = (ROOT / "container" / "librarian.env").read_text()
    pairs = (line.split("=", 1) for line in text.splitlines() if line and line[0] != "#")
    return dict(pairs)


def _healthcheck_command() -> list[str]:
    dockerfile = (ROOT / "container" / "Dockerfile").read_text()
    match = re.search(r"HEALTHCHECK [^\n]*\\\n\s+CMD (\[.*\])", dockerfile)
    assert match, "no HEALTHCHECK ... CMD [...] in the Dockerfile"
    command: list[str] = json.loads(match.group(1))
    assert command[0] == "python"
    return [str(VENV_BIN / "python"), *command[1:]]


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment the image gives the entrypoint, with a fresh database and volume."""
    with pg.temporary_database() as url:
        secrets = tmp_path / "run-secrets"
        secrets.mkdir()
        (secrets / "database_url").write_text(url + "\n")
        (secrets / "secret_key").write_text(Fernet.generate_key().decode() + "\n")
        port = free_port()
        env = isolated_env(tmp_path / "home")
        env.update(_env_file())
        env.update(
            PATH=f"{VENV_BIN}:{env['PATH']}",
            LIBRARIAN_SERVER_DATA_DIR=str(tmp_path / "data"),  # the volume
            LIBRARIAN_SERVER_HOST="127.0.0.1",
            LIBRARIAN_SERVER_PORT=str(port),
            LIBRARIAN_SERVER_PUBLIC_URL=f"https://librarian.example.org:{port}",
            LIBRARIAN_SERVER_WORKERS="2",  # the env file's 4 is more than this machine needs
            LIBRARIAN_SERVER_DATABASE_URL_FILE=str(secrets / "database_url"),
            LIBRARIAN_SERVER_SECRET_KEY_FILE=str(secrets / "secret_key"),
        )
        yield env


class Started:
    def __init__(self, env: dict[str, str], log: Path, *args: str) -> None:
        self.env, self.log = env, log
        self.url = f"http://127.0.0.1:{env['LIBRARIAN_SERVER_PORT']}"
        self._out = log.open("w")
        self.proc = subprocess.Popen(
            [str(ENTRYPOINT), *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                if httpx.get(self.url + "/api/v2/ping", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"not serving after {timeout} s:\n{self.log.read_text()}")

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        finally:
            self._out.close()
            if self.proc.poll() is None:
                for child in psutil.Process(self.proc.pid).children(recursive=True):
                    child.kill()
                self.proc.kill()


def _admin_cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [*LIBRARIAN_SERVER, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_first_start_migrates_adds_store_and_admin_then_serves(
    deployment: dict[str, str], tmp_path: Path
) -> None:
    data = Path(deployment["LIBRARIAN_SERVER_DATA_DIR"])
    server = Started(deployment, tmp_path / "first.log")
    try:
        server.wait_ready()
        # Several workers under one supervising process.
        workers = psutil.Process(server.proc.pid).children(recursive=True)
        assert len([w for w in workers if "python" in w.name()]) >= 2, workers

        password = (data / "initial-admin-password").read_text().strip()
        pong = httpx.get(server.url + "/api/v2/ping", auth=("admin", password)).json()
        assert (pong["name"], pong["user"], pong["permission"]) == ("mysite", "admin", "admin")

        (store,) = json.loads(_admin_cli(deployment, "stores", "--json"))
        assert (store["name"], Path(store["root"])) == ("local", (data / "store").resolve())

        # Links are made with the public URL the proxy serves, not the address it reached.
        caps = httpx.get(server.url + "/vospace/capabilities").text
        assert deployment["LIBRARIAN_SERVER_PUBLIC_URL"] + "/vospace" in caps

        # The Dockerfile's HEALTHCHECK, as written, passes against the live server ...
        health = _healthcheck_command()
        done = subprocess.run(health, env=deployment, capture_output=True, timeout=30, check=False)
        assert done.returncode == 0, done.stderr
        # ... and the background worker's command runs on the migrated schema.
        worker = subprocess.run(
            [str(ENTRYPOINT), "background", "--once"],
            env=deployment,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert worker.returncode == 0, worker.stdout + worker.stderr
    finally:
        code = server.stop()
    assert code == 0, server.log.read_text()
    first_log = server.log.read_text()
    assert "Created the first admin user 'admin'" in first_log
    assert password not in first_log
    assert "added store 'local'" in first_log

    # The health check fails once nothing serves: it would mark the container unhealthy.
    done = subprocess.run(health, env=deployment, capture_output=True, timeout=30, check=False)
    assert done.returncode != 0

    # A restart (same volume and database) adds no store or admin and serves again.
    again = Started(deployment, tmp_path / "second.log", "run")
    try:
        again.wait_ready()
    finally:
        assert again.stop() == 0
    second_log = again.log.read_text()
    assert "Created the first admin" not in second_log and "none added" in second_log
    assert len(json.loads(_admin_cli(deployment, "stores", "--json"))) == 1
    assert (data / "initial-admin-password").read_text().strip() == password


def test_an_unreadable_secret_file_is_named_before_anything_starts(
    deployment: dict[str, str], tmp_path: Path
) -> None:
    missing = tmp_path / "not-there"
    env = {**deployment, "LIBRARIAN_SERVER_DATABASE_URL_FILE": str(missing)}
    done = subprocess.run(
        [str(ENTRYPOINT)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1
    assert done.stderr.startswith(
        f"librarian-entrypoint: LIBRARIAN_SERVER_DATABASE_URL_FILE={missing} cannot be read"
    ), done.stderr
    assert "chown" in done.stderr
    assert not Path(env["LIBRARIAN_SERVER_DATA_DIR"]).exists()
