"""Proofs between sites: a peer re-hashes its copies on request, and the asking site
counts a copy only on that fresh answer.

alpha sends to beta over the harness's router; alpha's ``PeerProver`` asks beta to
prove its copies, and between polls the harness runs beta's ``prove_copies`` task.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from librarian_client.models import CopyState, Finding, ProofState, TransferStatus
from librarian_server.errors import PeerError
from librarian_server.orm import Damage, File, Instance, OutgoingTransfer, Peer, ProofJob, utcnow
from librarian_server.services.integrity import proof_jobs
from librarian_server.services.replication import proofs as proofs_module
from tests.integration.conftest import Site
from tests.integration.helpers import md5, posix_backend, upload
from tests.integration.multisite import (
    Sites,
    content,
    holders,
    prover,
    run,
    runner,
    sites_fixture,  # noqa: F401 - the fixture
)

FILES = {"p/a.dat": os.urandom(3000), "p/b.dat": os.urandom(5000)}


def _replicated(sites: Sites, files: dict[str, bytes] = FILES) -> tuple[Site, Site]:
    alpha, beta = sites.alpha, sites.beta
    sites.link(alpha, beta, managers=["http"])
    for name, data in files.items():
        upload(alpha.http, alpha.auth(), name, data)
    summary = run(alpha, "send_clone")["send_clone"]
    assert summary["sent"] == len(files), summary
    return alpha, beta


def _copy_path(site: Site, name: str) -> Path:
    with site.session() as session:
        instance = session.scalar(select(Instance).where(Instance.file_name == name))
        assert instance is not None
        return posix_backend(instance.store).local_path(instance.path)


def _verdict(site: Site, name: str) -> tuple[CopyState | None, str | None]:
    with site.session() as session:
        row = session.execute(
            select(Instance.verified_result, Instance.verified_by).where(Instance.file_name == name)
        ).one()
        return row[0], row[1]


def test_a_good_copy_at_a_peer_is_proven(sites: Sites) -> None:
    alpha, beta = _replicated(sites)
    before = utcnow()
    proofs = prover(sites, alpha).prove({"beta": list(FILES)})
    assert set(proofs) == {("beta", name) for name in FILES}
    for proof in proofs.values():
        assert proof.ok, proof
        assert proof.verified_time is not None and proof.verified_time >= before
    for name in FILES:
        assert _verdict(beta, name) == (CopyState.OK, "proof (alpha)")
        assert holders(alpha, name) == {"beta"}
    with alpha.session() as session:
        peer = session.scalar(select(Peer).where(Peer.name == "beta"))
        assert peer is not None and peer.last_contact is not None and peer.last_error is None


def test_a_copy_corrupted_at_the_peer_is_reported_and_marked_bad_there(sites: Sites) -> None:
    alpha, beta = _replicated(sites)
    rotten = _copy_path(beta, "p/a.dat")
    rotten.chmod(0o600)
    rotten.write_bytes(b"X" * len(FILES["p/a.dat"]))  # same size, other bytes
    proofs = prover(sites, alpha).prove({"beta": list(FILES)})
    bad = proofs[("beta", "p/a.dat")]
    assert not bad.ok and bad.verified_time is None
    assert bad.detail.startswith("corrupt:") and "hashes to" in bad.detail
    assert proofs[("beta", "p/b.dat")].ok
    assert _verdict(beta, "p/a.dat") == (CopyState.BAD, "proof (alpha)")
    assert _verdict(beta, "p/b.dat") == (CopyState.OK, "proof (alpha)")
    with beta.session() as session:  # beta's repair hears of it
        (damage,) = session.scalars(select(Damage)).all()
    assert (damage.file_name, damage.kind, damage.found_by) == (
        "p/a.dat",
        Finding.CORRUPT,
        "proof (alpha)",
    )
    # alpha no longer counts beta's copy, and sends it again: beta takes it as a new copy
    # beside the bad one (which stays, for the operator or beta's repair to settle).
    assert holders(alpha, "p/a.dat") == set()
    assert holders(alpha, "p/b.dat") == {"beta"}
    summary = run(alpha, "send_clone")["send_clone"]
    assert (summary["queued"], summary["sent"]) == (1, 1), summary
    assert content(beta, "p/a.dat") == FILES["p/a.dat"]
    assert holders(alpha, "p/a.dat") == {"beta"}
    with beta.session() as session:
        states = session.scalars(
            select(Instance.verified_result)
            .where(Instance.file_name == "p/a.dat")
            .order_by(Instance.id)
        ).all()
    assert states == [CopyState.BAD, CopyState.OK]
    assert prover(sites, alpha).prove({"beta": ["p/a.dat"]})[("beta", "p/a.dat")].ok


def test_a_peer_without_the_file_says_so_and_is_sent_it_again(sites: Sites) -> None:
    alpha, beta = _replicated(sites)
    r = beta.http.post(
        "/api/v2/delete",
        json={"names": ["p/a.dat"], "force": True, "last_copy": True},
        auth=beta.auth("admin"),
    )
    assert r.status_code == 200, r.text
    proofs = prover(sites, alpha).prove({"beta": ["p/a.dat"]})
    proof = proofs[("beta", "p/a.dat")]
    assert not proof.ok and "does not catalogue" in proof.detail
    assert holders(alpha, "p/a.dat") == set()
    with alpha.session() as session:
        queued = session.scalars(
            select(OutgoingTransfer.status).where(
                OutgoingTransfer.file_name == "p/a.dat",
                OutgoingTransfer.destination == "beta",
            )
        ).all()
    assert sorted(queued) == sorted([TransferStatus.COMPLETED, TransferStatus.INITIATED])
    assert run(alpha, "send_clone")["send_clone"]["sent"] == 1
    assert content(beta, "p/a.dat") == FILES["p/a.dat"]
    assert holders(alpha, "p/a.dat") == {"beta"}


def test_a_peer_that_is_down_gives_no_proof(sites: Sites) -> None:
    alpha, _ = _replicated(sites)
    sites.router.refuse = lambda request: request.url.host == "beta"
    proofs = prover(sites, alpha).prove({"beta": list(FILES), "nowhere": ["p/a.dat"]})
    for name in FILES:
        proof = proofs[("beta", name)]
        assert not proof.ok and "unreachable" in proof.detail, proof
    assert "not an enabled peer" in proofs[("nowhere", "p/a.dat")].detail
    with alpha.session() as session:
        error = session.scalar(select(Peer.last_error).where(Peer.name == "beta"))
    assert error and "unreachable" in error
    assert holders(alpha, "p/a.dat") == {"beta"}  # silence proves nothing, removes nothing


def test_a_peer_that_never_finishes_times_out(sites: Sites) -> None:
    alpha, _ = _replicated(sites)
    now = [0.0]

    def idle(seconds: float) -> None:  # beta's task never runs
        now[0] += seconds

    slow = prover(sites, alpha, wait=idle, clock=lambda: now[0])
    proofs = slow.prove({"beta": ["p/a.dat"]})
    proof = proofs[("beta", "p/a.dat")]
    assert not proof.ok and "did not answer within 3600 s" in proof.detail


def test_a_job_the_peer_forgot_gives_no_proof(sites: Sites) -> None:
    alpha, beta = _replicated(sites)

    def forget(seconds: float) -> None:
        with beta.factory.begin() as session:
            session.execute(update(ProofJob).values(created_time=utcnow() - timedelta(days=2)))
        run(beta, "cleanup")  # past the retention: pruned

    proofs = prover(sites, alpha, wait=forget).prove({"beta": ["p/a.dat"]})
    assert "no longer knows proof job" in proofs[("beta", "p/a.dat")].detail
    with beta.session() as session:
        assert session.scalars(select(ProofJob)).all() == []


def test_large_sets_are_split_into_jobs(sites: Sites, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {f"p/{n}.dat": os.urandom(100) for n in range(5)}
    alpha, beta = _replicated(sites, files)
    monkeypatch.setattr(proofs_module, "MAX_PROOF_FILES", 2)
    proofs = prover(sites, alpha).prove({"beta": list(files)})
    assert all(p.ok for p in proofs.values()) and len(proofs) == 5
    with beta.session() as session:
        sizes = sorted(len(j.names) for j in session.scalars(select(ProofJob)))
    assert sizes == [1, 2, 2]


def test_a_peer_may_read_only_its_own_jobs(sites: Sites) -> None:
    alpha, beta = _replicated(sites)
    gamma = sites.gamma
    sites.link(gamma, beta)
    with runner(alpha).dialer.open(_peer(alpha, "beta")) as client:
        job = client.request_proof(["p/a.dat", "p/a.dat", "never/here"])
        assert (job.state, job.files, job.caller) == (ProofState.PENDING, 2, "alpha")
    with runner(gamma).dialer.open(_peer(gamma, "beta")) as intruder:
        with pytest.raises(PeerError) as refused:
            intruder.proof_status(job.id)
        assert refused.value.peer_status == 403
    run(beta, "prove_copies")
    r = beta.http.get(f"/api/v2/proofs/{job.id}", auth=beta.auth("admin"))  # admins may
    assert r.status_code == 200
    body = r.json()
    assert body["state"] == "done"
    first, unknown = body["results"]
    assert (first["name"], first["held"], first["finding"]) == ("p/a.dat", True, "ok")
    assert (unknown["held"], unknown["finding"], unknown["catalogued"]) == (
        False,
        "missing",
        False,
    )
    r = beta.http.get("/api/v2/proofs/999999", auth=beta.auth("admin"))
    assert r.status_code == 404 and r.json()["suggested_remedy"]


@pytest.mark.parametrize(
    ("body", "word"),
    [
        ({"names": []}, "names"),
        ({"names": ["x"] * 1001}, "names"),
        ({"names": ["../x"]}, "'..'"),
        ({}, "names"),
    ],
)
def test_bad_requests_are_refused_with_a_reason(sites: Sites, body: object, word: str) -> None:
    beta = sites.beta
    r = beta.http.post("/api/v2/proofs", json=body, auth=beta.auth("admin"))
    assert r.status_code == 400, r.text
    assert word in r.json()["reason"] and r.json()["suggested_remedy"]


def test_only_peers_and_admins_may_ask(sites: Sites) -> None:
    beta = sites.beta
    r = beta.http.post("/api/v2/proofs", json={"names": ["a"]}, auth=beta.auth("writer"))
    assert r.status_code == 403
    r = beta.http.post("/api/v2/proofs", json={"names": ["a"]})
    assert r.status_code == 401
    r = beta.http.post("/api/v2/proofs", json={"names": ["a"]}, auth=beta.auth("admin"))
    assert r.status_code == 202 and r.json()["state"] == "pending"


def test_a_job_is_claimed_by_one_worker_and_retaken_when_its_claim_expires(
    sites: Sites,
) -> None:
    beta = sites.beta
    r = beta.http.post("/api/v2/proofs", json={"names": ["a"]}, auth=beta.auth("admin"))
    job_id = r.json()["id"]
    assert proof_jobs.claim_job(beta.factory, worker="one", seconds=60) == job_id
    assert proof_jobs.claim_job(beta.factory, worker="two", seconds=60) is None
    with beta.factory.begin() as session:
        session.execute(update(ProofJob).values(claimed_until=utcnow() - timedelta(seconds=1)))
    assert proof_jobs.claim_job(beta.factory, worker="two", seconds=60) == job_id
    # The first worker's late results are not stored over the second's claim.
    assert not proof_jobs.run_job(beta.factory, job_id, worker="one", seconds=60, site="beta")
    assert proof_jobs.run_job(beta.factory, job_id, worker="two", seconds=60, site="beta")
    r = beta.http.get(f"/api/v2/proofs/{job_id}", auth=beta.auth("admin"))
    assert r.json()["results"][0]["detail"] == "beta does not catalogue 'a'"


def _peer(site: Site, name: str) -> Peer:
    with site.session() as session:
        peer = session.scalar(select(Peer).where(Peer.name == name))
        assert peer is not None
        session.expunge(peer)
        return peer


def test_a_peer_that_catalogues_other_bytes_under_the_name_proves_nothing(
    sites: Sites,
) -> None:
    alpha, beta = _replicated(sites)
    other = os.urandom(3000)
    path = _copy_path(beta, "p/a.dat")
    path.chmod(0o600)
    path.write_bytes(other)
    with beta.factory.begin() as session:
        session.execute(update(File).where(File.name == "p/a.dat").values(checksum=md5(other)))
    proof = prover(sites, alpha).prove({"beta": ["p/a.dat"]})[("beta", "p/a.dat")]
    assert not proof.ok and f"beta catalogues 'p/a.dat' as {md5(other)}" in proof.detail
    assert _verdict(beta, "p/a.dat") == (CopyState.OK, "proof (alpha)")  # right by beta's book
    with alpha.session() as session:  # a conflict for an operator, not a lost copy
        live = session.scalars(
            select(OutgoingTransfer.id).where(OutgoingTransfer.status != TransferStatus.COMPLETED)
        ).all()
    assert live == []


def test_a_resend_follows_the_peers_policy(sites: Sites) -> None:
    alpha, beta = _replicated(sites)
    with alpha.factory.begin() as session:
        session.execute(update(Peer).where(Peer.name == "beta").values(push=False))
    r = beta.http.post(
        "/api/v2/delete",
        json={"names": ["p/a.dat"], "force": True, "last_copy": True},
        auth=beta.auth("admin"),
    )
    assert r.status_code == 200, r.text
    assert not prover(sites, alpha).prove({"beta": ["p/a.dat"]})[("beta", "p/a.dat")].ok
    assert holders(alpha, "p/a.dat") == set()  # no longer counted...
    with alpha.session() as session:  # ...but beta takes nothing over the network
        statuses = session.scalars(
            select(OutgoingTransfer.status).where(OutgoingTransfer.file_name == "p/a.dat")
        ).all()
    assert statuses == [TransferStatus.COMPLETED]


def test_an_account_may_keep_only_so_many_jobs_waiting(sites: Sites) -> None:
    beta = sites.beta
    now = utcnow()
    with beta.factory.begin() as session:
        session.add_all(
            ProofJob(caller="admin", state=ProofState.PENDING, names=["a"], created_time=now)
            for _ in range(proof_jobs.MAX_OPEN_JOBS)
        )
    r = beta.http.post("/api/v2/proofs", json={"names": ["a"]}, auth=beta.auth("admin"))
    assert r.status_code == 409 and "100 proof jobs waiting" in r.json()["reason"]
    run(beta, "prove_copies")  # they finish...
    r = beta.http.post("/api/v2/proofs", json={"names": ["a"]}, auth=beta.auth("admin"))
    assert r.status_code == 202  # ...and room is made
