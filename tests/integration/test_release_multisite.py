"""Deleting a copy on the strength of proofs from other sites: alpha, beta and gamma,
replicated for real, with N=2 (a copy at alpha goes only once beta *and* gamma have
just re-hashed theirs).

alpha asks with its real ``PeerProver`` over the peer protocol (the harness runs the
peers' ``prove_copies`` task between its polls). ``Recording`` wraps it to see what
was asked and, for the race test, to hold two passes until both have their proofs.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from librarian_client.models import CopyState, PermissionLevel, ReleaseRequest, ReleaseResponse
from librarian_server.orm import Event, File, Instance, RemoteInstance, Store, utcnow
from librarian_server.services.accounts.auth import create_user
from librarian_server.services.catalogue.stores import add_store, add_used_bytes
from librarian_server.services.core.credentials import CredentialBox
from librarian_server.services.integrity.policies import set_policy
from librarian_server.services.integrity.release import release_page
from librarian_server.services.integrity.sources import CopyProver, Proof
from librarian_server.services.replication.peers import add_peer
from librarian_server.stores import backend_for
from tests.integration.conftest import PASSWORD, Site
from tests.integration.helpers import posix_backend, upload
from tests.integration.multisite import (
    Sites,
    content,
    holders,
    run,
    sites_fixture,  # noqa: F401 - the fixture
)
from tests.integration.multisite import prover as peer_prover

FILES = {"obs/a.dat": os.urandom(4096), "obs/b.dat": os.urandom(9000)}


class Recording:
    """A ``CopyProver`` passing each question to ``inner`` and noting it; with a barrier,
    each answer waits for the other pass's (so both judge before either acts)."""

    def __init__(self, inner: CopyProver) -> None:
        self.inner = inner
        self.asked: list[dict[str, list[str]]] = []
        self.before_answer: threading.Barrier | None = None

    def prove(self, names_by_site: Mapping[str, Sequence[str]]) -> dict[tuple[str, str], Proof]:
        self.asked.append({site: list(names) for site, names in names_by_site.items()})
        proofs = self.inner.prove(names_by_site)
        if self.before_answer is not None:
            self.before_answer.wait(timeout=60)
        return proofs


@pytest.fixture
def alpha(sites: Sites) -> Site:
    """alpha's files, sent to beta and gamma, a month old at alpha."""
    alpha, beta, gamma = sites.alpha, sites.beta, sites.gamma
    sites.link(alpha, beta, managers=["http"])
    sites.link(alpha, gamma, managers=["http"])
    for name, data in FILES.items():
        upload(alpha.http, alpha.auth(), name, data)
    summary = run(alpha, "send_clone")["send_clone"]
    assert summary["sent"] == 2 * len(FILES), summary
    for name in FILES:
        assert holders(alpha, name) == {"beta", "gamma"}
    with alpha.factory.begin() as session:
        session.execute(update(Instance).values(created_time=utcnow() - timedelta(days=40)))
    return alpha


@pytest.fixture
def prover(sites: Sites, alpha: Site) -> Recording:
    """alpha's PeerProver; the peers' proving is run one site at a time (two passes may
    ask at once)."""
    one_at_a_time = threading.Lock()

    def wait(seconds: float) -> None:
        with one_at_a_time:
            for other in list(sites.started.values()):
                if other is not alpha:
                    run(other, "prove_copies")

    return Recording(peer_prover(sites, alpha, wait=wait))


def _policy(site: Site, store: str = "local", **options: object) -> None:
    with site.factory.begin() as session:
        set_policy(
            session,
            store,
            after_days=30,
            min_copies=2,
            proof_age_days=7,
            **options,  # type: ignore[arg-type]
        )


def _release(
    site: Site, prover: Recording, *, store: str = "local", dry_run: bool = False
) -> ReleaseResponse:
    return release_page(
        site.factory,
        ReleaseRequest(store=store, dry_run=dry_run, limit=100),
        site_name=site.settings.site_name,
        prover=prover,
    )


def _local_copies(site: Site, name: str) -> int:
    with site.session() as session:
        return int(
            session.scalar(select(func.count(Instance.id)).where(Instance.file_name == name)) or 0
        )


def _copy_path(site: Site, name: str) -> Path:
    with site.session() as session:
        instance = session.scalars(select(Instance).where(Instance.file_name == name)).first()
        assert instance is not None
        return posix_backend(instance.store).local_path(instance.path)


