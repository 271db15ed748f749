"""Renaming Files by name or by whole subtree; one File's deletion without the rule.

A subtree is a name and every name below it (``name/...``), read as one index range.
A rename changes catalogue rows and never touches bytes: a File keeps its instances
and their store paths (uploads of the old name later get a path of their own).
Peers hold copies under the old name, so the renamed File's remote instances go
(with the old row): replication sends it to them under its new name. Callers hold
the name locks and have checked the destination is free. Deleting whole subtrees
goes through ``deletion`` and its rule.
"""

from __future__ import annotations

from sqlalchemy import (
    ColumnElement,
    and_,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.orm import InstrumentedAttribute, Session

from librarian_server.orm import File, Instance
from librarian_server.services.catalogue.stores import add_used_bytes, delete_after_commit

_NO_SYNC = {"synchronize_session": False}


def prefix_range(prefix: str) -> tuple[str, str]:
    """[low, high) holding exactly the byte-ordered names that start with ``prefix``."""
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


def in_tree(
    column: ColumnElement[str] | InstrumentedAttribute[str], path: str
) -> ColumnElement[bool]:
    """``column`` names ``path`` or something below it (an index range, not a LIKE)."""
    low, high = prefix_range(path + "/")
    return or_(column == path, and_(column >= low, column < high))


def renamed(
    column: ColumnElement[str] | InstrumentedAttribute[str], old: str, new: str
) -> ColumnElement[str]:
    """``column`` (a name below ``old``) with ``old`` replaced by ``new``, in SQL."""
    result: ColumnElement[str] = literal(new + "/") + func.substr(column, len(old) + 2)
    return result


def delete_file(session: Session, file: File) -> None:
    """One File, its instances and (after the commit) its bytes."""
    doomed = [(i.store, i.path) for i in file.instances]
    freed: dict[int, int] = {}
    for instance in file.instances:
        freed[instance.store_id] = freed.get(instance.store_id, 0) - file.size
    add_used_bytes(session, freed)
    session.delete(file)
    session.flush()
    if doomed:
        delete_after_commit(session, doomed)


def rename_file(session: Session, old: str, new: str) -> None:
    """The File ``old`` becomes ``new`` (only that name; the caller checked it is free)."""
    _rename(session, File.name == old, Instance.file_name == old, literal(new), literal(new))


def rename_below(session: Session, old: str, new: str) -> None:
    """Every File below ``old/`` moves below ``new/``; ``old`` itself is not touched."""
    low, high = prefix_range(old + "/")
    _rename(
        session,
        (File.name >= low) & (File.name < high),
        (Instance.file_name >= low) & (Instance.file_name < high),
        renamed(File.name, old, new),
        renamed(Instance.file_name, old, new),
    )


def _rename(
    session: Session,
    files: ColumnElement[bool],
    instances: ColumnElement[bool],
    file_name: ColumnElement[str],
    instance_name: ColumnElement[str],
) -> None:
    """Insert the renamed rows, repoint the instances, delete the old rows (FK order)."""
    columns = ["name", "size", "checksum", "uploader", "source", "created_time"]
    session.execute(
        insert(File).from_select(
            columns,
            select(
                file_name, File.size, File.checksum, File.uploader, File.source, File.created_time
            ).where(files),
        )
    )
    session.execute(
        update(Instance).where(instances).values(file_name=instance_name),
        execution_options=_NO_SYNC,
    )
    session.execute(delete(File).where(files), execution_options=_NO_SYNC)
