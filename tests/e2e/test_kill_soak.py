"""Kill-and-restart soak: SIGKILL a real server at random moments while clients upload.

Clients upload files of mixed sizes (a few bytes to a few MiB) through the real
HTTP pipeline (stage, PUT, commit). The test SIGKILLs the server at a random
moment, restarts it, and after each round checks the invariants that make an
acknowledgement worth something:

- every acknowledged file is catalogued and downloads with exactly its bytes;
- no File row without bytes: every instance's file exists with the file's size;
- after a clean start (the process alone on its catalogue): no bytes in the store
  without an instance and no staging left over.

Run on SQLite, on PostgreSQL, and with two API processes on one PostgreSQL (one
killed and restarted while the other keeps serving). Bounded by time, not rounds.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import select
from xprocess import XProcess

from librarian_server.db import make_engine
from librarian_server.orm import File, Instance
from librarian_server.settings import load_settings
from tests import pg
from tests.e2e import conftest
from tests.e2e.conftest import LiveServer, md5

pytestmark = pytest.mark.e2e

SOAK_SECONDS = float(os.environ.get("LIBRARIAN_SOAK_SECONDS", "45"))
CLIENTS = 3
# (smallest, largest) and how often: mostly small files, some of a few MiB.
SIZES = [(0, 200), (1 << 10, 64 << 10), (64 << 10, 1 << 20), (1 << 20, 4 << 20)]
WEIGHTS = [3, 3, 2, 1]


def payload(name: str, size: int) -> bytes:
    """The bytes of ``name``: reproducible from the name, so nothing is kept in memory."""
    return random.Random(name).randbytes(size)  # noqa: S311 - reproducible test data, not secrets


@dataclass
class Tally:
    tried: int = 0
    acknowledged: dict[str, int] = field(default_factory=dict)  # name -> size
    statuses: dict[int, int] = field(default_factory=dict)
    served: dict[str, int] = field(default_factory=dict)  # server -> files acknowledged
    lock: threading.Lock = field(default_factory=threading.Lock)

    def status(self, code: int) -> None:
        with self.lock:
            self.statuses[code] = self.statuses.get(code, 0) + 1


def upload_batch(
    http: httpx.Client, tally: Tally, rng: random.Random, prefix: str, server: str
) -> None:
    """Stage, PUT and commit 1-3 files; acknowledged only when the commit answers 200."""
    files = []
    for _ in range(rng.randint(1, 3)):
        ((low, high),) = rng.choices(SIZES, WEIGHTS)
        name = f"{prefix}/{rng.getrandbits(64):016x}.dat"
        files.append((name, rng.randint(low, high)))
    with tally.lock:
        tally.tried += len(files)
    staged = http.post(
        "/api/v2/upload/stage",
        json={"files": [{"name": n, "size": s, "checksum": md5(payload(n, s))} for n, s in files]},
    )
    tally.status(staged.status_code)
    if staged.status_code != 200:
        return
    transfers = staged.json()["transfers"]
    for (name, size), transfer in zip(files, transfers, strict=True):
        put = http.put(transfer["put_path"], content=payload(name, size))
        tally.status(put.status_code)
        if put.status_code != 200:
            return
    commit = http.post(
        "/api/v2/upload/commit",
        json={"files": [{"transfer_id": t["transfer_id"]} for t in transfers]},
    )
    tally.status(commit.status_code)
    if commit.status_code == 200:
        with tally.lock:
            tally.acknowledged.update(dict(files))
            tally.served[server] = tally.served.get(server, 0) + len(files)


def client_loop(
    servers: Callable[[], list[LiveServer]], tally: Tally, stop: threading.Event, seed: int
) -> None:
    """Upload batches until stopped, each to a server picked afresh (so kills hit uploads)."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    clients: dict[str, httpx.Client] = {}
    try:
        while not stop.is_set():
            server = rng.choice(servers())
            http = clients.get(server.name) or clients.setdefault(server.name, server.http())
            try:
                upload_batch(http, tally, rng, f"soak/{seed}", server.name)
            except (httpx.TransportError, OSError):
                time.sleep(0.05)  # that server is down: try again, maybe elsewhere
    finally:
        for http in clients.values():
            http.close()


