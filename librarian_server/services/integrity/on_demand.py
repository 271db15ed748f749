"""``librarian verify``: re-hash the copies of chosen files now and say what was found.

A bounded batch per request (the client pages through a prefix with ``after``), so no
request holds a worker for an unbounded time. Every verdict is recorded on its
instance, as the audit records it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from librarian_client.models import CopyCheck, VerifyRequest, VerifyResponse
from librarian_server.errors import NotFound
from librarian_server.orm import File, Instance
from librarian_server.services.catalogue.files import name_prefix
from librarian_server.services.core.sql import in_chunks
from librarian_server.services.integrity.audit import record_bad_verdicts
from librarian_server.services.integrity.rehash import rehash_copies


def _chosen(session: Session, request: VerifyRequest) -> tuple[list[str], str | None]:
    """The files to verify, in name order, and where the next page starts."""
    if request.names:
        names = list(dict.fromkeys(request.names))
        known: set[str] = set()
        for chunk in in_chunks(names):
            known.update(session.scalars(select(File.name).where(File.name.in_(chunk))))
        unknown = [n for n in names if n not in known]
        if unknown:
            shown = ", ".join(repr(n) for n in unknown[:5])
            raise NotFound(f"No file is catalogued as {shown}.")
        return names, None
    query = select(File.name).where(*name_prefix(request.prefix or ""))
    if request.after is not None:
        query = query.where(File.name > request.after)
    names = list(session.scalars(query.order_by(File.name).limit(request.limit + 1)))
    more = len(names) > request.limit
    names = names[: request.limit]
    return names, names[-1] if more else None


def verify_files(
    factory: sessionmaker[Session], request: VerifyRequest, *, by: str
) -> VerifyResponse:
    with factory() as session:
        names, next_after = _chosen(session, request)
        instance_ids: list[int] = []
        for chunk in in_chunks(names):
            instance_ids.extend(
                session.scalars(
                    select(Instance.id)
                    .where(Instance.file_name.in_(chunk))
                    .order_by(Instance.file_name, Instance.id)
                )
            )
    verdicts = rehash_copies(factory, instance_ids, by=by)
    record_bad_verdicts(factory, verdicts, by)  # repair hears of it as of an audit's finding
    with_copy = {v.file_name for v in verdicts}
    return VerifyResponse(
        copies=[
            CopyCheck(
                name=v.file_name,
                store=v.store,
                path=v.path,
                finding=v.verdict.finding.value,
                detail=v.verdict.detail,
            )
            for v in verdicts
        ],
        files=len(with_copy),
        without_copy=[n for n in names if n not in with_copy],
        next=next_after,
    )
