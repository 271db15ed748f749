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
from librarian_server.orm import File
from librarian_server.services.catalogue.files import decode_cursor, encode_cursor, name_range

MAX_BATCH = 1024


def past_directory(directory: str) -> str:
    """The smallest name after every name in ``directory`` (which ends with '/')."""
    return directory[:-1] + chr(ord("/") + 1)


def _range(prefix: str, resume: str | None) -> list[ColumnElement[bool]]:
    """Below ``prefix``, resuming past a directory's contents or after a file."""
    if resume is None:
        return name_range([prefix])
    if resume.endswith("/"):
        return name_range([prefix], at_least=past_directory(resume))
    return name_range([prefix], after=resume)


_COLUMNS = (File.name, File.size, File.checksum, File.uploader, File.source, File.created_time)


def list_level(session: Session, query: ListQuery) -> ListResponse:
    """Directories and files directly under ``query.prefix``, in name order."""
    prefix = query.prefix
    # One entry more than asked says whether there is another page; it is not returned.
    want = query.limit + 1
    resume = decode_cursor(query.cursor) if query.cursor else None
    batch = 1  # after a directory the next entry is often another one: read one row
    entries: list[tuple[str, FileSummary | None]] = []
    while len(entries) < want:
        where = _range(prefix, resume)
        rows = session.execute(select(*_COLUMNS).where(*where).order_by(File.name).limit(batch))
        seen = 0
        seeked = False
        for row in rows:
            seen += 1
            rest = row.name[len(prefix) :]
            slash = rest.find("/")
            if slash >= 0:
                directory = prefix + rest[: slash + 1]
                entries.append((directory, None))
                resume, seeked = directory, True
                break
            entries.append((row.name, FileSummary.model_validate(row._mapping)))
            resume = row.name
            if len(entries) >= want:
                break
        if not seeked and seen < batch:
            break  # the prefix is exhausted
        # Runs of files are read in growing batches; a directory starts again at one.
        batch = 1 if seeked else min(batch * 4, MAX_BATCH)
    more = len(entries) > query.limit
    entries = entries[: query.limit]
    return ListResponse(
        prefix=prefix,
        directories=[name for name, summary in entries if summary is None],
        files=[summary for _, summary in entries if summary is not None],
        next_cursor=encode_cursor(entries[-1][0]) if more else None,
    )
