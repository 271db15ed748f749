"""Sites with a cold store on the tests' own tape simulator (a live process)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from librarian_server.orm import Store
from librarian_server.services.catalogue.stores import add_cold_store
from librarian_server.services.cold.rounds import staging_round
from librarian_server.stores.cold import ColdOptions
from librarian_server.stores.registry import forget_clients
from librarian_server.stores.tape.scout import ScoutClient
from tests.integration.conftest import Site
from tests.tape import TapeSimulatorProcess

FAST = {
    "pin_seconds": 3600,
    "poll_after_seconds": 0.01,
    "restage_after_seconds": 0.5,
    "notify_backoff_seconds": 0.05,
    "notify_backoff_max_seconds": 0.2,
}


@dataclass
class Tape:
    """The simulator process, its filesystem, and its test controls."""

    sim: TapeSimulatorProcess
    root: Path

    @property
    def url(self) -> str:
        return self.sim.url

    @property
    def account(self) -> str:
        return self.sim.account

    @property
    def password(self) -> str:
        return self.sim.password

    def client(self) -> ScoutClient:
        return self.sim.client()

    def _control(self, method: str, path: str, **kwargs: Any) -> Any:
        with httpx.Client(base_url=self.url, timeout=10) as http:
            login = http.post(
                "/v1/security/login", json={"acct": self.account, "pass": self.password}
            )
            token = login.json()["response"]
            r = http.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)
            r.raise_for_status()
            return r.json()

    def configure(self, **values: float) -> None:
        self._control("PUT", "/v1/sim/config", json=values)

    def stats(self) -> dict[str, Any]:
        found = self._control("GET", "/v1/sim/stats")
        return dict(found.get("response", found))


@pytest.fixture
def tape_options() -> dict[str, Any]:
    """The simulator's command-line options (a test parametrizes this to change them)."""
    return {}


@pytest.fixture
def tape(tmp_path: Path, tape_options: dict[str, Any]) -> Iterator[Tape]:
    (tmp_path / "hsm").mkdir()
    (tmp_path / "tape").mkdir()
    sim = TapeSimulatorProcess(tmp_path / "sim")
    sim.start(tmp_path / "hsm", tmp_path / "tape", **tape_options)
    yield Tape(sim, tmp_path / "hsm")
    sim.stop()
    forget_clients()


def credentials(sim: Tape, directory: Path) -> Path:
    path = directory / "tape.credentials"
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(f"[tape]\naccount = {sim.account}\npassword = {sim.password}\n")
    path.chmod(0o600)
    return path


def put_on_cold(site: Site, sim: Tape, name: str = "tape") -> int:
    """Add a cold store on the simulator's filesystem, the only one taking uploads."""
    options = ColdOptions(
        url=sim.url, credentials_file=str(credentials(sim, site.settings.data_dir))
    )
    with site.factory.begin() as session:
        session.execute(update(Store).values(accepts_ingest=False))
        return add_cold_store(
            session, name, sim.root / "librarian", options, accepts_ingest=True, make_buckets=False
        ).id


@pytest.fixture
def cold_site(make_site: Callable[..., Site], tape: Tape) -> tuple[Site, Tape]:
    site = make_site(cold=FAST)
    put_on_cold(site, tape)
    return site, tape


def run_round(site: Site, **cold: Any) -> dict[str, Any]:
    settings = site.settings
    if cold:
        settings = settings.model_copy(update={"cold": settings.cold.model_copy(update=cold)})
    return staging_round(site.factory, settings, limit=10_000, out_of_time=lambda: False)


def to_tape(site: Site) -> dict[str, Any]:
    """Release every online cold copy back to tape (a pin of zero)."""
    return run_round(site, pin_seconds=1e-6)


def until(
    condition: Callable[[], Any],
    *,
    timeout: float = 30,
    every: float = 0.05,
    then: Callable[[], Any] | None = None,
    what: str = "condition",
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        if then is not None:
            then()
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)


@dataclass
class Receiver:
    """A real HTTP server on loopback that records the notifications posted to it."""

    status: int = 200
    received: list[tuple[dict[str, str], str]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self, port: int = 0) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length).decode()
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(b) for _, b in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()
