"""The CADC ``vos`` commands, unmodified, against a live Librarian on both databases.

The client finds the service as an astronomer's machine would: a registry cache in
``~/.config/cadc-registry/resource-caps`` maps the resource ID to our capabilities
URL (a future mtime keeps it from being refreshed from the internet), and a
pre-seeded PyPI answer stops its version check. Every command runs as a subprocess
with a bearer token from ``POST /api/v2/tokens``.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.conftest import VENV_BIN, CLIResult, LiveServer, md5, run

pytestmark = pytest.mark.e2e

RESOURCE_ID = "ivo://example.org/vospace"
ROOT = "vos://example.org!vospace"
MiB = 1 << 20


class Vos:
    """The vos command-line tools with their own HOME and a token."""

    def __init__(self, server: LiveServer, home: Path, token: str | None) -> None:
        self.server = server
        self.token = token
        registry = home / ".config" / "cadc-registry"
        caches = home / ".config" / "vos" / "caches"
        registry.mkdir(parents=True)
        caches.mkdir(parents=True)
        caps = registry / "resource-caps"
        caps.write_text(f"{RESOURCE_ID} = {server.url}/vospace/capabilities\n")
        pypi = caches / ".pypi_versions.json"
        pypi.write_text('{"releases": {"3.7": []}}')
        future = time.time() + 5 * 365 * 86400
        for path in (caps, pypi):
            os.utime(path, (future, future))
        self.env = {k: v for k, v in server.env.items() if not k.startswith("VOSPACE")}
        self.env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"))

    def __call__(self, command: str, *args: str, token: bool = True) -> CLIResult:
        flags = ["--token", self.token] if token and self.token else []
        return run([str(VENV_BIN / command), *flags, *args], self.env, timeout=180)


@pytest.fixture(scope="module")
def server(start_server: Callable[..., LiveServer], database_url: str | None) -> LiveServer:
    return start_server(
        database_url,
        env={
            "LIBRARIAN_SERVER_VOSPACE_RESOURCE_ID": RESOURCE_ID,
            "LIBRARIAN_SERVER_OFFER_LOCAL_PATHS": "false",
        },
        run_args=["--access-log"],
    )


@pytest.fixture(scope="module")
def vos(server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Vos:
    with server.http("writer") as http:
        response = http.post("/api/v2/tokens", json={"description": "vos e2e"})
        assert response.status_code == 200, response.text
        token = response.json()["token"]
    return Vos(server, tmp_path_factory.mktemp("vos-home"), token)


def ok(result: CLIResult) -> CLIResult:
    assert result.returncode == 0, result
    return result


def test_the_vos_command_sequence(server: LiveServer, vos: Vos, tmp_path: Path) -> None:
    rng = random.Random(2026)  # noqa: S311 - test data, not secrets
    big = tmp_path / "big.fits"
    big.write_bytes(rng.randbytes(6 * MiB + 123))  # > 5 MiB: the client sends x-put-txn-op
    small = tmp_path / "small.fits"
    small.write_bytes(rng.randbytes(1000))
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    folder = f"{ROOT}/obs/2026"

    ok(vos("vmkdir", "-p", folder))
    ok(vos("vcp", str(big), f"{folder}/big.fits"))
    ok(vos("vcp", str(small), f"{folder}/small.fits"))
    ok(vos("vcp", str(empty), f"{folder}/empty.txt"))
    log = server.log_text()
    assert "PUT /vospace/endpoints/" in log  # the bytes went through a negotiated endpoint

    listing = ok(vos("vls", "-l", folder)).stdout
    lines = {line.split()[-1]: line for line in listing.splitlines() if line.strip()}
    assert set(lines) == {"big.fits", "small.fits", "empty.txt"}, listing
    assert str(6 * MiB + 123) in lines["big.fits"] and "writer" in lines["big.fits"]
    assert ok(vos("vls", folder)).stdout.split() == ["big.fits", "empty.txt", "small.fits"]

    # Every VOSpace write is a normal, checksummed Librarian File.
    info = server.cli("info", "obs/2026/big.fits", "--json").json()
    assert (info["size"], info["checksum"]) == (big.stat().st_size, md5(big.read_bytes()))
    assert info["uploader"] == "writer" and info["instances"][0]["available"]
    assert server.cli("info", "obs/2026/empty.txt", "--json").json()["size"] == 0

    back = tmp_path / "back.fits"
    ok(vos("vcp", f"{folder}/big.fits", str(back)))
    assert back.read_bytes() == big.read_bytes()

    ok(vos("vtag", f"{folder}/big.fits", "ivo://ivoa.net/vospace/core#description=first light"))
    shown = ok(vos("vtag", f"{folder}/big.fits")).stdout
    assert "first light" in shown and "'MD5'" in shown

    ok(vos("vmv", f"{folder}/big.fits", f"{folder}/renamed.fits"))
    assert ok(vos("vls", folder)).stdout.split() == ["empty.txt", "renamed.fits", "small.fits"]
    moved = server.cli("info", "obs/2026/renamed.fits", "--json").json()
    assert moved["checksum"] == info["checksum"]
    assert moved["instances"][0]["path"] == info["instances"][0]["path"]  # no bytes copied
    assert server.cli("info", "obs/2026/big.fits").returncode == 1
    assert "first light" in ok(vos("vtag", f"{folder}/renamed.fits")).stdout

    ok(vos("vln", f"{folder}/renamed.fits", f"{folder}/link.fits"))
    assert "link.fits" in ok(vos("vls", folder)).stdout.split()
    linked = tmp_path / "linked.fits"
    ok(vos("vcp", f"{folder}/link.fits", str(linked), "-L"))
    assert linked.read_bytes() == big.read_bytes()

    ok(vos("vrm", f"{folder}/link.fits"))
    ok(vos("vrm", f"{folder}/renamed.fits"))
    assert ok(vos("vls", folder)).stdout.split() == ["empty.txt", "small.fits"]
    assert server.cli("info", "obs/2026/renamed.fits").returncode == 1
    assert not (server.store_dir / "files" / moved["instances"][0]["path"]).exists()

    ok(vos("vrmdir", folder))
    missing = vos("vls", folder)
    assert missing.returncode != 0 and "NodeNotFound" in missing.stderr + missing.stdout
    assert server.cli("info", "obs/2026/small.fits").returncode == 1


def test_librarian_uploads_show_in_vls_and_vos_uploads_in_the_client(
    server: LiveServer, vos: Vos, tmp_path: Path
) -> None:
    data = tmp_path / "D_0001.g3"
    data.write_bytes(b"pipeline bytes\n" * 100)
    assert server.cli("upload", str(data), "pipeline/run1/D_0001.g3").returncode == 0
    assert ok(vos("vls", f"{ROOT}/pipeline")).stdout.split() == ["run1"]
    assert ok(vos("vls", f"{ROOT}/pipeline/run1")).stdout.split() == ["D_0001.g3"]
    fetched = tmp_path / "fetched.g3"
    ok(vos("vcp", f"{ROOT}/pipeline/run1/D_0001.g3", str(fetched)))
    assert fetched.read_bytes() == data.read_bytes()

    ok(vos("vcp", str(data), f"{ROOT}/pipeline/run1/from-vos.g3"))
    found = server.cli("search", "--prefix", "pipeline/run1/", "--json").json()
    assert {f["name"]: f["checksum"] for f in found} == {
        "pipeline/run1/D_0001.g3": md5(data.read_bytes()),
        "pipeline/run1/from-vos.g3": md5(data.read_bytes()),
    }
    downloaded = tmp_path / "downloaded.g3"
    assert server.cli("download", "pipeline/run1/from-vos.g3", str(downloaded)).returncode == 0
    assert downloaded.read_bytes() == data.read_bytes()


def test_errors_and_credentials(server: LiveServer, vos: Vos, tmp_path: Path) -> None:
    missing = vos("vls", f"{ROOT}/no/such/thing")
    assert missing.returncode != 0 and "NodeNotFound" in missing.stderr + missing.stdout
    # Anonymous reads are off by default: no token, no listing.
    assert vos("vls", f"{ROOT}/", token=False).returncode != 0
    # Different bytes onto an existing file are refused; the File stays as it was.
    ok(vos("vmkdir", f"{ROOT}/immutable"))
    first = tmp_path / "a.dat"
    first.write_bytes(b"first version")
    ok(vos("vcp", str(first), f"{ROOT}/immutable/a.dat"))
    first.write_bytes(b"second version, longer")
    refused = vos("vcp", str(first), f"{ROOT}/immutable/a.dat")
    assert refused.returncode != 0 and "DuplicateNode" in refused.stderr + refused.stdout
    info = server.cli("info", "immutable/a.dat", "--json").json()
    assert info["checksum"] == md5(b"first version")
