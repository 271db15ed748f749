"""One level of the name tree: a prefix + '/' delimiter listing, paginated.

Names are flat strings, so a "directory" is every name sharing ``prefix + segment +
'/'``. Counting them with GROUP BY would read every name below the prefix; instead
the listing walks the primary-key index and, on meeting a name inside a directory,
reports the directory once and seeks past everything in it (names from
``dir[:-1] + '0'`` on: '0' is the character after '/'). So a page costs one index
seek per directory plus a batch read per run of files, however many files lie
below, on SQLite and on PostgreSQL (byte-order collation) alike.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from librarian_client.models import FileSummary, ListQuery, ListResponse

from ..orm import File
from .files import decode_cursor, encode_cursor, name_prefix

FIRST_BATCH = 32
MAX_BATCH = 1024


def past_directory(directory: str) -> str:
    """The smallest name after every name in ``directory`` (which ends with '/')."""
    return directory[:-1] + chr(ord("/") + 1)


def _after(name: str) -> ColumnElement[bool]:
    """Where the walk resumes after ``name``: past a directory's contents, or after a file."""
    if name.endswith("/"):
        return File.name >= past_directory(name)
    return File.name > name


def list_level(session: Session, query: ListQuery) -> ListResponse:
    """Directories and files directly under ``query.prefix``, in name order."""
    prefix = query.prefix
    # One entry more than asked says whether there is another page; it is not returned.
    want = query.limit + 1
    resume = decode_cursor(query.cursor) if query.cursor else None
    batch = FIRST_BATCH
    entries: list[tuple[str, FileSummary | None]] = []
    while len(entries) < want:
        where = name_prefix(prefix)
        if resume is not None:
            where.append(_after(resume))
        rows = list(session.scalars(select(File).where(*where).order_by(File.name).limit(batch)))
        seeked = False
        for row in rows:
            rest = row.name[len(prefix) :]
            slash = rest.find("/")
            if slash >= 0:
                directory = prefix + rest[: slash + 1]
                entries.append((directory, None))
                resume, seeked = directory, True
                break
            entries.append((row.name, FileSummary.model_validate(row)))
            resume = row.name
            if len(entries) >= want:
                break
        if not seeked and len(rows) < batch:
            break  # the prefix is exhausted
        batch = FIRST_BATCH if seeked else min(batch * 2, MAX_BATCH)
    more = len(entries) > query.limit
    entries = entries[: query.limit]
    return ListResponse(
        prefix=prefix,
        directories=[name for name, summary in entries if summary is None],
        files=[summary for _, summary in entries if summary is not None],
        next_cursor=encode_cursor(entries[-1][0]) if more else None,
    )
