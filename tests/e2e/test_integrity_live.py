"""Two live sites keep a copy true on their own: a byte flipped in beta's copy is found
by beta's audit and repaired from alpha, which proves its copy first; no command is run.
A stray file in beta's store is reported as dark and left where it is."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.conftest import LiveServer
from tests.e2e.sites import admin_http, file_info, link, site_env, wait_for

pytestmark = pytest.mark.e2e

KEEPING = {
    "LIBRARIAN_SERVER_BACKGROUND__AUDIT__EVERY_SECONDS": "0.5",
    "LIBRARIAN_SERVER_BACKGROUND__REPAIR__EVERY_SECONDS": "0.5",
    "LIBRARIAN_SERVER_BACKGROUND__PROVE_COPIES__EVERY_SECONDS": "0.3",
    "LIBRARIAN_SERVER_REPLICATION__PROOF_POLL_SECONDS": "0.2",
    "LIBRARIAN_SERVER_INTEGRITY__WALK_EVERY_HOURS": "0.0003",  # about a second
    "LIBRARIAN_SERVER_STAGING_TIMEOUT_SECONDS": "2",
}


@pytest.fixture(scope="module")
def sites(
    start_server: Callable[..., LiveServer],
    database_url: str | None,
    new_database: Callable[[], str | None],
) -> tuple[LiveServer, LiveServer]:
    alpha = start_server(database_url, env=site_env("alpha", **KEEPING))
    beta = start_server(
        new_database(),
        # Every copy older than about a second is due for its re-hash.
        env=site_env("beta", **KEEPING, LIBRARIAN_SERVER_INTEGRITY__AUDIT_PERIOD_DAYS="0.00001"),
    )
    link(alpha, beta, "--managers", "http")
    link(beta, alpha, "--managers", "http")
    return alpha, beta


def _copy_path(server: LiveServer, name: str) -> Path:
    info = file_info(server, name)
    assert info is not None and len(info["instances"]) == 1, info
    with admin_http(server) as http:
        stores = {s["name"]: s["root"] for s in http.get("/api/v2/stores").json()}
    instance = info["instances"][0]
    return Path(str(stores[instance["store"]])) / "files" / str(instance["path"])


def _damage(server: LiveServer) -> list[dict[str, object]]:
    with admin_http(server) as http:
        response = http.get("/api/v2/damage", params={"limit": "1000"})
    response.raise_for_status()
    records: list[dict[str, object]] = response.json()["damage"]
    return records


def test_a_flipped_byte_at_beta_is_repaired_from_alpha_with_no_command(
    sites: tuple[LiveServer, LiveServer], tmp_path: Path
) -> None:
    alpha, beta = sites
    data = os.urandom(3 * 1024 * 1024 + 11)
    (tmp_path / "a.dat").write_bytes(data)
    assert alpha.cli("upload", str(tmp_path / "a.dat"), "keep/a.dat").returncode == 0
    wait_for(lambda: file_info(beta, "keep/a.dat"), what="the copy at beta")
    path = _copy_path(beta, "keep/a.dat")
    path.chmod(0o644)
    with path.open("r+b") as handle:
        handle.seek(2_000_000)
        byte = handle.read(1)
        handle.seek(2_000_000)
        handle.write(bytes([byte[0] ^ 0x80]))

    def repaired() -> dict[str, object] | None:
        return next(
            (d for d in _damage(beta) if d["name"] == "keep/a.dat" and d["state"] == "repaired"),
            None,
        )

    record = wait_for(repaired, timeout=120, what="beta's audit and repair")
    assert record["kind"] == "corrupt" and "peer alpha" in str(record["resolution"])
    assert _copy_path(beta, "keep/a.dat").read_bytes() == data
    got = tmp_path / "back.dat"
    assert beta.cli("download", "keep/a.dat", str(got)).returncode == 0
    assert got.read_bytes() == data
    shown = beta.cli("damage", "--json", user="admin").json()
    assert any(d["state"] == "repaired" for d in shown)


def test_a_stray_file_at_beta_is_reported_dark_and_left_alone(
    sites: tuple[LiveServer, LiveServer],
) -> None:
    _, beta = sites
    with admin_http(beta) as http:
        root = Path(http.get("/api/v2/stores").json()[0]["root"])
    stray = root / "files" / "0ab" / "left-by-hand.dat"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"nobody catalogued me")
    old = time.time() - 60
    os.utime(stray, (old, old))

    def dark() -> dict[str, object] | None:
        return next((d for d in _damage(beta) if d["kind"] == "dark"), None)

    record = wait_for(dark, timeout=60, what="the walk to find the stray file")
    assert record["path"] == "0ab/left-by-hand.dat" and record["state"] == "open"
    time.sleep(2)  # more audit and repair rounds: none of them touches it
    assert stray.read_bytes() == b"nobody catalogued me"
    stores = beta.cli("stores", "--json", user="admin").json()
    assert stores[0]["dark"] == 1
