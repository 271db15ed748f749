"""A cold store on the tape simulator: a staging job's end-to-end time against the
simulator's own staging time, and tape events handled per second against a bare
JetStream consumer.

Starts a NATS JetStream broker, the tape simulator and a live ``librarian-server`` with
a cold store on the simulator; uploads FILES small files and lets them go to tape.
Then, interleaved over several rounds:

- *simulator alone*: the same FILES paths staged straight through its REST API (one
  client, batches of 10,000), timed until its stats count them all staged;
- *Librarian job*: ``POST /api/v2/staging`` of the prefix, timed until the job is
  complete (stage requests from the staging task, readiness from the bus events).

Last, in this process on the server's catalogue: FILES "staged" events published to a
stream of their own and consumed by the server's handler (``handle_events``: look up
the copies, check each on the disk cache, mark them and their jobs in one transaction,
acknowledge after commit) against a consumer whose handler does nothing.

    python -m bench.tape_staging [--files 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import delete, select, update

from bench.common import Row, live_server, table, workspace
from librarian_client.models import StagingRequest
from librarian_server.bus.nats import NatsEventSource, publish_events
from librarian_server.db import make_engine, make_session_factory
from librarian_server.orm import Instance, StagedCopy, Store, StoreKind
from librarian_server.services.cold.jobs import create_job
from librarian_server.services.cold.rounds import handle_events
from librarian_server.settings import load_settings
from librarian_server.stores.tape import StageEvent
from tests.tape import NatsServer, TapeSimulatorProcess

ADMIN = [str(Path(sys.executable).parent / "librarian-server")]


def _wait(condition: Callable[[], Any], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _on_disk(root: Path) -> int:
    return sum(1 for p in (root / "files").rglob("*") if p.is_file())


class Tape:
    def __init__(self, sim: TapeSimulatorProcess) -> None:
        self.sim = sim
        self.http = httpx.Client(base_url=sim.url, timeout=60)
        token = self.http.post(
            "/v1/security/login", json={"acct": sim.account, "pass": sim.password}
        ).json()["response"]
        self.http.headers["Authorization"] = f"Bearer {token}"

    def staged(self) -> int:
        r = self.http.get("/v1/sim/stats", params={"per_path": "false"})
        return int(r.json()["response"]["staged"])

    def stage_all(self, paths: list[str], *, release: bool = True) -> float:
        """The simulator alone: stage every path, until it counts them staged."""
        before = self.staged()
        start = time.perf_counter()
        for i in range(0, len(paths), 10_000):
            self.http.post("/v1/file/stage", json={"path": paths[i : i + 10_000]})
        _wait(lambda: self.staged() - before >= len(paths), 600, "the simulator's staging")
        seconds = time.perf_counter() - start
        if release:
            self.release(paths)
        return seconds

    def release(self, paths: list[str]) -> None:
        for i in range(0, len(paths), 10_000):
            self.http.post("/v1/file/release", json={"path": paths[i : i + 10_000]})


def _job(http: httpx.Client) -> float:
    start = time.perf_counter()
    job = http.post("/api/v2/staging", json={"prefix": "bench/"}).json()

    def done() -> bool:
        state = http.get(f"/api/v2/staging/{job['id']}", params={"limit": 0}).json()["state"]
        if state not in ("pending", "complete"):
            raise RuntimeError(f"the job ended {state}")
        return bool(state == "complete")

    _wait(done, 600, "the staging job")
    return time.perf_counter() - start


def _consume(url: str, durable: str, handle: Callable[[list[StageEvent]], None], n: int) -> float:
    """Seconds a consumer takes to take ``n`` events through ``handle`` (acked after it)."""
    seen = 0
    lock = threading.Lock()
    finished = threading.Event()
    stop = threading.Event()

    def counted(events: list[StageEvent]) -> None:
        nonlocal seen
        handle(events)
        with lock:
            seen += len(events)
            if seen >= n:
                finished.set()

    source = NatsEventSource(url, durable=durable, stream="BENCH", subject_prefix="bench.events")
    start = time.perf_counter()
    thread = threading.Thread(target=source.run, args=(counted, stop), daemon=True)
    thread.start()
    if not finished.wait(600):
        raise RuntimeError(f"{durable} took only {seen} of {n} events")
    seconds = time.perf_counter() - start
    stop.set()
    thread.join(10)
    return seconds


def _events(server_data: Path, bus: NatsServer, files: int) -> tuple[float, float]:
    """Events per second through the server's handler, and through a no-op handler."""
    settings = load_settings(data_dir=server_data, write_client_config=False)
    engine = make_engine(settings)
    factory = make_session_factory(engine)
    try:
        with factory.begin() as session:
            cold = session.scalars(select(Store.id).where(Store.kind == StoreKind.COLD)).one()
            session.execute(
                update(Instance).where(Instance.store_id == cold).values(available=False)
            )
            session.execute(delete(StagedCopy))
            create_job(session, StagingRequest(prefix="bench/"), owner="bench", settings=settings)
        with factory() as session:
            rows = session.execute(
                select(StagedCopy.tape_path, Instance.path).join(
                    Instance, Instance.id == StagedCopy.instance_id
                )
            ).all()
        events = [StageEvent(path=p, status="staged", size=None) for p, _ in rows]
        assert len(events) == files, (len(events), files)
        publish_events(bus.url, events, stream="BENCH", subject_prefix="bench.events")
        bare = _consume(bus.url, "bench-bare", lambda batch: None, files)
        lib = _consume(
            bus.url, "bench-librarian", lambda batch: _handled(factory, batch, settings), files
        )
        return files / lib, files / bare
    finally:
        engine.dispose()