class Clients:
    """CLIENTS threads uploading until stopped; ``servers`` says where they may go."""

    def __init__(self, servers: Callable[[], list[LiveServer]], tally: Tally, seed: int) -> None:
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=client_loop, args=(servers, tally, self.stop, seed + i))
            for i in range(CLIENTS)
        ]
        for thread in self.threads:
            thread.start()

    def join(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(120)
            assert not thread.is_alive(), "a client hung"


class Catalogue:
    """Read-only look at a server's database and store, from outside the server."""

    def __init__(self, server: LiveServer) -> None:
        settings = load_settings(
            data_dir=server.data_dir, database_url=server.database_url, write_client_config=False
        )
        self.engine = make_engine(settings)
        self.files_dir = server.store_dir / "files"
        self.staging = server.store_dir / "staging"

    def rows(self) -> dict[str, tuple[str, int]]:
        """Instance path -> (file name, size), for every instance of this store."""
        with self.engine.connect() as conn:
            return {
                path: (name, size)
                for path, name, size in conn.execute(
                    select(Instance.path, File.name, File.size).join(
                        File, File.name == Instance.file_name
                    )
                )
            }

    def stored(self) -> set[str]:
        return {
            str(p.relative_to(self.files_dir)) for p in self.files_dir.rglob("*") if p.is_file()
        }

    def close(self) -> None:
        self.engine.dispose()


@dataclass
class Verdict:
    held: int = 0
    lost: set[str] = field(default_factory=set)
    checked: set[str] = field(default_factory=set)


def check_round(
    server: LiveServer, catalogue: Catalogue, tally: Tally, verdict: Verdict, *, clean: bool
) -> None:
    """The invariants; ``clean``: the server has just started alone, so nothing is in flight."""
    with tally.lock:  # before the rows: an acknowledged file's row is already committed
        acknowledged = dict(tally.acknowledged)
    rows = catalogue.rows()
    for path, (name, size) in rows.items():  # no File row without bytes
        local = catalogue.files_dir / path
        assert local.is_file() and local.stat().st_size == size, f"{name}: row without bytes"
    by_name = {name: path for path, (name, _) in rows.items()}
    with server.http() as http:
        for name, size in acknowledged.items():
            if name not in by_name:
                verdict.lost.add(name)
                continue
            if name in verdict.checked:  # downloaded before: its bytes are still there
                continue
            got = http.get(f"/api/v2/download/{name}")
            if got.status_code != 200 or got.content != payload(name, size):
                verdict.lost.add(name)
                continue
            verdict.checked.add(name)
    if clean:
        assert catalogue.stored() == set(rows), "bytes in the store without a row"
        leftovers = list(catalogue.staging.iterdir()) if catalogue.staging.is_dir() else []
        assert leftovers == [], f"staging left over after a clean start: {leftovers}"


def report(label: str, rounds: int, tally: Tally, verdict: Verdict) -> None:
    print(
        f"\nkill soak {label}: rounds={rounds} tried={tally.tried} "
        f"acknowledged={len(tally.acknowledged)} held={len(verdict.checked)} "
        f"lost={len(verdict.lost)} statuses={dict(sorted(tally.statuses.items()))} "
        f"acknowledged by server={tally.served}"
    )


def soak_single(server: LiveServer, seed: int) -> None:
    tally, verdict = Tally(), Verdict()
    catalogue = Catalogue(server)
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    deadline = time.monotonic() + SOAK_SECONDS
    rounds = 0
    try:
        while time.monotonic() < deadline:
            clients = Clients(lambda: [server], tally, seed + 100 * rounds)
            time.sleep(rng.uniform(0.3, 3.0))  # a random moment in the uploads
            server.kill()
            clients.join()
            server.start()  # alone on its catalogue: a clean start
            rounds += 1
            check_round(server, catalogue, tally, verdict, clean=True)
    finally:
        catalogue.close()
        report(server.backend, rounds, tally, verdict)
    assert rounds >= 2 and len(tally.acknowledged) > 0
    assert verdict.lost == set()


@pytest.fixture(scope="module")
def server(start_server: Callable[..., LiveServer], database_url: str | None) -> LiveServer:
    return start_server(database_url, users={"writer": "read-append"})


def test_kill_soak(server: LiveServer) -> None:
    soak_single(server, seed=1 if server.backend == "sqlite" else 2)


@pytest.fixture
def two_processes(
    start_server: Callable[..., LiveServer],
    xprocess: XProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two API processes on one PostgreSQL catalogue, sharing one store."""
    with pg.temporary_database() as url:
        first = start_server(url, users={"writer": "read-append"})
        base = tmp_path_factory.mktemp("librarian-soak-second")
        second = LiveServer(xprocess, "librarian-soak-second", base, url, {}, [])
        conftest._started.append(second)
        second.passwords = dict(first.passwords)
        second.secrets_dir.rmdir()
        second.secrets_dir = first.secrets_dir
        second.start()
        try:
            yield first, second
        finally:
            second.stop()
            first.stop()


@pytest.mark.postgres
def test_kill_soak_two_processes_one_database(
    two_processes: tuple[LiveServer, LiveServer],
) -> None:
    """Kill one process at random while the other serves; its restart must take nothing."""
    victim, survivor = two_processes
    tally, verdict = Tally(), Verdict()
    catalogue = Catalogue(victim)  # the store both serve from
    rng = random.Random(3)  # noqa: S311 - reproducible test data, not secrets
    up = {"victim": True}

    def servers() -> list[LiveServer]:
        return [victim, survivor] if up["victim"] else [survivor]

    clients = Clients(servers, tally, 300)
    deadline = time.monotonic() + SOAK_SECONDS
    rounds = 0
    try:
        while time.monotonic() < deadline:
            time.sleep(rng.uniform(0.3, 3.0))
            up["victim"] = False
            victim.kill()
            victim.start()  # the survivor is alive: only timed-out uploads are cleaned
            up["victim"] = True
            rounds += 1
            check_round(survivor, catalogue, tally, verdict, clean=False)
        clients.join()
        survivor.stop()
        victim.restart()  # now alone: a clean start
        check_round(victim, catalogue, tally, verdict, clean=True)
    finally:
        clients.join()
        catalogue.close()
        report("postgres, two processes", rounds, tally, verdict)
    assert rounds >= 2 and len(tally.acknowledged) > 0
    assert verdict.lost == set()
