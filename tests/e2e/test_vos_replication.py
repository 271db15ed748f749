"""A file written with ``vcp`` is an ordinary File: it replicates to a peer like any upload.

alpha pushes to beta. The vos client writes at alpha; nobody runs anything else.
A ``vmv`` at alpha renames the File in alpha's catalogue only: beta keeps the copy under
the old name and receives the File again under its new one.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.conftest import LiveServer, md5
from tests.e2e.sites import file_info, has_files, link, site_env, wait_for
from tests.e2e.test_vos_client import RESOURCE_ID, ROOT, Vos, ok

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def sites(
    start_server: Callable[..., LiveServer],
    database_url: str | None,
    new_database: Callable[[], str | None],
) -> tuple[LiveServer, LiveServer]:
    vospace = {"LIBRARIAN_SERVER_VOSPACE_RESOURCE_ID": RESOURCE_ID}
    alpha = start_server(database_url, env=site_env("alpha", **vospace))
    beta = start_server(new_database(), env=site_env("beta"))
    link(alpha, beta, "--managers", "http")
    return alpha, beta


def test_vcp_at_alpha_reaches_beta_and_a_move_is_sent_again(
    sites: tuple[LiveServer, LiveServer], tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    alpha, beta = sites
    with alpha.http("writer") as http:
        token = http.post("/api/v2/tokens", json={}).json()["token"]
    vos = Vos(alpha, tmp_path_factory.mktemp("vos-home"), token)
    data = os.urandom(2 * 1024 * 1024 + 11)
    local = tmp_path / "frame.fits"
    local.write_bytes(data)
    ok(vos("vmkdir", "-p", f"{ROOT}/night1"))
    ok(vos("vcp", str(local), f"{ROOT}/night1/frame.fits"))

    wait_for(lambda: has_files(beta, ["night1/frame.fits"]), what="the file at beta")
    info = file_info(beta, "night1/frame.fits")
    assert info is not None and info["checksum"] == md5(data) and info["source"] == "alpha"
    wait_for(
        lambda: (
            [
                r["site"]
                for r in (file_info(alpha, "night1/frame.fits") or {}).get("remote_instances", [])
            ]
            == ["beta"]
        ),
        what="alpha's record of beta's copy",
    )

    ok(vos("vmv", f"{ROOT}/night1/frame.fits", f"{ROOT}/night1/renamed.fits"))
    moved = file_info(alpha, "night1/renamed.fits")
    assert moved is not None and moved["remote_instances"] == []  # beta lacks the new name
    wait_for(lambda: has_files(beta, ["night1/renamed.fits"]), what="the renamed file at beta")
    assert file_info(beta, "night1/frame.fits") is not None  # the old copy stays there
    back = tmp_path / "back.fits"
    assert beta.cli("download", "night1/renamed.fits", str(back)).returncode == 0
    assert back.read_bytes() == data