def _handled(factory: Any, batch: list[StageEvent], settings: Any) -> None:
    handle_events(factory, batch, settings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    with workspace() as work:
        bus = NatsServer(work / "nats").start()
        (work / "hsm").mkdir()
        (work / "tape").mkdir()
        sim = TapeSimulatorProcess(work / "sim")
        sim.start(work / "hsm", work / "tape", nats_url=bus.url)
        tape = Tape(sim)
        root = work / "hsm" / "librarian"
        credentials = work / "tape.credentials"
        credentials.write_text(f"[tape]\naccount = {sim.account}\npassword = {sim.password}\n")
        env = {
            "LIBRARIAN_SERVER_COLD__EVENTS_URL": bus.url,
            "LIBRARIAN_SERVER_COLD__PIN_SECONDS": "1",
            "LIBRARIAN_SERVER_COLD__POLL_AFTER_SECONDS": "30",
            "LIBRARIAN_SERVER_BACKGROUND__STAGING__EVERY_SECONDS": "0.2",
        }
        sim_times: list[float] = []
        lib_times: list[float] = []
        try:
            with live_server(work, **env) as server:
                data = ["--data-dir", str(server.data_dir)]
                for command in (
                    ["add-store", "tape", str(root), "--cold", sim.url,
                     "--credentials-file", str(credentials)],
                    ["store", "disable", "local"],
                ):  # fmt: skip
                    subprocess.run([*ADMIN, *command, *data], check=True, capture_output=True)
                source = work / "files"
                source.mkdir()
                for i in range(args.files):
                    (source / f"{i:06d}.dat").write_bytes(b"%06d\n" % i * 8)
                server.cli("upload", str(source), "bench/")
                _wait(lambda: _on_disk(root) == 0, 600, "the uploads released to tape")
                on_tape = sorted((work / "tape" / "librarian" / "files").rglob("*"))
                paths = [
                    str(work / "hsm" / p.relative_to(work / "tape")) for p in on_tape if p.is_file()
                ]
                http = httpx.Client(
                    base_url=server.url,
                    headers={"Authorization": f"Bearer {server.env['LIBRARIAN_TOKEN']}"},
                    timeout=60,
                )
                for n in range(args.repeat):
                    sim_times.append(tape.stage_all(paths))
                    lib_times.append(_job(http))
                    if n < args.repeat - 1:  # the pins end and the copies go back to tape
                        _wait(lambda: _on_disk(root) == 0, 600, "the pins' release")
                server_data = server.data_dir
            tape.release(paths)  # the last job's copies, pinned when the server stopped
            tape.stage_all(paths, release=False)  # on the disk cache for the events' check
            events, bare = _events(server_data, bus, args.files)
        finally:
            sim.stop()
            bus.stop()
    ratios = [lib / s for lib, s in zip(lib_times, sim_times, strict=True)]
    rows: list[Row] = [
        (
            f"{args.files:,}-file job, end to end",
            f"{statistics.median(lib_times):.2f} s",
            f"simulator alone {statistics.median(sim_times):.2f} s",
            f"{statistics.median(ratios):.2f}x",
        ),
        (
            "tape events marked ready",
            f"{events:,.0f} events/s",
            f"bare consumer {bare:,.0f} events/s",
            f"{events / bare:.2f}x",
        ),
    ]
    print(table(rows, ("benchmark", "Librarian", "baseline (same run)", "ratio")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
