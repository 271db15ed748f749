"""Three live sites: files uploaded at one appear, verified, at the others on their own.

alpha pushes to beta over HTTP; beta forwards to gamma (same filesystem, so by
local copy) and pushes its own uploads back to alpha. Nobody runs a command
after the upload: the in-server background tasks do the work.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.conftest import LiveServer
from tests.e2e.sites import file_info, has_files, incoming, link, outgoing, site_env, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def sites(
    start_server: Callable[..., LiveServer],
    database_url: str | None,
    new_database: Callable[[], str | None],
) -> tuple[LiveServer, LiveServer, LiveServer]:
    alpha = start_server(database_url, env=site_env("alpha"))
    beta = start_server(new_database(), env=site_env("beta"))
    gamma = start_server(new_database(), env=site_env("gamma"))
    link(alpha, beta, "--managers", "http")
    link(beta, gamma, "--forward")
    link(beta, alpha, "--forward")
    return alpha, beta, gamma


def _tree(root: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _md5(data: bytes) -> str:
    return "md5:" + hashlib.md5(data).hexdigest()  # noqa: S324 - the catalogue's checksum


def test_upload_at_alpha_reaches_beta_and_gamma_identically(
    sites: tuple[LiveServer, LiveServer, LiveServer], tmp_path: Path
) -> None:
    alpha, beta, gamma = sites
    files = {f"f{i:02d}.dat": os.urandom(4096 + i) for i in range(30)}
    files["big.dat"] = os.urandom(3 * 1024 * 1024 + 7)  # a streamed PUT, not a bundle
    _tree(tmp_path / "run1", files)
    assert alpha.cli("upload", str(tmp_path / "run1"), "run1/").returncode == 0
    names = [f"run1/{n}" for n in files]

    wait_for(lambda: has_files(beta, names), what="the files at beta")
    wait_for(lambda: has_files(gamma, names), what="the files at gamma")
    for name, data in files.items():
        back = tmp_path / f"back-{name}"
        assert gamma.cli("download", f"run1/{name}", str(back)).returncode == 0
        assert back.read_bytes() == data
        info = file_info(gamma, f"run1/{name}")
        assert info is not None
        assert info["checksum"] == _md5(data)
        assert info["source"] == "alpha"  # the origin travels with the file
        assert info["uploader"] == "writer"

    # beta knows alpha's copies (the sender) and gamma's once confirmed; alpha learns of
    # beta's, and from beta of gamma's.
    wait_for(
        lambda: all(
            {r["site"] for r in (file_info(alpha, n) or {}).get("remote_instances", [])}
            == {"beta", "gamma"}
            for n in names
        ),
        what="alpha to know of the copies at beta and gamma",
    )
    wait_for(
        lambda: all(
            {r["site"] for r in (file_info(beta, n) or {}).get("remote_instances", [])}
            == {"alpha", "gamma"}
            for n in names
        ),
        what="beta's remote instances",
    )
    shown = alpha.cli("info", "run1/big.dat", user="reader")
    assert shown.returncode == 0
    assert "remote instances:" in shown.stdout
    assert "beta" in shown.stdout and "gamma" in shown.stdout

    sent = [t for t in outgoing(alpha) if t["name"] in names]
    assert len(sent) == len(names)
    assert {t["status"] for t in sent} == {"COMPLETED"}
    assert {t["transfer_manager"] for t in sent} == {"http"}
    forwarded = [t for t in outgoing(beta, peer="gamma") if t["name"] in names]
    assert {t["status"] for t in forwarded} == {"COMPLETED"}
    assert {t["transfer_manager"] for t in forwarded} == {"local"}
    # Nothing bounced back to where it came from.
    assert [t for t in outgoing(beta, peer="alpha") if t["name"] in names] == []
    assert [t for t in incoming(alpha) if t["name"] in names and t["peer"]] == []


def test_a_file_from_beta_reaches_alpha_and_gamma_and_stays(
    sites: tuple[LiveServer, LiveServer, LiveServer], tmp_path: Path
) -> None:
    alpha, beta, gamma = sites
    data = os.urandom(10_000)
    (tmp_path / "b.dat").write_bytes(data)
    assert beta.cli("upload", str(tmp_path / "b.dat"), "from-beta/b.dat").returncode == 0
    wait_for(lambda: has_files(alpha, ["from-beta/b.dat"]), what="beta's file at alpha")
    wait_for(lambda: has_files(gamma, ["from-beta/b.dat"]), what="beta's file at gamma")
    info = file_info(alpha, "from-beta/b.dat")
    assert info is not None and info["source"] == "beta" and info["checksum"] == _md5(data)
    # alpha pushes to beta, but never a file beta sent it.
    wait_for(
        lambda: any(
            r["site"] == "beta"
            for r in (file_info(alpha, "from-beta/b.dat") or {}).get("remote_instances", [])
        ),
        what="alpha to know beta holds the file",
    )
    assert [t for t in outgoing(alpha) if t["name"] == "from-beta/b.dat"] == []
    assert len([t for t in incoming(beta) if t["name"] == "from-beta/b.dat"]) == 1  # the upload


def test_operators_see_peers_transfers_and_tasks(
    sites: tuple[LiveServer, LiveServer, LiveServer],
) -> None:
    alpha, beta, _ = sites
    peers = alpha.admin("peers")
    assert "beta" in peers.stdout and beta.url in peers.stdout
    listing = alpha.cli("transfers", "--status", "completed", "--json", user="admin").json()
    assert listing and {t["status"] for t in listing} == {"COMPLETED"}
    assert alpha.cli("transfers", user="admin").returncode == 0
    queues = alpha.cli("queues", "--json", user="admin").json()
    assert queues and all(q["destination"] == "beta" for q in queues)
    run = alpha.cli("tasks", "run", "send_clone", "--json", user="admin").json()
    assert run["ok"] is True and run["name"] == "send_clone"
    tasks = alpha.cli("tasks", user="admin")
    assert "hypervisor" in tasks.stdout and "send_clone" in tasks.stdout
    # Replication views are for administrators only.
    denied = alpha.cli("transfers", user="writer")
    assert "permission" in denied.error()
    # A peer account may not use the ordinary API.
    with beta.http("reader") as http:
        assert http.get("/api/v2/transfers").status_code == 403
