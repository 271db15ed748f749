"""Reading the catalogue: one file with its instances, its bytes, and search."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, BinaryIO, TypeVar

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import Session, selectinload

from librarian_client.models import (
    CopyState,
    FileInfo,
    FileSummary,
    InstanceInfo,
    RemoteInstanceInfo,
    SearchQuery,
    SearchResponse,
)
from librarian_server.errors import (
    CopyFailedVerification,
    FileOffline,
    InvalidRequest,
    NotFound,
)
from librarian_server.orm import File, Instance, RemoteInstance, StoreKind
from librarian_server.services.catalogue.names import normalise
from librarian_server.stores import StoreBackend, backend_for

_Q = TypeVar("_Q", bound=Select[Any])


def _get(session: Session, name: str) -> File:
    """The file by its stored (NFC) name, so that an NFD spelling finds it too; a name
    catalogued before names were normalised is still found by its exact spelling."""
    spellings = list(dict.fromkeys([normalise(name), name]))
    file = session.scalars(
        select(File)
        .where(File.name.in_(spellings))
        .options(selectinload(File.instances).selectinload(Instance.store))
        .order_by(File.name != spellings[0])
    ).first()
    if file is None:
        raise NotFound(f"No file named {name!r}.")
    return file


def file_info(session: Session, name: str) -> FileInfo:
    file = _get(session, name)
    return FileInfo(
        name=file.name,
        size=file.size,
        checksum=file.checksum,
        uploader=file.uploader,
        source=file.source,
        created_time=file.created_time,
        instances=[
            InstanceInfo(
                store=i.store.name,
                path=i.path,
                available=i.available,
                created_time=i.created_time,
                verified_result=i.verified_result,
                verified_time=i.verified_time,
                verified_by=i.verified_by,
                verified_detail=i.verified_detail,
            )
            for i in file.instances
        ],
        remote_instances=[
            RemoteInstanceInfo(site=r.site, copy_time=r.copy_time)
            for r in session.scalars(
                select(RemoteInstance)
                .where(RemoteInstance.file_name == file.name)
                .order_by(RemoteInstance.copy_time)
            )
        ],
    )


@dataclass(frozen=True)
class Download:
    """Bytes of a file to send: ``start``..``end`` of its ``size`` (all of it, unless ranged)."""

    backend: StoreBackend
    store_path: str
    size: int
    checksum: str
    start: int
    end: int  # inclusive

    def open(self) -> BinaryIO:
        """Positioned at ``start``; the store is told reading ends at ``end``."""
        return self.backend.open_read(self.store_path, self.start, self.end)

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def prepare_download(session: Session, name: str) -> Download:
    """The first usable copy whose bytes are there, whole. A copy known to be bad is never
    served: with only bad copies left, the answer is 409, not damaged bytes."""
    file = _get(session, name)
    bad = on_tape = 0
    for instance in file.instances:
        if instance.verified_result is CopyState.BAD:
            bad += 1
            continue
        cold = instance.store.kind is StoreKind.COLD
        if not instance.available:
            on_tape += cold
            continue
        backend = backend_for(instance.store)
        if backend.exists(instance.path):
            return Download(backend, instance.path, file.size, file.checksum, 0, file.size - 1)
        on_tape += cold  # released from the disk cache behind the catalogue's back
    if on_tape:
        raise FileOffline(
            f"{name!r} is on tape only at this site; it must be staged before it is read."
        )
    if bad:
        raise CopyFailedVerification(
            f"Every copy of {name!r} on this site failed verification against its checksum "
            f"{file.checksum}; it is not served."
        )
    sites = list(
        session.scalars(
            select(RemoteInstance.site)
            .where(RemoteInstance.file_name == name)
            .order_by(RemoteInstance.site)
        )
    )
    if sites and not file.instances:  # released here (a store's policy), kept elsewhere
        raise NotFound(
            f"{name!r} is catalogued but no copy is kept at this site any more; copies "
            f"are at {', '.join(sites)}.",
            f"Download it from {sites[0]}'s librarian, or ask an administrator to copy it "
            "back here.",
        )
    where = f"; other sites holding it: {', '.join(sites)}" if sites else ""
    raise NotFound(
        f"{name!r} is catalogued but no copy is available on this site's stores{where}.",
        "Ask an administrator; `librarian info` shows where copies are.",
    )


def glob_to_like(pattern: str) -> tuple[str, str]:
    """Translate a '*'/'?' glob to LIKE (escape '\\'); also return its literal prefix."""
    like, prefix, literal = [], [], True
    for ch in pattern:
        if ch == "*":
            like.append("%")
            literal = False
        elif ch == "?":
            like.append("_")
            literal = False
        else:
            like.append("\\" + ch if ch in "%_\\" else ch)
            if literal:
                prefix.append(ch)
    return "".join(like), "".join(prefix)


def name_prefix(prefix: str) -> list[ColumnElement[bool]]:
    """``name LIKE 'p%'`` as an index range, exact for byte-ordered names."""
    if not prefix:
        return []
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return [File.name >= prefix, File.name < upper]


def name_range(
    prefixes: list[str], *, after: str | None = None, at_least: str | None = None
) -> list[ColumnElement[bool]]:
    """Names under every prefix, and ``> after`` / ``>= at_least``, as ONE index range.

    SQLite seeks on one lower bound and filters the others, so ``name >= 'obs/' AND
    name > cursor`` would read from ``obs/`` again on every page; the tightest lower
    and upper bounds are chosen here instead.
    """
    lowers: list[tuple[str, bool]] = [(p, True) for p in prefixes if p]  # (bound, inclusive)
    uppers = [p[:-1] + chr(ord(p[-1]) + 1) for p in prefixes if p]
    if after is not None:
        lowers.append((after, False))
    if at_least is not None:
        lowers.append((at_least, True))
    conditions: list[ColumnElement[bool]] = []
    if lowers:
        # The largest bound wins; at a tie the exclusive one (False sorts first).
        bound, inclusive = max(lowers, key=lambda b: (b[0], not b[1]))
        conditions.append(File.name >= bound if inclusive else File.name > bound)
    if uppers:
        conditions.append(File.name < min(uppers))
    return conditions


def encode_cursor(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode()


def decode_cursor(cursor: str) -> str:
    try:
        return base64.b64decode(cursor.encode(), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidRequest(
            "The cursor is not valid.", "Pass next_cursor back unchanged."
        ) from None


def search(session: Session, filters: SearchQuery) -> SearchResponse:
    """One page of matches in name order; each filter becomes an indexed condition."""
    f = filters
    prefixes = [normalise(f.prefix) if f.prefix else ""]
    query = select(File)
    if f.name:
        like, literal = glob_to_like(normalise(f.name))
        prefixes.append(literal)
        query = query.where(File.name.like(like, escape="\\"))
    if f.created_after is not None:
        query = query.where(File.created_time >= f.created_after)
    if f.created_before is not None:
        query = query.where(File.created_time < f.created_before)
    if f.min_size is not None:
        query = query.where(File.size >= f.min_size)
    if f.max_size is not None:
        query = query.where(File.size <= f.max_size)
    if f.uploader:
        query = query.where(File.uploader == f.uploader)
    after = decode_cursor(f.cursor) if f.cursor else None
    query = query.where(*name_range(prefixes, after=after))
    rows = list(session.scalars(query.order_by(File.name).limit(f.limit + 1)))
    more = len(rows) > f.limit
    rows = rows[: f.limit]
    return SearchResponse(
        files=[FileSummary.model_validate(r) for r in rows],
        next_cursor=encode_cursor(rows[-1].name) if more else None,
    )
