"""Replication between sites in one process: sending, forwarding with check-ins, the
hypervisors asking the other side, and disks carried by hand.

The sites talk the real peer protocol through the harness's router (``multisite``);
each round of background work is one call of the runner's API, so what happens
between two sites is visible step by step. The live-server tests in ``tests/e2e``
do the same with processes and timers.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from librarian_client.models import Direction, TransferRow, TransferStatus
from librarian_server.orm import IncomingTransfer, OutgoingTransfer, utcnow
from tests.integration.conftest import Site
from tests.integration.helpers import md5, upload
from tests.integration.multisite import (
    SiteRouter,
    Sites,
    content,
    holders,
    info,
    run,
    sites_fixture,  # noqa: F401 - the fixture
)

FILES = {
    "run1/a.dat": os.urandom(4096),
    "run1/b.dat": os.urandom(10_001),
    "run1/big.dat": os.urandom((1 << 20) + 7),  # a streamed PUT, not a bundle
}


def _upload(site: Site, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        upload(site.http, site.auth(), name, data)


def _transfers(site: Site, direction: Direction, peer: str) -> list[TransferRow]:
    with site.client("admin") as client:
        return list(client.transfers(direction=direction, peer=peer))


def _time_passes(site: Site, table: type[OutgoingTransfer] | type[IncomingTransfer]) -> None:
    """As if two hours had passed without progress: past any hypervisor's deadline."""
    with site.factory.begin() as session:
        session.execute(update(table).values(updated_time=utcnow() - timedelta(hours=2)))


def test_alpha_sends_to_beta_over_http_and_both_record_the_copy(sites: Sites) -> None:
    alpha, beta = sites.alpha, sites.beta
    sites.link(alpha, beta, managers=["http"])
    _upload(alpha, FILES)

    summary = run(alpha, "send_clone")["send_clone"]
    assert (summary["queued"], summary["sent"], summary["failed"]) == (3, 3, 0)
    for name, data in FILES.items():
        assert content(beta, name) == data
        there = info(beta, name)
        assert (there.checksum, there.source, there.uploader) == (md5(data), "alpha", "writer")
        assert holders(alpha, name) == {"beta"}
        assert holders(beta, name) == {"alpha"}  # the sender's copy
    sent = _transfers(alpha, Direction.OUTGOING, "beta")
    assert {(t.status, t.transfer_manager) for t in sent} == {(TransferStatus.COMPLETED, "http")}
    received = _transfers(beta, Direction.INCOMING, "alpha")
    assert sorted(t.name for t in received) == sorted(FILES)
    assert {t.status for t in received} == {TransferStatus.COMPLETED}

    # A second round finds nothing more to send.
    assert run(alpha, "send_clone")["send_clone"]["queued"] == 0


def test_beta_forwards_to_gamma_and_alpha_learns_of_gammas_copy(sites: Sites) -> None:
    alpha, beta, gamma = sites.alpha, sites.beta, sites.gamma
    sites.link(alpha, beta, managers=["http"])
    sites.link(beta, gamma, forward=True)  # one filesystem here: by local copy
    sites.link(beta, alpha, push=False)  # beta calls alpha only to confirm copies
    _upload(alpha, FILES)

    run(alpha)
    run(beta)  # sends to gamma, then tells alpha (the origin) of gamma's copy
    for name, data in FILES.items():
        assert content(gamma, name) == data
        assert info(gamma, name).source == "alpha"
        assert holders(alpha, name) == {"beta", "gamma"}
        assert holders(beta, name) == {"alpha", "gamma"}
        assert holders(gamma, name) == {"beta"}
    forwarded = _transfers(beta, Direction.OUTGOING, "gamma")
    assert {(t.status, t.transfer_manager) for t in forwarded} == {
        (TransferStatus.COMPLETED, "local")
    }
    assert _transfers(beta, Direction.OUTGOING, "alpha") == []  # nothing bounced back

    # Every task again at every site: all settled, nothing moves.
    for site in (alpha, beta, gamma):
        summaries = run(site)
        assert not any(summaries["send_clone"].values()), summaries
        assert not any(summaries["send_checkins"].values()), summaries


