"""Globus: one Globus transfer task per batch, polled until it is over.

This site's collection (``endpoint_id``) reads the files; the peer's collection,
named in its stage answer, writes them into its staging area. Each store is
mapped to the path where its root appears on our collection, as the peer maps
its own. Globus verifies every file against the catalogue's MD5 as it lands;
the peer hashes it again when it commits.

The client is built on first use, never at import: a site that only receives by
Globus (it offers its collection, the sender drives the task) never logs in.
Network and service errors at submission fail the batch, which is retried with a
backoff; while polling they propagate, and the batch is polled again later.
"""

from __future__ import annotations

import logging
import re
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import globus_sdk

from librarian_client.checksum import parse_checksum
from librarian_client.models import CloneStageResponse
from librarian_server.settings import GlobusSettings
from librarian_server.transfer.base import (
    AsyncStatus,
    Batch,
    BatchOutcome,
    SendItem,
    TaskState,
    TransferBusy,
    TransferError,
    TransferManager,
)

log = logging.getLogger(__name__)

# Globus labels allow letters, digits, spaces, '-', '_', ',' and '.', up to 128 characters.
_LABEL_FORBIDDEN = re.compile(r"[^A-Za-z0-9 _,.-]+")
_LABEL_MAX = 128
_QUIET_STATUSES = frozenset({"OK", "Queued", "QUEUED"})


def describe(exc: globus_sdk.GlobusError) -> str:
    """A Globus error in one line, with no request headers (they carry tokens)."""
    if isinstance(exc, globus_sdk.GlobusAPIError):
        return f"HTTP {exc.http_status} {exc.code}: {exc.message or exc.http_reason}"
    return f"{type(exc).__name__}: {exc}"


def task_label(text: str, files: int) -> str:
    label = _LABEL_FORBIDDEN.sub(" ", f"{text.replace('->', ' to ')}, {files} files")
    return " ".join(label.split())[:_LABEL_MAX]