def test_released_only_when_two_sites_prove_their_copies_now(
    sites: Sites, alpha: Site, prover: Recording
) -> None:
    _policy(alpha, allow_remote_only=True)
    dry = _release(alpha, prover, dry_run=True)
    assert [(c.name, c.releasable, c.released) for c in dry.candidates] == [
        ("obs/a.dat", True, False),
        ("obs/b.dat", True, False),
    ]
    assert dry.candidates[0].reason == "2 verified copies elsewhere: beta, gamma"
    assert all(_local_copies(alpha, n) == 1 for n in FILES), "a dry run changes nothing"
    assert prover.asked[-1] == {"beta": list(FILES), "gamma": list(FILES)}
    paths = [_copy_path(alpha, n) for n in FILES]

    done = _release(alpha, prover)
    assert done.released == 2 and done.released_bytes == sum(len(d) for d in FILES.values())
    assert all(_local_copies(alpha, n) == 0 for n in FILES)
    assert not any(p.exists() for p in paths)
    with alpha.session() as session:
        assert session.scalar(select(Store.used_bytes).where(Store.name == "local")) == 0
        assert session.scalar(select(func.count()).select_from(File)) == 2  # kept
        sites_left = set(session.scalars(select(RemoteInstance.site)))
        events = session.scalars(select(Event).where(Event.kind == "copy.released")).all()
    assert sites_left == {"beta", "gamma"}
    assert {e.detail["proven_by"][0] for e in events} == {"beta"}
    r = alpha.http.get("/api/v2/download/obs/a.dat", auth=alpha.auth("reader"))
    assert r.status_code == 404
    assert "copies are at beta, gamma" in r.json()["reason"]
    assert content(sites.beta, "obs/a.dat") == FILES["obs/a.dat"]


def test_a_peer_down_blocks_release(sites: Sites, alpha: Site, prover: Recording) -> None:
    _policy(alpha, allow_remote_only=True)
    sites.router.refuse = lambda request: request.url.host == "gamma"
    done = _release(alpha, prover)
    assert done.released == 0
    reason = done.candidates[0].reason
    assert reason.startswith("blocked: only 1 proof(s) (beta), 2 needed"), reason
    assert "gamma could not be asked" in reason
    assert all(_local_copies(alpha, n) == 1 for n in FILES)


def test_a_copy_corrupted_since_its_last_audit_blocks_release(
    sites: Sites, alpha: Site, prover: Recording
) -> None:
    _policy(alpha, allow_remote_only=True)
    _copy_path(sites.gamma, "obs/a.dat").write_bytes(b"\0" * len(FILES["obs/a.dat"]))
    done = _release(alpha, prover)
    verdicts = {c.name: c for c in done.candidates}
    assert not verdicts["obs/a.dat"].released
    assert "gamma" in verdicts["obs/a.dat"].reason and "corrupt" in verdicts["obs/a.dat"].reason
    assert verdicts["obs/b.dat"].released  # gamma's other copy is sound
    assert _local_copies(alpha, "obs/a.dat") == 1
    with sites.gamma.session() as session:
        bad = session.scalar(select(Instance).where(Instance.file_name == "obs/a.dat"))
        assert bad is not None and bad.verified_result is CopyState.BAD


def test_a_peer_claiming_a_copy_it_does_not_have_blocks_release(
    sites: Sites, alpha: Site, prover: Recording
) -> None:
    """gamma's catalogue still lists the copy but its bytes are gone; and alpha's
    catalogue says delta holds it too, but delta has never heard of it."""
    _policy(alpha, allow_remote_only=True)
    _copy_path(sites.gamma, "obs/a.dat").unlink()
    with alpha.factory.begin() as session:
        session.add(RemoteInstance(file_name="obs/a.dat", site="delta", copy_time=utcnow()))
    sites.link(alpha, sites.start("delta"), managers=["http"])
    done = _release(alpha, prover)
    verdict = next(c for c in done.candidates if c.name == "obs/a.dat")
    assert not verdict.released
    assert "only 1 proof(s) (beta)" in verdict.reason
    assert "gamma" in verdict.reason and "delta" in verdict.reason
    assert _local_copies(alpha, "obs/a.dat") == 1


def test_a_proof_for_a_site_not_asked_or_too_old_does_not_count(
    alpha: Site, prover: Recording
) -> None:
    _policy(alpha, allow_remote_only=True)

    class Liar:
        def prove(self, names_by_site: Mapping[str, Sequence[str]]) -> dict[tuple[str, str], Proof]:
            now = utcnow()
            return {("beta", n): Proof("beta", n, True, now - timedelta(days=8)) for n in FILES} | {
                ("gamma", n): Proof("epsilon", n, True, now) for n in FILES
            }

    done = release_page(
        alpha.factory,
        ReleaseRequest(store="local", dry_run=False),
        site_name="alpha",
        prover=Liar(),
    )
    assert done.released == 0
    reason = done.candidates[0].reason
    assert "too long ago" in reason and "answered for another copy" in reason


def test_the_last_copy_here_is_kept_unless_the_policy_allows_remote_only(
    alpha: Site, prover: Recording
) -> None:
    _policy(alpha)
    done = _release(alpha, prover)
    assert done.released == 0
    assert {c.reason for c in done.candidates} == {
        "blocked: the last copy at this site (the policy keeps it)"
    }
    assert prover.asked == [], "no site is asked for what the policy keeps anyway"


