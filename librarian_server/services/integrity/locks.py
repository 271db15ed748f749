"""One file's lock, for decisions that must not race: release and tiering.

PostgreSQL: ``SELECT ... FOR UPDATE`` on the file's row, held to the end of the
transaction. SQLite has one writer at a time; a first write (a no-op UPDATE of the
row) takes the database's write lock at once, so what the transaction reads after
it cannot change under it, and a second writer waits (busy timeout) until it ends.
Call it first in the transaction, before reading what the decision rests on.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from librarian_server.orm import File


def lock_file(session: Session, name: str) -> bool:
    """Lock ``name``'s row until the transaction ends; False when there is no such file."""
    if session.get_bind().dialect.name == "postgresql":
        found = session.scalar(select(File.name).where(File.name == name).with_for_update())
        return found is not None
    result = session.execute(
        update(File)
        .where(File.name == name)
        .values(size=File.size)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))