def test_the_sender_asks_the_receiver_about_a_copy_whose_check_in_never_came(
    sites: Sites,
) -> None:
    alpha = sites.alpha
    beta = sites.start("beta", replication={"inline_verify_bytes": 0})  # hashes later
    # By local copy (bytes that arrive unhashed); beta cannot call alpha: no check-ins.
    sites.link(alpha, beta, managers=["local"])
    _upload(alpha, FILES)

    run(alpha, "send_clone")
    waiting = _transfers(alpha, Direction.OUTGOING, "beta")
    assert {t.status for t in waiting} == {TransferStatus.STAGED_AT_DEST}
    assert run(beta, "receive_clone")["receive_clone"]["committed"] == len(FILES)
    assert run(beta, "send_checkins")["send_checkins"]["delivered"] == 0
    assert run(alpha, "hypervisor")["hypervisor"]["confirmed"] == 0  # not stuck yet

    _time_passes(alpha, OutgoingTransfer)
    assert run(alpha, "hypervisor")["hypervisor"]["confirmed"] == len(FILES)
    done = _transfers(alpha, Direction.OUTGOING, "beta")
    assert {t.status for t in done} == {TransferStatus.COMPLETED}
    for name in FILES:
        assert holders(alpha, name) == {"beta"}


def test_the_receiver_drops_a_stuck_clone_once_its_sender_no_longer_sends_it(
    sites: Sites,
) -> None:
    alpha, beta = sites.alpha, sites.beta
    sites.link(alpha, beta, managers=["http"])
    sites.link(beta, alpha, push=False)
    _upload(alpha, FILES)
    # Staged at beta, then the link fails before any bytes arrive.
    sites.router.refuse = lambda request: request.method == "PUT" or "bundle" in request.url.path
    assert run(alpha, "send_clone")["send_clone"]["waiting"] == len(FILES)
    staged = _transfers(beta, Direction.INCOMING, "alpha")
    assert {t.status for t in staged} == {TransferStatus.INITIATED}

    _time_passes(beta, IncomingTransfer)
    assert run(beta, "hypervisor")["hypervisor"]["dropped"] == 0  # alpha still sends them

    with alpha.client("admin") as client:
        for row in _transfers(alpha, Direction.OUTGOING, "beta"):
            client.cancel_transfer(row.id)
    assert run(beta, "hypervisor")["hypervisor"]["dropped"] == len(FILES)
    dropped = _transfers(beta, Direction.INCOMING, "alpha")
    assert {t.status for t in dropped} == {TransferStatus.CANCELLED}
    with beta.session() as session:  # their staged bytes went with them
        staging = session.scalars(select(IncomingTransfer.staging_path)).all()
    assert not [p for p in staging if p and Path(p).exists()]


def test_a_disk_carried_from_alpha_to_beta_and_the_check_ins_back(
    sites: Sites, tmp_path: Path
) -> None:
    alpha, beta = sites.alpha, sites.beta
    sites.link(alpha, beta, push=False)  # the link is too thin: files go by disk
    sites.link(beta, alpha, push=False)  # beta reaches alpha only to confirm
    _upload(alpha, FILES)
    disk = tmp_path / "disk"
    disk.mkdir()

    with alpha.client("admin") as client:
        exported = list(client.sneakernet_export("beta", str(disk)))[-1].export
    assert exported is not None and exported.files == len(FILES)
    on_the_way = _transfers(alpha, Direction.OUTGOING, "beta")
    assert {(t.status, t.transfer_manager) for t in on_the_way} == {
        (TransferStatus.ONGOING, "sneakernet")
    }

    with beta.client("admin") as client:
        ingested = list(client.sneakernet_ingest(str(disk)))[-1].ingest
        assert ingested is not None
        assert (ingested.committed, ingested.bad, ingested.missing) == (len(FILES), [], [])
    for name, data in FILES.items():
        assert content(beta, name) == data
        assert info(beta, name).source == "alpha"

    assert run(beta, "send_checkins")["send_checkins"]["delivered"] == len(FILES)
    arrived = _transfers(alpha, Direction.OUTGOING, "beta")
    assert {t.status for t in arrived} == {TransferStatus.COMPLETED}
    for name in FILES:
        assert holders(alpha, name) == {"beta"}

    with beta.client("admin") as client:  # the same disk again does no harm
        again = list(client.sneakernet_ingest(str(disk)))[-1].ingest
    assert again is not None and (again.committed, again.already_present) == (0, len(FILES))
    run(beta, "send_checkins")
    assert _transfers(alpha, Direction.OUTGOING, "beta") == arrived


def test_a_site_the_router_does_not_know_does_not_connect() -> None:
    request = httpx.Request("GET", "http://nowhere/api/v2/ping")
    with pytest.raises(httpx.ConnectError, match="nowhere"):
        SiteRouter().handle_request(request)
