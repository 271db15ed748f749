"""A copy damaged at one site is repaired from another with no command: the audit finds
it, the repair task asks the peer to prove its copy, fetches it, verifies, commits."""

from __future__ import annotations

import os
import time

from sqlalchemy import select

from librarian_client.models import DamageState
from librarian_server.orm import Damage
from tests.integration.conftest import Site
from tests.integration.helpers import upload
from tests.integration.integrity.helpers import copies, flip_byte
from tests.integration.multisite import (
    Sites,
    run,
    runner,
    sites_fixture,  # noqa: F401 - the fixture
)

DATA = os.urandom((1 << 20) * 2 + 321)
NAME = "obs/night/a.g3"


def _pair(sites: Sites) -> tuple[Site, Site]:
    """alpha sends to beta; beta may call alpha back (to ask for proofs and bytes).
    alpha proves copies on its own schedule; beta re-hashes every copy on each audit."""
    alpha = sites.start(
        "alpha", background={"in_server": False, "prove_copies": {"every_seconds": 0.2}}
    )
    beta = sites.start(
        "beta",
        integrity={"audit_period_days": 1e-6},  # every copy older than ~0.1 s is due
        replication={"proof_poll_seconds": 0.1, "proof_timeout_seconds": 20},
    )
    sites.link(alpha, beta, managers=["http"])
    sites.link(beta, alpha, managers=["http"])
    upload(alpha.http, alpha.auth(), NAME, DATA)
    assert run(alpha, "send_clone")["send_clone"]["sent"] == 1
    return alpha, beta


def _records(site: Site) -> list[Damage]:
    with site.session() as session:
        rows = list(session.scalars(select(Damage).order_by(Damage.id)))
        session.expunge_all()
        return rows


def test_a_flipped_byte_at_beta_is_found_by_its_audit_and_repaired_from_alpha(
    sites: Sites,
) -> None:
    alpha, beta = _pair(sites)
    [(bad_id, _, bad_path)] = copies(beta, NAME)
    flip_byte(bad_path, 1_500_000)
    rotten = bad_path.read_bytes()
    time.sleep(0.2)

    assert run(beta, "audit")["audit"]["damaged"] == 1
    [record] = _records(beta)
    assert record.state is DamageState.OPEN and record.instance_id == bad_id
    assert bad_path.read_bytes() == rotten, "found, not yet touched"

    runner(alpha).start()  # alpha answers proof requests on its own schedule
    try:
        repaired = run(beta, "repair")["repair"]
    finally:
        runner(alpha).stop()
    assert repaired == {"attempted": 1, "repaired": 1}
    [record] = _records(beta)
    assert record.state is DamageState.REPAIRED
    assert record.resolution is not None and "peer alpha" in record.resolution
    [(new_id, _, new_path)] = copies(beta, NAME)
    assert new_id != bad_id and new_path.read_bytes() == DATA
    assert not bad_path.exists()
    assert not any((new_path.parents[2] / "quarantine").iterdir())
    r = beta.http.get(f"/api/v2/download/{NAME}", auth=beta.auth("reader"))
    assert r.status_code == 200 and r.content == DATA
    # alpha was asked to prove its copy before sending it.
    with alpha.session() as session:
        from librarian_server.orm import Instance

        [by] = session.scalars(select(Instance.verified_by).where(Instance.file_name == NAME))
    assert by == "proof (beta)"


def test_while_the_peer_is_down_the_bad_bytes_stay_and_repair_waits(sites: Sites) -> None:
    alpha, beta = _pair(sites)
    [(_, _, bad_path)] = copies(beta, NAME)
    flip_byte(bad_path, 10)
    rotten = bad_path.read_bytes()
    time.sleep(0.2)
    run(beta, "audit")
    sites.router.refuse = lambda request: request.url.host == "alpha"
    assert run(beta, "repair")["repair"] == {"attempted": 1, "lost": 1}
    [record] = _records(beta)
    assert record.state is DamageState.LOST and record.active
    assert record.next_attempt_time is not None
    assert bad_path.read_bytes() == rotten, "no good copy came: the bad one is kept as it was"
    # alpha is back; the next attempt (here, an operator's) repairs it.
    sites.router.refuse = lambda request: False
    runner(alpha).start()
    try:
        r = beta.http.post(f"/api/v2/damage/{record.id}/repair", auth=beta.auth("admin"))
    finally:
        runner(alpha).stop()
    assert r.status_code == 200, r.text
    assert r.json()["damage"]["state"] == "repaired"
    assert [p.read_bytes() for _, _, p in copies(beta, NAME)] == [DATA]
