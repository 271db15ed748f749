"""Re-read a copy's bytes and compare them with the catalogue: the one way a copy is proven.

``librarian verify`` uses it today; the scheduled audit and a peer asked to prove its
copies are to call it too, so that every path judges a copy alike and records the
verdict on the instance. Reading
streams in fixed chunks; an optional throttle is told of every chunk so that a caller
can hold a bandwidth limit.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from librarian_client.checksum import ChecksumError, format_checksum, new_hasher, parse_checksum
from librarian_client.models import Finding
from librarian_server.orm import Instance
from librarian_server.services.catalogue.copies import mark_bad, mark_verified
from librarian_server.services.core.sql import in_chunks
from librarian_server.stores import StoreBackend, backend_for, open_size

CHUNK_BYTES = 1 << 20

Throttle = Callable[[int], None]
"""Told the size of each chunk just read; may sleep to hold a rate."""


@dataclass(frozen=True)
class Verdict:
    finding: Finding
    detail: str = ""
    bytes_read: int = 0

    @property
    def ok(self) -> bool:
        return self.finding is Finding.OK


Opener = Callable[[], BinaryIO]
"""Opens bytes for reading: a staged file, or a committed copy on any kind of store."""


def rehash_path(
    path: Path, size: int, checksum: str, *, throttle: Throttle | None = None
) -> Verdict:
    """Judge the bytes of a local file (staged bytes) against a size and checksum."""
    return rehash_open(lambda: path.open("rb", buffering=0), str(path), size, checksum, throttle)


def rehash_stored(
    backend: StoreBackend,
    store_path: str,
    size: int,
    checksum: str,
    *,
    throttle: Throttle | None = None,
) -> Verdict:
    """Judge a committed copy, wherever its store keeps it."""
    return rehash_open(
        lambda: backend.open_read(store_path),
        backend.describe(store_path),
        size,
        checksum,
        throttle,
    )


def rehash_open(
    opener: Opener, label: str, size: int, checksum: str, throttle: Throttle | None = None
) -> Verdict:
    try:
        algorithm, expected = parse_checksum(checksum)
        hasher = new_hasher(algorithm)
    except ChecksumError as exc:
        return Verdict(Finding.UNREADABLE, f"cannot check against {checksum!r}: {exc}")
    try:
        handle = opener()
    except FileNotFoundError:
        return Verdict(Finding.MISSING, f"{label} does not exist")
    except OSError as exc:
        return Verdict(Finding.UNREADABLE, f"cannot open {label}: {exc.strerror or exc}")
    read = 0
    with handle:
        actual_size = open_size(handle)
        if actual_size != size:
            return Verdict(Finding.WRONG_SIZE, f"{actual_size} bytes, catalogue says {size}")
        # One buffer read into again and again: no allocation per chunk, and the kernel
        # told to read ahead generously, so hashing runs at md5sum's pace.
        buffer = bytearray(CHUNK_BYTES)
        view = memoryview(buffer)
        with contextlib.suppress(OSError, AttributeError, io.UnsupportedOperation):
            os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
        try:
            while n := handle.readinto(buffer):  # type: ignore[attr-defined]
                hasher.update(view[:n])
                read += n
                if throttle is not None:
                    throttle(n)
        except OSError as exc:
            return Verdict(
                Finding.UNREADABLE, f"reading {label} failed: {exc.strerror or exc}", read
            )
    if read != size:
        return Verdict(Finding.WRONG_SIZE, f"read {read} bytes, catalogue says {size}", read)
    actual = format_checksum(algorithm, hasher.hexdigest())
    if actual != format_checksum(algorithm, expected):
        return Verdict(Finding.CORRUPT, f"hashes to {actual}, catalogue says {checksum}", read)
    return Verdict(Finding.OK, "", read)


@dataclass(frozen=True)
class CopyVerdict:
    instance_id: int
    file_name: str
    store: str
    path: str
    verdict: Verdict


@dataclass(frozen=True)
class _Target:
    instance_id: int
    file_name: str
    store: str
    store_path: str
    backend: StoreBackend
    size: int
    checksum: str


def _targets(session: Session, instance_ids: list[int]) -> list[_Target]:
    targets: list[_Target] = []
    for chunk in in_chunks(instance_ids):
        for instance in session.scalars(select(Instance).where(Instance.id.in_(chunk))):
            targets.append(
                _Target(
                    instance.id,
                    instance.file_name,
                    instance.store.name,
                    instance.path,
                    backend_for(instance.store),
                    instance.file.size,
                    instance.file.checksum,
                )
            )
    order = {instance_id: n for n, instance_id in enumerate(instance_ids)}
    return sorted(targets, key=lambda t: order[t.instance_id])


def rehash_copies(
    factory: sessionmaker[Session],
    instance_ids: Iterable[int],
    *,
    by: str,
    throttle: Throttle | None = None,
    before_each: Callable[[], None] | None = None,
) -> list[CopyVerdict]:
    """Re-read these copies (in the order given) and record each verdict on its instance.

    No transaction is open while bytes are read. A good copy is marked verified; any
    other finding marks it bad at once (never served or sent again) and is logged loudly.
    """
    with factory() as session:
        targets = _targets(session, list(instance_ids))
    verdicts: list[CopyVerdict] = []
    for target in targets:
        if before_each is not None:
            before_each()
        verdict = rehash_stored(
            target.backend, target.store_path, target.size, target.checksum, throttle=throttle
        )
        verdicts.append(
            CopyVerdict(
                target.instance_id, target.file_name, target.store, target.store_path, verdict
            )
        )
        if verdict.ok:
            with factory.begin() as session:
                mark_verified(session, [target.instance_id], by=by)
        else:
            mark_bad(factory, {target.instance_id: f"{verdict.finding}: {verdict.detail}"}, by=by)
    return verdicts


def copy_verified(source: Opener, dest: Path, size: int, checksum: str) -> str | None:
    """Stream what ``source`` opens to ``dest`` (created new), hashing and syncing; None when the
    bytes are the catalogue's, else what is wrong (``dest`` is then removed)."""
    try:
        algorithm, expected = parse_checksum(checksum)
        hasher = new_hasher(algorithm)
    except ChecksumError as exc:
        return f"cannot check against {checksum!r}: {exc}"
    written = 0
    try:
        with source() as reader, dest.open("xb") as writer:
            while chunk := reader.read(CHUNK_BYTES):
                hasher.update(chunk)
                writer.write(chunk)
                written += len(chunk)
            writer.flush()
            os.fsync(writer.fileno())
    except OSError as exc:
        with contextlib.suppress(OSError):
            dest.unlink()
        return f"copying failed: {exc.strerror or exc}"
    actual = format_checksum(algorithm, hasher.hexdigest())
    if written != size:
        problem = f"read {written} bytes, catalogue says {size}"
    elif actual != format_checksum(algorithm, expected):
        problem = f"hashes to {actual}, catalogue says {checksum}"
    else:
        return None
    with contextlib.suppress(OSError):
        dest.unlink()
    return problem
