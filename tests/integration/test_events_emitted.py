"""Each kind of event is written once for what it announces, by the real code paths.

Two in-process sites talk the peer protocol through the harness's router (``multisite``)
for replication and disks; integrity and staging run on one site (staging against a
live tape simulator). Every test reruns the step that emitted, to show that a repeated
round announces nothing twice.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from librarian_client.models import Direction, TransferStatus
from librarian_server.orm import Event, SendQueue, utcnow
from librarian_server.services.core import events
from tests.integration.cold.conftest import (  # noqa: F401 - the fixtures
    Tape,
    cold_site,
    run_round,
    tape,
    tape_options,
    to_tape,
    until,
)
from tests.integration.conftest import Site
from tests.integration.helpers import md5, upload
from tests.integration.integrity.helpers import (
    add_second_store,
    audit,
    copies,
    flip_byte,
    repair,
    second_copy,
)
from tests.integration.multisite import (
    Sites,
    run,
    sites_fixture,  # noqa: F401 - the fixture
)

FILES = {"run1/a.dat": os.urandom(4096), "run1/b.dat": os.urandom(10_001)}


def _events(site: Site, kind: str) -> list[Event]:
    with site.session() as session:
        rows = list(session.scalars(select(Event).where(Event.kind == kind).order_by(Event.id)))
        session.expunge_all()
        return rows


def _by_subject(site: Site, kind: str) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for e in _events(site, kind):
        found.setdefault(e.subject, []).append(e.detail)
    return found


def _upload(site: Site, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        upload(site.http, site.auth(), name, data)


def test_a_clone_is_committed_once_and_each_side_confirms_the_others_copy(sites: Sites) -> None:
    alpha, beta = sites.alpha, sites.beta
    sites.link(alpha, beta, managers=["http"])
    _upload(alpha, FILES)
    assert run(alpha, "send_clone")["send_clone"]["sent"] == len(FILES)
    run(alpha, "send_clone")  # nothing more to send: nothing more to announce

    committed = _by_subject(beta, events.FILE_COMMITTED)
    assert sorted(committed) == sorted(FILES)
    for name, data in FILES.items():
        [detail] = committed[name]
        assert (detail["size"], detail["checksum"], detail["source"]) == (
            len(data),
            md5(data),
            "alpha",
        )
    at_alpha = _by_subject(alpha, events.COPY_CONFIRMED)
    assert at_alpha == {
        name: [{"peer": "beta", "size": len(data), "store": None}] for name, data in FILES.items()
    }
    at_beta = _by_subject(beta, events.COPY_CONFIRMED)  # the sender's own copy
    assert {name: [d["peer"] for d in ds] for name, ds in at_beta.items()} == {
        name: ["alpha"] for name in FILES
    }


def test_a_disk_commits_once_confirms_once_and_is_overdue_once(
    sites: Sites, tmp_path: Path
) -> None:
    alpha, beta = sites.alpha, sites.beta
    sites.link(alpha, beta, push=False)
    sites.link(beta, alpha, push=False)
    _upload(alpha, FILES)
    disk = tmp_path / "disk"
    disk.mkdir()
    with alpha.client("admin") as client:
        exported = list(client.sneakernet_export("beta", str(disk)))[-1].export
    assert exported is not None
    label = exported.label

    assert run(alpha, "hypervisor")["hypervisor"]["overdue_disks"] == 0  # not overdue yet
    with alpha.factory.begin() as session:  # as if the disk had been out for a month
        session.execute(update(SendQueue).values(created_time=utcnow() - timedelta(days=30)))
    assert run(alpha, "hypervisor")["hypervisor"]["overdue_disks"] == 1
    assert run(alpha, "hypervisor")["hypervisor"]["overdue_disks"] == 0
    [overdue] = _events(alpha, events.DISK_OVERDUE)
    assert overdue.subject == label
    assert (overdue.detail["peer"], overdue.detail["unconfirmed"]) == ("beta", len(FILES))

    for _ in range(2):  # the same disk twice: committed once
        with beta.client("admin") as client:
            list(client.sneakernet_ingest(str(disk)))
        run(beta, "send_checkins")
    assert sorted(_by_subject(beta, events.FILE_COMMITTED)) == sorted(FILES)
    assert all(len(v) == 1 for v in _by_subject(beta, events.FILE_COMMITTED).values())
    at_alpha = _by_subject(alpha, events.COPY_CONFIRMED)
    assert {n: [d["peer"] for d in ds] for n, ds in at_alpha.items()} == {
        n: ["beta"] for n in FILES
    }
    # Confirmed, the disk is overdue no more and is not announced again.
    assert run(alpha, "hypervisor")["hypervisor"]["overdue_disks"] == 0


def test_a_refused_file_fails_its_transfer_once(sites: Sites) -> None:
    alpha, beta = sites.alpha, sites.beta
    sites.link(alpha, beta, managers=["http"])
    upload(beta.http, beta.auth(), "run1/a.dat", b"other bytes under the name")
    _upload(alpha, {"run1/a.dat": FILES["run1/a.dat"]})
    assert run(alpha, "send_clone")["send_clone"]["failed"] == 1
    run(alpha, "send_clone")
    run(alpha, "hypervisor")
    [failed] = _events(alpha, events.TRANSFER_FAILED)
    with alpha.client("admin") as client:
        [row] = client.transfers(direction=Direction.OUTGOING, peer="beta")
    assert row.status is TransferStatus.FAILED
    assert failed.subject == "run1/a.dat"
    assert failed.detail["transfer_id"] == row.id
    assert (failed.detail["peer"], failed.detail["attempts"]) == ("beta", 1)
    assert "refuses" in failed.detail["reason"]


def test_a_batch_no_manager_can_carry_fails_once(sites: Sites) -> None:
    alpha, beta = sites.alpha, sites.beta
    sites.link(alpha, beta, managers=["globus"])  # not set up at either site
    _upload(alpha, FILES)
    assert run(alpha, "send_clone")["send_clone"]["batches"] == 1
    run(alpha, "send_clone")  # backing off: no new batch, no new event
    [failed] = _events(alpha, events.BATCH_FAILED)
    with alpha.session() as session:
        [queue] = session.scalars(select(SendQueue))
    assert failed.subject == str(queue.id)
    assert (failed.detail["peer"], failed.detail["files"]) == ("beta", len(FILES))
    assert "no transfer manager" in failed.detail["reason"]
    assert _events(alpha, events.TRANSFER_FAILED) == []  # an attempt spent, not the last


def test_damage_is_announced_when_found_and_when_repaired(site: Site, tmp_path: Path) -> None:
    data = bytes(range(256)) * 64
    upload(site.http, site.auth(), "obs/a.g3", data)
    slow = add_second_store(site, tmp_path)
    second_copy(site, "obs/a.g3", slow)
    (_, store, bad_path), _ = copies(site, "obs/a.g3")
    flip_byte(bad_path, 1000)
    assert audit(site).damaged == 1
    assert audit(site).damaged == 0  # known already
    [found] = _events(site, events.DAMAGE_FOUND)
    assert found.subject == "obs/a.g3"
    assert (found.detail["kind"], found.detail["store"]) == ("corrupt", store)
    assert _events(site, events.DAMAGE_REPAIRED) == []

    assert repair(site) == ["repaired"]
    assert repair(site) == []
    [repaired] = _events(site, events.DAMAGE_REPAIRED)
    assert repaired.subject == "obs/a.g3"
    assert repaired.detail["damage_id"] == found.detail["damage_id"]


def _stage(site: Site, body: dict[str, Any]) -> str:
    r = site.http.post("/api/v2/staging", json=body, auth=site.auth())
    assert r.status_code == 202, r.text
    job_id: str = r.json()["id"]
    return job_id


def _state(site: Site, job_id: str) -> str:
    r = site.http.get(f"/api/v2/staging/{job_id}", auth=site.auth())
    state: str = r.json()["state"]
    return state


def test_staging_jobs_announce_how_they_ended(
    cold_site: tuple[Site, Tape],  # noqa: F811 - the fixture imported above
) -> None:
    site, tape_ = cold_site
    files = {"obs/n1/a.fits": b"a" * 100, "obs/n1/b.fits": b"b" * 200, "obs/n2/c.fits": b"c"}
    _upload(site, files)
    assert to_tape(site).get("released") == len(files)
    done = _stage(site, {"prefix": "obs/n1/"})
    until(lambda: _state(site, done) == "complete", then=lambda: run_round(site))
    tape_.configure(stage_delay=60)
    expired = _stage(site, {"names": ["obs/n2/c.fits"], "expires_in_seconds": 0.3})
    until(lambda: _state(site, expired) == "failed", then=lambda: run_round(site))
    run_round(site)

    [complete] = _events(site, events.STAGING_COMPLETE)
    assert complete.subject == done and complete.detail["owner"] == "writer"
    assert complete.detail["counts"] == {"total": 2, "ready": 2, "pending": 0, "error": 0}
    [failed] = _events(site, events.STAGING_FAILED)
    assert failed.subject == expired and failed.detail["counts"]["error"] == 1
    assert "expired" in failed.detail["reason"]
