"""A peer as a repair source: bytes only from a peer that has just proven its copy,
streamed and hashed on arrival, refused when they do not hash right."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import select

from librarian_server.errors import PeerError
from librarian_server.orm import Instance, Peer
from librarian_server.services.replication.peer_source import PeerSource
from tests.integration.conftest import Site
from tests.integration.helpers import md5, posix_backend, upload
from tests.integration.multisite import (
    Sites,
    prover,
    run,
    runner,
    sites_fixture,  # noqa: F401 - the fixture
)

DATA = os.urandom((1 << 20) * 2 + 123)  # several chunks on the wire
NAME = "s/big.dat"


def _replicated(sites: Sites) -> tuple[Site, Site]:
    alpha, beta = sites.alpha, sites.beta
    sites.link(alpha, beta, managers=["http"])
    upload(alpha.http, alpha.auth(), NAME, DATA)
    assert run(alpha, "send_clone")["send_clone"]["sent"] == 1
    return alpha, beta


def _source(sites: Sites, site: Site, **kwargs: object) -> PeerSource:
    return PeerSource(
        site.factory,
        runner(site).dialer,
        site.settings,
        prover=prover(sites, site, **kwargs),
    )


def _rot(site: Site) -> None:
    with site.session() as session:
        instance = session.scalar(select(Instance).where(Instance.file_name == NAME))
        assert instance is not None
        path = posix_backend(instance.store).local_path(instance.path)
    path.chmod(0o600)
    path.write_bytes(b"\0" * len(DATA))


def test_a_proven_peer_copy_is_fetched_byte_for_byte(sites: Sites, tmp_path: Path) -> None:
    alpha, _ = _replicated(sites)
    dest = tmp_path / "staged"
    got = _source(sites, alpha).fetch(NAME, len(DATA), md5(DATA), dest)
    assert got == "peer beta"
    assert dest.read_bytes() == DATA


def test_bytes_that_do_not_hash_right_are_refused(sites: Sites, tmp_path: Path) -> None:
    alpha, beta = _replicated(sites)

    def prove_then_rot(seconds: float) -> None:
        run(beta, "prove_copies")  # beta proves a good copy...
        _rot(beta)  # ...which rots before alpha reads it

    dest = tmp_path / "staged"
    assert (
        _source(sites, alpha, wait=prove_then_rot).fetch(NAME, len(DATA), md5(DATA), dest) is None
    )
    assert not dest.exists()
    with alpha.session() as session:
        error = session.scalar(select(Peer.last_error).where(Peer.name == "beta"))
    assert error and "expected" in error and "discarded" in error


def test_a_peer_whose_copy_is_bad_is_not_asked_for_bytes(sites: Sites, tmp_path: Path) -> None:
    alpha, beta = _replicated(sites)
    _rot(beta)
    dest = tmp_path / "staged"
    assert _source(sites, alpha).fetch(NAME, len(DATA), md5(DATA), dest) is None
    assert not dest.exists()


def test_no_known_holder_no_source(sites: Sites, tmp_path: Path) -> None:
    alpha = sites.alpha
    upload(alpha.http, alpha.auth(), NAME, DATA)
    assert _source(sites, alpha).fetch(NAME, len(DATA), md5(DATA), tmp_path / "x") is None


def test_the_peer_download_endpoint_is_for_peer_accounts(sites: Sites, tmp_path: Path) -> None:
    alpha, beta = _replicated(sites)
    r = beta.http.get(f"/api/v2/clone/download/{NAME}", auth=beta.auth("reader"))
    assert r.status_code == 403
    with alpha.session() as session:
        peer = session.scalar(select(Peer).where(Peer.name == "beta"))
        assert peer is not None
        session.expunge(peer)
    with runner(alpha).dialer.open(peer) as client:
        with pytest.raises(PeerError, match="not taken"):
            client.fetch(NAME, tmp_path / "wrong", len(DATA), md5(b"other"))
        assert not (tmp_path / "wrong").exists()
        with pytest.raises(PeerError, match="404"):
            client.fetch("s/none", tmp_path / "none", 1, md5(b"x"))
        assert not (tmp_path / "none").exists()


def test_after_bad_bytes_from_one_peer_the_next_proven_peer_is_used(
    sites: Sites, tmp_path: Path
) -> None:
    alpha, beta, gamma = sites.alpha, sites.beta, sites.gamma
    sites.link(alpha, beta, managers=["http"])
    sites.link(alpha, gamma, managers=["http"])
    upload(alpha.http, alpha.auth(), NAME, DATA)
    assert run(alpha, "send_clone")["send_clone"]["sent"] == 2

    def prove_then_rot(seconds: float) -> None:
        run(beta, "prove_copies")
        run(gamma, "prove_copies")
        _rot(beta)

    dest = tmp_path / "staged"
    source = _source(sites, alpha, wait=prove_then_rot)
    assert source.fetch(NAME, len(DATA), md5(DATA), dest) == "peer gamma"
    assert dest.read_bytes() == DATA
    with alpha.session() as session:
        error = session.scalar(select(Peer.last_error).where(Peer.name == "beta"))
    assert error and "discarded" in error  # beta was tried first, and refused
