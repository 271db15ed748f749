"""Every read path knows a copy that is only on tape: replication, VOSpace, sneakernet
export and the audit wait for staging or leave the copy alone, and then succeed."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from librarian_server.orm import Damage, OutgoingTransfer, StagingJob
from librarian_server.services.integrity.audit import AuditPolicy, audit_store
from tests.integration.cold.conftest import FAST, Tape, put_on_cold, run_round, to_tape, until
from tests.integration.conftest import Site
from tests.integration.helpers import upload
from tests.integration.multisite import (
    Sites,
    content,
    run,
    sites_fixture,  # noqa: F401 - the fixture
)

FILES = {f"raw/tape{i}.dat": f"bytes of file {i}\n".encode() * (50 + i) for i in range(3)}


def _on_tape(site: Site, tape: Tape) -> None:
    put_on_cold(site, tape)
    for name, data in FILES.items():
        upload(site.http, site.auth(), name, data)
    assert to_tape(site)["released"] == len(FILES)


def test_a_replication_send_waits_for_staging_then_completes(sites: Sites, tape: Tape) -> None:
    alpha = sites.start("alpha", cold=FAST)
    beta = sites.beta
    _on_tape(alpha, tape)
    sites.link(alpha, beta, managers=["http"])
    first = run(alpha, "send_clone")["send_clone"]
    assert first.get("sent", 0) == 0 and first.get("failed", 0) == 0, first
    with alpha.session() as session:
        waiting = list(session.scalars(select(OutgoingTransfer)))
        jobs = list(session.scalars(select(StagingJob)))
    assert len(waiting) == 3 and {t.attempts for t in waiting} == {0}
    assert all("on tape here" in (t.error or "") for t in waiting)
    assert [(j.owner, j.origin) for j in jobs] == [("replication:beta", "replication")]

    def send_round() -> None:
        run_round(alpha)
        with alpha.factory.begin() as session:  # the wait for staging has passed
            session.execute(
                update(OutgoingTransfer).values(next_attempt_at=OutgoingTransfer.created_time)
            )
        run(alpha, "send_clone")

    until(lambda: all(_has(beta, n) for n in FILES), then=send_round, what="beta's copies")
    for name, data in FILES.items():
        assert content(beta, name) == data
    with alpha.session() as session:
        assert len(list(session.scalars(select(StagingJob)))) == 1, "one job, joined"


def _has(site: Site, name: str) -> bool:
    return site.http.get(f"/api/v2/files/{name}", auth=site.auth("reader")).status_code == 200


def test_a_vospace_read_answers_503_with_retry_after_then_the_bytes(
    make_site: Any, tape: Tape
) -> None:
    site = make_site(cold=FAST)
    _on_tape(site, tape)
    name = "raw/tape1.dat"
    url = f"/vospace/files/{name}"
    busy = site.http.get(url, auth=site.auth("reader"))
    assert busy.status_code == 503, busy.text
    assert busy.text.startswith("NodeBusy") and "staging started" in busy.text
    assert int(busy.headers["retry-after"]) > 0
    job = busy.headers["x-librarian-staging-job"]
    ok = until(
        lambda: (r := site.http.get(url, auth=site.auth("reader"))).status_code == 200 and r,
        then=lambda: run_round(site),
        what="the staged file",
    )
    assert ok.content == FILES[name]
    state = site.http.get(f"/api/v2/staging/{job}", auth=site.auth("reader")).json()["state"]
    assert state == "complete"


def test_an_audit_leaves_offline_copies_alone(make_site: Any, tape: Tape) -> None:
    site = make_site(cold=FAST)
    _on_tape(site, tape)
    with site.session() as session:
        from librarian_server.orm import Store, StoreKind

        cold_id = session.scalars(select(Store.id).where(Store.kind == StoreKind.COLD)).one()
    policy = AuditPolicy(
        period=timedelta(seconds=0), walk_every=timedelta(seconds=0), dark_after=timedelta(0)
    )
    result = audit_store(site.factory, cold_id, policy, deadline=time.monotonic() + 60)
    assert result.walk_finished and result.missing == 0 and result.damaged == 0
    with site.session() as session:
        assert list(session.scalars(select(Damage))) == []


def test_a_sneakernet_export_skips_tape_only_files_and_stages_them(
    sites: Sites, tape: Tape, tmp_path: Path
) -> None:
    alpha = sites.start("alpha", cold=FAST, sneakernet={"roots": [str(tmp_path)]})
    beta = sites.beta
    _on_tape(alpha, tape)
    sites.link(alpha, beta, managers=["sneakernet"], push=False)
    sites.link(beta, alpha, push=False)  # beta's account here signs the disk
    disk = tmp_path / "disk1"
    disk.mkdir()
    with alpha.client("admin") as client:
        events = list(client.sneakernet_export("beta", str(disk)))
    done = events[-1].export
    assert done is not None and done.files == 0
    assert {p.name for p in done.problems} == set(FILES)
    assert all("on tape only here: staging started" in p.reason for p in done.problems)
    with alpha.session() as session:
        jobs = list(session.scalars(select(StagingJob)))
        attempts = {t.attempts for t in session.scalars(select(OutgoingTransfer))}
    assert [j.origin for j in jobs] == ["sneakernet"] and attempts <= {0}
    until(lambda: _job_done(alpha), then=lambda: run_round(alpha), what="the export's staging")
    with alpha.client("admin") as client:
        again = list(client.sneakernet_export("beta", str(disk)))[-1].export
    assert again is not None and again.files == len(FILES) and again.problems == []


def _job_done(site: Site) -> bool:
    with site.session() as session:
        return all(j.state != "pending" for j in session.scalars(select(StagingJob)))
