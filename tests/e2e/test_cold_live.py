"""A cold store end to end, every part a live process: the Librarian server, the tape
simulator and a NATS JetStream broker. A job of 10,000 files on tape completes through
the bus while the server is SIGKILLed and the broker killed and restarted under it; the
callback receiver gets one signed notification; no file is marked ready twice."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from librarian_server.transfer.notify import verify_signature
from tests.e2e.conftest import LiveServer
from tests.e2e.sites import wait_for
from tests.integration.cold.conftest import Receiver
from tests.tape import NatsServer, TapeSimulatorProcess

FILES = 10_000


@pytest.fixture(scope="module")
def bus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    nats = NatsServer(tmp_path_factory.mktemp("nats")).start()
    yield nats
    nats.stop()


@pytest.fixture(scope="module")
def tape(
    tmp_path_factory: pytest.TempPathFactory, bus: NatsServer
) -> Iterator[tuple[TapeSimulatorProcess, Path]]:
    base = tmp_path_factory.mktemp("tape")
    (base / "hsm").mkdir()
    (base / "tape").mkdir()
    sim = TapeSimulatorProcess(base / "sim")
    sim.start(base / "hsm", base / "tape", nats_url=bus.url, stage_delay=0.03)
    yield sim, base / "hsm"
    sim.stop()


def _on_disk(root: Path) -> int:
    return sum(1 for p in (root / "cold" / "files").rglob("*") if p.is_file())


def _ready_marked(server: LiveServer) -> int:
    """Copies marked ready, over every process's life: by events and by polls."""
    text = server.log_text()
    events = sum(int(n) for n in re.findall(r"tape events: \{[^}]*'ready': (\d+)", text))
    polls = sum(int(n) for n in re.findall(r"background task staging: \{[^}]*'ready': (\d+)", text))
    return events + polls


def test_a_10000_file_job_survives_a_server_sigkill_and_a_broker_restart(
    start_server: Callable[..., LiveServer],
    database_url: str | None,
    bus: NatsServer,
    tape: tuple[TapeSimulatorProcess, Path],
    tmp_path: Path,
) -> None:
    sim, hsm = tape
    env = {
        "LIBRARIAN_SERVER_COLD__EVENTS_URL": bus.url,
        "LIBRARIAN_SERVER_COLD__EVENTS_DURABLE": f"e2e-{'pg' if database_url else 'sqlite'}",
        "LIBRARIAN_SERVER_COLD__PIN_SECONDS": "1",  # the uploads go to tape at once
        "LIBRARIAN_SERVER_COLD__POLL_AFTER_SECONDS": "8",
        "LIBRARIAN_SERVER_COLD__RESTAGE_AFTER_SECONDS": "30",
        "LIBRARIAN_SERVER_BACKGROUND__STAGING__EVERY_SECONDS": "0.5",
        "LIBRARIAN_SERVER_BACKGROUND__DELIVER_OUTBOX__EVERY_SECONDS": "0.5",
    }
    server = start_server(database_url, env=env, users={"writer": "read-append"})
    root = hsm / ("pg" if database_url else "sqlite")
    root.mkdir()
    credentials = tmp_path / "tape.credentials"
    credentials.write_text(f"[tape]\naccount = {sim.account}\npassword = {sim.password}\n")
    server.admin(
        "add-store",
        "tape",
        str(root / "cold"),
        "--cold",
        sim.url,
        "--credentials-file",
        str(credentials),
    )
    server.admin("store", "disable", "local")

    source = tmp_path / "night"
    source.mkdir()
    for i in range(FILES):
        (source / f"f{i:05d}.dat").write_bytes(f"frame {i:05d}\n".encode() * 4)
    uploaded = server.cli("upload", str(source), "obs/night/")
    assert uploaded.returncode == 0, uploaded
    wait_for(lambda: _on_disk(root) == 0, timeout=120, what="every upload released to tape")

    server.env["LIBRARIAN_SERVER_COLD__PIN_SECONDS"] = "3600"
    server.restart()
    receiver = Receiver().start()
    try:
        with server.http() as http:
            r = http.post(
                "/api/v2/staging", json={"prefix": "obs/night/", "notify_url": receiver.url}
            )
            assert r.status_code == 202, r.text
            job = r.json()
            assert job["counts"]["total"] == FILES
            offline = http.get("/api/v2/download/obs/night/f00000.dat")
            assert offline.status_code == 409 and offline.json()["code"] == "file_offline"

        def ready() -> int:
            try:
                with server.http() as http:
                    return int(
                        http.get(f"/api/v2/staging/{job['id']}", params={"limit": 0}).json()[
                            "counts"
                        ]["ready"]
                    )
            except httpx.HTTPError:
                return 0

        wait_for(lambda: ready() > 500, timeout=120, what="the first files ready")
        server.kill()  # SIGKILL mid-job: some events handled but not acknowledged
        bus.kill()
        time.sleep(1.0)  # the tape system stages on; its events are dropped meanwhile
        bus.start()
        server.start()
        wait_for(lambda: ready() == FILES, timeout=300, what="every file ready")
        wait_for(lambda: receiver.received, timeout=60, what="the notification")
        time.sleep(2.0)  # time for a second delivery, were there one
        assert len(receiver.received) == 1
        headers, body = receiver.received[0]
        with server.http() as http:
            done = http.get(f"/api/v2/staging/{job['id']}", params={"limit": 0}).json()
            for name in ("obs/night/f00000.dat", "obs/night/f09999.dat"):
                got = http.get(f"/api/v2/download/{name}")
                assert got.status_code == 200
                assert got.content == f"frame {name[-9:-4]}\n".encode() * 4
    finally:
        receiver.stop()
    assert done["state"] == "complete" and done["counts"]["error"] == 0
    assert verify_signature(done["notify_secret"], body, headers["x-librarian-signature"])
    assert receiver.bodies()[0]["counts"]["ready"] == FILES
    # The log can only undercount (a SIGKILL between a commit and its log line loses the
    # line), so more marks than files would mean a copy marked twice; every file being
    # ready above says each was marked at least once.
    assert _ready_marked(server) <= FILES, "no copy marked ready twice"
    staged = sim_stats(sim)
    assert staged["staged"] >= FILES and staged["errors"] == 0


def sim_stats(sim: TapeSimulatorProcess) -> dict[str, Any]:
    with httpx.Client(base_url=sim.url, timeout=10) as http:
        token = http.post(
            "/v1/security/login", json={"acct": sim.account, "pass": sim.password}
        ).json()["response"]
        body: dict[str, Any] = http.get(
            "/v1/sim/stats",
            params={"per_path": "false"},
            headers={"Authorization": f"Bearer {token}"},
        ).json()["response"]
        return body
