"""Where this site's own copy of a file is, for sending it elsewhere."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..orm import Instance
from ..stores import backend_for

_CHUNK = 500


@dataclass(frozen=True)
class LocalCopy:
    store_name: str
    store_root: Path
    path: Path


def local_copies(session: Session, names: list[str]) -> dict[str, LocalCopy]:
    """An available copy of each file that has one, on any of this site's stores."""
    found: dict[str, LocalCopy] = {}
    for start in range(0, len(names), _CHUNK):
        instances = session.scalars(
            select(Instance).where(
                Instance.file_name.in_(names[start : start + _CHUNK]), Instance.available
            )
        )
        for instance in instances:
            if instance.file_name not in found:
                found[instance.file_name] = LocalCopy(
                    instance.store.name,
                    Path(instance.store.root),
                    backend_for(instance.store).local_path(instance.path),
                )
    return found
