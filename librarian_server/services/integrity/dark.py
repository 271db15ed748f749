"""Dark files (bytes in a store that no catalogue row names): only an operator decides.

The audit reports them and never touches them. An operator may register one as a
file (or, when its bytes hash to a catalogued file's checksum, as another copy of
that file), move it to the store's quarantine, or delete it. Each ends the record.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from librarian_client.checksum import DEFAULT_ALGORITHM, checksum_stream
from librarian_client.models import CopyState, DamageInfo, DamageState, Finding
from librarian_server.errors import Conflict, InvalidRequest
from librarian_server.orm import Damage, File, Instance, utcnow
from librarian_server.services.catalogue.names import validate_name
from librarian_server.services.catalogue.stores import add_used_bytes
from librarian_server.services.core import events
from librarian_server.services.integrity.damage import damage_info, end, get_damage
from librarian_server.stores import backend_for, open_size


def _dark(session: Session, damage_id: int) -> Damage:
    damage = get_damage(session, damage_id)
    if damage.kind is not Finding.DARK:
        raise Conflict(
            f"Damage {damage_id} is a damaged copy, not a dark file.",
            "`librarian repair ID` repairs damaged copies.",
        )
    if not damage.active:
        raise Conflict(f"Dark file {damage_id} is already {damage.state}.", "Nothing to do.")
    return damage


def register_dark(
    factory: sessionmaker[Session], damage_id: int, name: str, *, by: str, site: str
) -> DamageInfo:
    """Catalogue the stray bytes under ``name``, hashing them first (outside a transaction)."""
    name = validate_name(name)
    with factory() as session:
        damage = _dark(session, damage_id)
        backend = backend_for(damage.store)
        store_path = damage.path
    if damage.quarantine_path is not None:
        raise Conflict(f"Dark file {damage_id} is in quarantine.", "Nothing to register.")
    try:
        with backend.open_read(store_path) as handle:
            size = open_size(handle)
            checksum = checksum_stream(handle, DEFAULT_ALGORITHM)
    except OSError as exc:
        raise InvalidRequest(
            f"Cannot read {backend.describe(store_path)}: {exc.strerror or exc}.",
            "Check the file is still on the store.",
        ) from exc
    with factory.begin() as session:
        damage = _dark(session, damage_id)
        file = session.get(File, name)
        now = utcnow()
        if file is None:
            session.add(File(name=name, size=size, checksum=checksum, uploader=by, source=site))
            session.flush()
            events.record(
                session,
                events.FILE_COMMITTED,
                actor=by,
                subject=name,
                detail={"size": size, "checksum": checksum, "uploader": by, "source": site},
            )
            how = f"registered as the new file {name!r}"
        elif file.size != size or file.checksum != checksum:
            raise Conflict(
                f"{name!r} is already catalogued with other contents "
                f"({file.size} bytes, {file.checksum}; these are {size} bytes, {checksum}).",
                "Register it under another name, or quarantine it.",
            )
        else:
            how = f"registered as another copy of {name!r}"
        session.add(
            Instance(
                file_name=name,
                store_id=damage.store_id,
                path=store_path,
                available=True,
                created_time=now,
                verified_time=now,
                verified_result=CopyState.OK,
                verified_by="register",
            )
        )
        add_used_bytes(session, {damage.store_id: size})
        damage.file_name = name
        end(damage, DamageState.REGISTERED, f"{how} by {by}")
        return damage_info(damage)


def quarantine_dark(factory: sessionmaker[Session], damage_id: int, *, by: str) -> DamageInfo:
    with factory.begin() as session:
        damage = _dark(session, damage_id)
        backend = backend_for(damage.store)
        if damage.quarantine_path is None:
            damage.quarantine_path = backend.quarantine(damage.path, f"dark{damage.id}")
        where = f"quarantine/{damage.quarantine_path}"
        end(damage, DamageState.QUARANTINED, f"moved to {where} by {by}")
        return damage_info(damage)


def delete_dark(factory: sessionmaker[Session], damage_id: int, *, by: str) -> DamageInfo:
    with factory.begin() as session:
        damage = _dark(session, damage_id)
        backend = backend_for(damage.store)
        if damage.quarantine_path is not None:
            backend.delete_quarantined(damage.quarantine_path)
        else:
            backend.delete(damage.path)
        end(damage, DamageState.DELETED, f"deleted by {by}")
        return damage_info(damage)
