"""Gauges about the catalogue, read from the database when Prometheus scrapes.

Nothing here is kept in a process's memory: whichever process answers, it asks the
database, so every worker tells the same story. Each family is one aggregate query
(GROUP BY over indexed columns), never a loop over files. Labels name stores, peers,
states and categories only; no file name, path, URL or credential is exposed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import timedelta

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import case, exists, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from librarian_client.models import TransferStatus
from librarian_server.orm import (
    HOLDING_STATUSES,
    OUTGOING_LIVE,
    Damage,
    ErrorRecord,
    IncomingTransfer,
    Instance,
    OutgoingTransfer,
    Peer,
    RemoteInstance,
    SendQueue,
    StagingJob,
    Store,
    utcnow,
)
from librarian_server.services.sneakernet.disks import MANAGER as SNEAKERNET
from librarian_server.settings import ServerSettings
from librarian_server.stores import backend_for

log = logging.getLogger(__name__)

P = "librarian_"
# Not yet at the peer: on their way, or given up on (until an operator retries them).
UNCONFIRMED = (*OUTGOING_LIVE, TransferStatus.FAILED)


def _gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(P + name, doc, labels=labels)


class CatalogueCollector(Collector):
    def __init__(self, factory: sessionmaker[Session], settings: ServerSettings) -> None:
        self.factory = factory
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        up = GaugeMetricFamily(P + "catalogue_up", "1 if the catalogue answered this scrape.")
        families: list[Metric] = []
        try:
            with self.factory() as session:
                families += self._stores(session)
                families += self._replication(session)
                families += self._sneakernet(session)
                families += self._records(session)
        except SQLAlchemyError:
            log.exception("metrics: the catalogue could not be read")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families
        took = GaugeMetricFamily(
            P + "catalogue_scrape_seconds", "Time the catalogue's gauges took to read."
        )
        took.add_metric([], time.perf_counter() - started)
        yield took

    def _stores(self, session: Session) -> list[Metric]:
        used = _gauge("store_used_bytes", "Bytes of the files on each store.", ["store"])
        free = _gauge(
            "store_free_bytes",
            "Bytes a new upload may still take on each store (disk and capacity, less "
            "uploads in flight and the free-space reserve).",
            ["store"],
        )
        capacity = _gauge("store_capacity_bytes", "Each store's configured capacity.", ["store"])
        copies = _gauge("store_instances", "File instances (copies) on each store.", ["store"])
        audited = _gauge(
            "audit_verified_instances",
            "Copies on each store re-hashed within the audit period.",
            ["store"],
        )
        cutoff = utcnow() - timedelta(days=self.settings.integrity.audit_period_days)
        counts = {
            store_id: (int(n), int(recent))
            for store_id, n, recent in session.execute(
                select(
                    Instance.store_id,
                    func.count(),
                    func.count(case((Instance.verified_time >= cutoff, 1))),
                ).group_by(Instance.store_id)
            )
        }
        in_flight = {
            store_id: int(total or 0)
            for store_id, total in session.execute(
                select(IncomingTransfer.store_id, func.sum(IncomingTransfer.expected_size))
                .where(IncomingTransfer.status.in_(HOLDING_STATUSES))
                .group_by(IncomingTransfer.store_id)
            )
        }
        for store in session.scalars(select(Store).order_by(Store.id)):
            n, recent = counts.get(store.id, (0, 0))
            used.add_metric([store.name], store.used_bytes)
            copies.add_metric([store.name], n)
            audited.add_metric([store.name], recent)
            if store.capacity_bytes is not None:
                capacity.add_metric([store.name], store.capacity_bytes)
            room = self._room(store, in_flight.get(store.id, 0))
            if room is not None:
                free.add_metric([store.name], room)
        return [used, free, capacity, copies, audited]

    def _room(self, store: Store, in_flight: int) -> int | None:
        """As ``stores.room_in`` says it, from the in-flight bytes read for every store
        at once; None when the store's filesystem cannot be asked now."""
        try:
            room = backend_for(store).free_bytes() - self.settings.min_free_bytes - in_flight
        except Exception:  # an unreachable store: its free space is unknown, not zero
            log.warning("metrics: free space of store %s unknown", store.name, exc_info=True)
            return None
        if store.capacity_bytes is not None:
            room = min(room, store.capacity_bytes - store.used_bytes - in_flight)
        return max(room, 0)

    def _replication(self, session: Session) -> list[Metric]:
        depth = _gauge(
            "send_queue_depth",
            "Outgoing transfers not done, per peer and status.",
            ["peer", "status"],
        )
        files = _gauge(
            "replication_backlog_files",
            "Files on their way to each peer (or failed) that it has not confirmed.",
            ["peer"],
        )
        nbytes = _gauge("replication_backlog_bytes", "Bytes of those files, per peer.", ["peer"])
        oldest = _gauge(
            "replication_oldest_unconfirmed_seconds",
            "Age of the oldest transfer to each peer not yet confirmed (0: none).",
            ["peer"],
        )
        peers = list(session.scalars(select(Peer.name).order_by(Peer.name)))
        for peer, status, n in session.execute(
            select(OutgoingTransfer.destination, OutgoingTransfer.status, func.count())
            .where(OutgoingTransfer.status.in_(OUTGOING_LIVE))
            .group_by(OutgoingTransfer.destination, OutgoingTransfer.status)
        ):
            depth.add_metric([peer, TransferStatus(status).value], n)
        held = exists().where(
            RemoteInstance.file_name == OutgoingTransfer.file_name,
            RemoteInstance.site == OutgoingTransfer.destination,
        )
        backlog = {
            peer: (int(n), int(total or 0), first)
            for peer, n, total, first in session.execute(
                select(
                    OutgoingTransfer.destination,
                    func.count(),
                    func.sum(OutgoingTransfer.size),
                    func.min(OutgoingTransfer.created_time),
                )
                .where(OutgoingTransfer.status.in_(UNCONFIRMED), ~held)
                .group_by(OutgoingTransfer.destination)
            )
        }
        now = utcnow()
        for peer in sorted(set(peers) | set(backlog)):
            n, total, first = backlog.get(peer, (0, 0, None))
            files.add_metric([peer], n)
            nbytes.add_metric([peer], total)
            age = (now - first).total_seconds() if first is not None else 0.0
            oldest.add_metric([peer], max(age, 0.0))
        return [depth, files, nbytes, oldest]

    def _sneakernet(self, session: Session) -> list[Metric]:
        out = _gauge("sneakernet_disks_out", "Disks with files not yet confirmed.", ["peer"])
        overdue = _gauge(
            "sneakernet_disks_overdue",
            "Disks out for longer than the overdue period with files not yet confirmed.",
            ["peer"],
        )
        cutoff = utcnow() - timedelta(days=self.settings.sneakernet.overdue_days)
        unconfirmed = exists().where(
            OutgoingTransfer.send_queue_id == SendQueue.id,
            OutgoingTransfer.status.in_(OUTGOING_LIVE),
        )
        for peer, n, late in session.execute(
            select(
                SendQueue.destination,
                func.count(),
                func.count(case((SendQueue.created_time < cutoff, 1))),
            )
            .where(SendQueue.transfer_manager == SNEAKERNET, SendQueue.file_count > 0, unconfirmed)
            .group_by(SendQueue.destination)
        ):
            out.add_metric([peer], n)
            overdue.add_metric([peer], late)
        return [out, overdue]

    def _records(self, session: Session) -> list[Metric]:
        damage = _gauge("damage_records", "Damage records by kind and state.", ["kind", "state"])
        for kind, state, n in session.execute(
            select(Damage.kind, Damage.state, func.count()).group_by(Damage.kind, Damage.state)
        ):
            damage.add_metric([kind.value, state.value], n)
        jobs = _gauge("staging_jobs", "Staging jobs (cold stores) by state.", ["state"])
        for job_state, n in session.execute(
            select(StagingJob.state, func.count()).group_by(StagingJob.state)
        ):
            jobs.add_metric([job_state.value], n)
        # The error log only grows, so its rows count like a counter.
        errors = CounterMetricFamily(
            P + "errors_logged",
            "Errors recorded in the error log, by category.",
            labels=["category"],
        )
        for category, n in session.execute(
            select(ErrorRecord.category, func.count()).group_by(ErrorRecord.category)
        ):
            errors.add_metric([category.value], n)
        return [damage, jobs, errors]