class GlobusManager(TransferManager):
    name = "globus"
    asynchronous = True

    def __init__(self, settings: GlobusSettings) -> None:
        self.settings = settings
        self.deadline = timedelta(hours=settings.deadline_hours)
        self._client: globus_sdk.TransferClient | None = None
        self._lock = threading.Lock()

    # -- the connection ----------------------------------------------------------------

    def client(self) -> globus_sdk.TransferClient:
        """The TransferClient, logged in on first use."""
        with self._lock:
            if self._client is None:
                self._client = globus_sdk.TransferClient(
                    authorizer=self._authorizer(), app_name="librarian"
                )
            return self._client

    def _authorizer(self) -> globus_sdk.authorizers.GlobusAuthorizer:
        """A refresh token acts as the user who granted it; otherwise the client itself
        logs in (client credentials), the service account a server should use."""
        s = self.settings
        if not s.configured or s.client_id is None:
            raise TransferError("Globus is not configured on this site")
        secret = None if s.client_secret is None else s.client_secret.get_secret_value()
        if s.refresh_token is not None:
            # A refresh token issued to a confidential client is refreshed with its secret.
            login: globus_sdk.AuthLoginClient = (
                globus_sdk.NativeAppAuthClient(s.client_id, app_name="librarian")
                if secret is None
                else globus_sdk.ConfidentialAppAuthClient(s.client_id, secret, app_name="librarian")
            )
            return globus_sdk.RefreshTokenAuthorizer(s.refresh_token.get_secret_value(), login)
        assert secret is not None  # noqa: S101 - ``configured`` requires one or the other
        return globus_sdk.ClientCredentialsAuthorizer(
            globus_sdk.ConfidentialAppAuthClient(s.client_id, secret, app_name="librarian"),
            globus_sdk.TransferClient.scopes.all,
        )

    # -- choosing ------------------------------------------------------------------------

    def receivable(self) -> bool:
        return self.settings.configured and bool(self.settings.stores)

    def source_path(self, item: SendItem) -> str | None:
        """Where this site's copy appears on our collection, or None if its store is unmapped."""
        root = self.settings.path_for_store(item.store_name)
        if (
            root is None
            or item.source_path is None
            or not item.source_path.is_relative_to(item.store_root)
        ):
            return None
        relative = item.source_path.relative_to(item.store_root).as_posix()
        return f"{root.rstrip('/')}/{relative}"

    def valid(self, offer: CloneStageResponse, items: list[SendItem]) -> bool:
        return (
            self.settings.configured
            and offer.globus is not None
            and all(i.staged.globus_path and self.source_path(i) for i in items)
        )

    # -- submitting ----------------------------------------------------------------------

    def new_submission_id(self) -> str:
        try:
            return str(self.client().get_submission_id()["value"])
        except globus_sdk.GlobusError as exc:
            raise TransferError(f"Globus gave no submission id: {describe(exc)}") from exc

    def active_tasks(self) -> int:
        """Our identity's unfinished tasks (INACTIVE ones count: Globus counts them too),
        up to ``max_active_tasks``."""
        page = self.client().task_list(
            filter="status:ACTIVE,INACTIVE", limit=self.settings.max_active_tasks
        )
        return len(page["DATA"])

    def transfer_many(self, batch: Batch) -> BatchOutcome:
        """One Globus task for the whole batch; its id is what ``status`` polls."""
        if batch.offer.globus is None:
            raise TransferError(f"{batch.offer.site} offered no Globus collection")
        try:
            in_flight = self.active_tasks()
            if in_flight >= self.settings.max_active_tasks:
                raise TransferBusy(
                    f"{in_flight} Globus tasks are active or inactive, the most this site "
                    f"runs at once (globus.max_active_tasks)"
                )
            data = self._task(batch, batch.offer.globus.endpoint_id)
            result = self.client().submit_transfer(data)
        except globus_sdk.GlobusError as exc:
            raise TransferError(f"Globus did not take the transfer: {describe(exc)}") from exc
        task_id = str(result["task_id"])
        log.info(
            "Globus task %s: %d file(s) to %s (%s)",
            task_id,
            len(batch.items),
            batch.offer.site,
            result.get("code"),
        )
        return BatchOutcome(external_id=task_id)

    def _task(self, batch: Batch, destination: str) -> globus_sdk.TransferData:
        assert self.settings.endpoint_id is not None  # noqa: S101 - valid() checked it
        deadline = datetime.now(UTC) + timedelta(hours=self.settings.deadline_hours)
        data = globus_sdk.TransferData(
            source_endpoint=self.settings.endpoint_id,
            destination_endpoint=destination,
            label=task_label(batch.label, len(batch.items)),
            # Reused when the request is sent again, so Globus starts one task only.
            submission_id=batch.submission_id or globus_sdk.MISSING,
            # No sync_level: every destination is a fresh staging file, to be overwritten.
            verify_checksum=self.settings.verify_checksum,
            # A full destination fails the task now rather than retrying until the deadline.
            fail_on_quota_errors=True,
            deadline=deadline.isoformat(timespec="seconds"),
        )
        for item in batch.items:
            source = self.source_path(item)
            target = item.staged.globus_path
            if source is None or not target:
                raise TransferError(f"{item.name} has no Globus path at both ends")
            algorithm, digest = parse_checksum(item.checksum)
            if algorithm == "md5":
                data.add_item(source, target, checksum_algorithm="MD5", external_checksum=digest)
            else:  # Globus checks its own checksum of what it wrote; the peer checks ours
                data.add_item(source, target)
        return data

    # -- polling -------------------------------------------------------------------------

    def status(self, external_id: str) -> AsyncStatus:
        """ACTIVE and INACTIVE (stalled, e.g. expired credentials) both mean not over yet.

        A task Globus does not know is FAILED. Network errors and other service errors
        propagate: nothing is known, and the batch is polled again later.
        """
        try:
            task = self.client().get_task(external_id)
        except globus_sdk.GlobusAPIError as exc:
            if exc.http_status == 404:
                return AsyncStatus(TaskState.FAILED, f"Globus has no such task ({describe(exc)})")
            raise
        state = str(task["status"])
        if state == "SUCCEEDED":
            return AsyncStatus(TaskState.SUCCEEDED)
        if state == "FAILED":
            return AsyncStatus(TaskState.FAILED, self._failure(external_id, task.data))
        if state == "INACTIVE":
            return AsyncStatus(TaskState.ACTIVE, "INACTIVE: " + _nice_status(task.data))
        if state == "ACTIVE":
            nice = task.get("nice_status")
            quiet = nice is None or nice in _QUIET_STATUSES
            return AsyncStatus(
                TaskState.ACTIVE, None if quiet else "ACTIVE: " + _nice_status(task.data)
            )
        return AsyncStatus(TaskState.ACTIVE, f"unexpected Globus task status {state!r}")

    def _failure(self, task_id: str, task: dict[str, Any]) -> str:
        fatal = task.get("fatal_error") or {}
        detail = f"{fatal.get('code')}: {fatal.get('description')}" if fatal else _nice_status(task)
        try:  # the last fault, which usually names the file and the cause
            events = self.client().task_event_list(task_id, limit=10)
            last = next((e for e in events if e.get("is_error")), None)
        except globus_sdk.GlobusError as exc:
            log.warning("Globus task %s: its events could not be read: %s", task_id, describe(exc))
            last = None
        if last is not None:
            words = last.get("details") or last.get("description")
            detail += f"; last error: {last.get('code')}: {words}"
        return detail

    def cancel(self, external_id: str) -> None:
        """Best effort: the task carries the same deadline, so Globus ends it anyway."""
        try:
            answer = self.client().cancel_task(external_id)
        except globus_sdk.GlobusError as exc:
            log.warning("Globus task %s could not be cancelled: %s", external_id, describe(exc))
            return
        log.info("Globus task %s cancelled: %s", external_id, answer.get("code"))


def _nice_status(task: dict[str, Any]) -> str:
    """Globus's own words for what a task is doing, e.g. 'CREDENTIALS_EXPIRED: ...'."""
    nice = task.get("nice_status") or task.get("status") or "no status"
    words = task.get("nice_status_short_description") or task.get("nice_status_details")
    paused = " (paused by an administrator)" if task.get("is_paused") else ""
    return (f"{nice}: {words}" if words else str(nice)) + paused