def _second_copy(site: Site, name: str, store_name: str) -> None:
    """Another copy of ``name`` on ``store_name`` at ``site`` (as tiering would leave)."""
    with site.factory.begin() as session:
        first = session.scalars(select(Instance).where(Instance.file_name == name)).first()
        store = session.scalar(select(Store).where(Store.name == store_name))
        assert first is not None and store is not None
        backend = backend_for(store)
        staging = backend.new_staging_path()
        shutil.copyfile(posix_backend(first.store).local_path(first.path), staging)
        path = backend.path_for(name, "second")
        backend.commit(staging, path)
        session.add(
            Instance(
                file_name=name,
                store_id=store.id,
                path=path,
                created_time=first.created_time,
                verified_time=utcnow(),
                verified_result=CopyState.OK,
                verified_by="test",
            )
        )
        add_used_bytes(session, {store.id: first.file.size})


def test_two_passes_at_once_never_drop_below_one_copy_here(
    alpha: Site, prover: Recording, tmp_path: Path
) -> None:
    """Two stores at alpha each hold a copy and each has a delete policy that keeps the
    last copy here. Both passes get their proofs before either acts (a barrier), so
    each, judging alone, would delete; under the file's lock exactly one does."""
    with alpha.factory.begin() as session:
        add_store(session, "slow", tmp_path / "alpha-slow", make_buckets=False)
    for name in FILES:
        _second_copy(alpha, name, "slow")
    _policy(alpha, "local")
    _policy(alpha, "slow")
    prover.before_answer = threading.Barrier(2)
    results: dict[str, ReleaseResponse] = {}
    errors: list[BaseException] = []

    def one_pass(store: str) -> None:
        try:
            results[store] = _release(alpha, prover, store=store)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=one_pass, args=(s,)) for s in ("local", "slow")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    for name in FILES:
        assert _local_copies(alpha, name) == 1, name
    released = sum(r.released for r in results.values())
    assert released == len(FILES)
    kept = [c.reason for r in results.values() for c in r.candidates if not c.released]
    assert set(kept) == {"blocked: the last copy at this site (the policy keeps it)"}


def test_the_release_task_deletes_once_the_peers_have_proven_their_copies(
    sites: Sites, alpha: Site
) -> None:
    """The scheduled task, with the PeerProver it builds itself; beta and gamma answer
    proof requests on their own schedules (here: as often as the test loop runs them)."""
    _policy(alpha, allow_remote_only=True)
    summary: dict[str, dict[str, object]] = {}
    task = threading.Thread(target=lambda: summary.update(run(alpha, "release")))
    task.start()
    while task.is_alive():
        for other in (sites.beta, sites.gamma):
            run(other, "prove_copies")
        task.join(timeout=0.1)
    assert summary["release"]["released"] == len(FILES), summary
    assert all(_local_copies(alpha, n) == 0 for n in FILES)
    assert holders(alpha, "obs/a.dat") == {"beta", "gamma"}


def test_the_release_api_waits_for_proofs_only_a_short_bound(alpha: Site) -> None:
    """Through the API the wait is ``request_proof_timeout_seconds``, not the long
    background timeout: beta and gamma take the jobs but never run them, and the answer
    comes within the bound with every copy blocked for that reason."""
    _policy(alpha, allow_remote_only=True)
    replication = alpha.settings.replication
    assert replication.proof_timeout_seconds == 3600  # what the background task waits
    replication.request_proof_timeout_seconds = 1.0
    replication.proof_poll_seconds = 0.2
    for dry_run in (True, False):
        began = time.monotonic()
        r = alpha.http.post(
            "/api/v2/release",
            json={"store": "local", "dry_run": dry_run},
            auth=alpha.auth("admin"),
        )
        assert time.monotonic() - began < 10
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["released"] == 0
        for c in body["candidates"]:
            assert not c["releasable"] and not c["released"]
            assert c["reason"] == (
                "blocked: only 0 proof(s), 2 needed; beta did not answer within 1 s; "
                "gamma did not answer within 1 s"
            )
    assert all(_local_copies(alpha, n) == 1 for n in FILES)


def test_one_site_known_by_two_names_proves_one_copy(
    sites: Sites, alpha: Site, prover: Recording
) -> None:
    """alpha's catalogue says delta holds the files too, and alpha's peer entry for delta
    leads, by an operator's slip, to beta. gamma is down, so only beta's bytes answer,
    once as beta and once as "delta": that is one site, and nothing may go."""
    _policy(alpha, allow_remote_only=True)
    beta = sites.beta
    with beta.factory.begin() as session:
        create_user(session, "alpha-as-delta", PASSWORD, PermissionLevel.PEER)
    with alpha.factory.begin() as session:
        add_peer(
            session,
            name="delta",
            url="http://beta",
            username="alpha-as-delta",
            password=PASSWORD,
            box=CredentialBox.for_settings(alpha.settings),
            settings=alpha.settings,
        )
        for name in FILES:
            session.add(RemoteInstance(file_name=name, site="delta", copy_time=utcnow()))
    sites.router.refuse = lambda request: request.url.host == "gamma"
    done = _release(alpha, prover)
    assert done.released == 0
    reason = done.candidates[0].reason
    assert reason.startswith("blocked: only 1 proof(s) (beta), 2 needed"), reason
    assert "delta answered as beta" in reason
    assert all(_local_copies(alpha, n) == 1 for n in FILES)
