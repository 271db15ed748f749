"""Transfer negotiation (push/pull), endpoints tied to jobs, and internal moves.

Negotiation turns a job's requested protocols into endpoints from the protocol
registry; each endpoint carries a random token (only its hash is stored) and dies
with its job or its lifetime. A push endpoint is used once; a pull endpoint may be
read several times before it expires, so an interrupted download can resume.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from librarian_client.models import PermissionLevel
from librarian_server.errors import AuthenticationRequired, LibrarianError
from librarian_server.orm import UWSPhase, VOSpaceEndpoint, VOSpaceJob, utcnow
from librarian_server.services.accounts.auth import AuthenticatedUser, check_permission
from librarian_server.services.catalogue import namespace
from librarian_server.services.catalogue.copies import local_copies
from librarian_server.services.vospace import jobs, moves, nodes
from librarian_server.services.vospace.faults import (
    DuplicateNode,
    InvalidArgument,
    LinkFound,
    NodeNotFound,
    OperationNotSupported,
    PermissionDenied,
    ProtocolNotSupported,
    ViewNotSupported,
    VOSpaceFault,
    from_librarian_error,
)
from librarian_server.services.vospace.model import CORE, PULL_FROM, PUSH_TO, TransferDoc
from librarian_server.services.vospace.protocols import (
    PULL,
    PUSH,
    EndpointRequest,
    ProtocolRegistry,
)
from librarian_server.services.vospace.uris import (
    AUTO,
    NULL,
    NodeURIs,
    auto_name,
    basename,
    join,
    parent_of,
)
from librarian_server.settings import ServerSettings

VIEWS = frozenset(
    {
        CORE + "defaultview",
        CORE + "anyview",
        CORE + "binaryview",
        "ivo://cadc.nrc.ca/vospace/view#data",
    }
)


@dataclass
class Context:
    """What a VOSpace operation needs besides the session."""

    settings: ServerSettings
    uris: NodeURIs
    base_url: str  # the VOSpace base URL, e.g. http://host:port/vospace
    registry: ProtocolRegistry
    user: AuthenticatedUser | None = None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_reader(ctx: Context) -> None:
    """Reads need an account, unless anonymous VOSpace reads are on (raises otherwise)."""
    if ctx.user is None and not ctx.settings.vospace_anonymous_read:
        raise AuthenticationRequired()
    if ctx.user is not None:
        check_permission(ctx.user, PermissionLevel.READONLY)


def _push_target(session: Session, transfer: TransferDoc, ctx: Context, job: VOSpaceJob) -> str:
    user = nodes.writer(ctx.user)
    path = ctx.uris.path_of(transfer.target)
    name = basename(path)
    if name == NULL:
        return path
    if name == AUTO:
        path = join(parent_of(path), auto_name())
        job.results = [*job.results, {"id": "target", "href": ctx.uris.uri(path)}]
    nodes.check_ancestors(session, path, ctx.uris)
    node = nodes.find(session, path)
    if node is None:
        return path
    if node.link is not None:
        raise LinkFound(ctx.uris.uri(path))
    if node.file is None:
        raise InvalidArgument(f"{ctx.uris.uri(path)} is a ContainerNode; push to a DataNode")
    if node.file.size != 0:
        raise DuplicateNode(
            f"{ctx.uris.uri(path)} already holds data; files are immutable here, "
            "so delete the node first to replace it"
        )
    nodes.check_owner(user, node.owner, ctx.uris.uri(path))
    return path


def _pull_source(session: Session, transfer: TransferDoc, ctx: Context) -> str:
    check_reader(ctx)
    path = ctx.uris.path_of(transfer.target)
    node = nodes.resolve_internal_link(session, nodes.get(session, path, ctx.uris), ctx.uris)
    if node.file is None:
        raise InvalidArgument(f"{ctx.uris.uri(node.path)} is a ContainerNode; it has no bytes")
    return node.path


def negotiate(session: Session, job: VOSpaceJob, ctx: Context) -> None:
    """Fill in the job's endpoints (EXECUTING) or record why not (ERROR)."""
    transfer = TransferDoc.from_json(job.request)
    now = utcnow()
    job.start_time = now
    try:
        if transfer.view is not None and transfer.view not in VIEWS:
            raise ViewNotSupported(transfer.view)
        if transfer.direction == PUSH_TO:
            direction, path = PUSH, _push_target(session, transfer, ctx, job)
        elif transfer.direction == PULL_FROM:
            direction, path = PULL, _pull_source(session, transfer, ctx)
        else:
            raise OperationNotSupported(
                f"{transfer.direction}: this service offers pushToVoSpace, pullFromVoSpace, "
                "and moves and copies through /transfers"
            )
        token = secrets.token_urlsafe(32)
        copy = local_copies(session, [path]).get(path) if direction == PULL else None
        request = EndpointRequest(ctx.base_url, token, path, direction, job.id, copy)
        offered = ctx.registry.negotiate(direction, transfer.protocols, request)
        if not offered:
            asked = ", ".join(p.uri for p in transfer.protocols) or "none"
            raise ProtocolNotSupported(
                f"asked for {asked}; offered: {', '.join(ctx.registry.offered(direction))}"
            )
        session.add(
            VOSpaceEndpoint(
                token_hash=token_hash(token),
                job_id=job.id,
                direction=direction,
                path=path,
                owner=ctx.user.name if ctx.user is not None else None,
                expires_at=now + timedelta(seconds=ctx.settings.vospace_endpoint_lifetime_seconds),
                used=False,
            )
        )
        transfer.protocols = offered
        job.details = transfer.to_json()
        job.results = [{"id": "transferDetails", "href": "/results/transferDetails"}, *job.results]
        job.phase = UWSPhase.EXECUTING
    except (VOSpaceFault, LibrarianError) as exc:
        jobs.fail(job, exc if isinstance(exc, VOSpaceFault) else from_librarian_error(exc))
        transfer.protocols = []
        job.details = transfer.to_json()
        job.results = [{"id": "transferDetails", "href": "/results/transferDetails"}]
    session.flush()


@dataclass
class Endpoint:
    job_id: str
    direction: str
    path: str
    owner: str | None


def open_endpoint(session: Session, token: str, path: str, direction: str) -> Endpoint:
    """The endpoint a data request names, if it is live; faults say why not."""
    row = session.get(VOSpaceEndpoint, token_hash(token))
    if row is None or row.direction != direction or row.path != path:
        raise NodeNotFound("no such transfer endpoint")
    if row.expires_at < utcnow():
        raise PermissionDenied("this transfer endpoint has expired; negotiate a new transfer")
    if direction == PUSH and row.used:
        raise PermissionDenied("this transfer endpoint has been used; negotiate a new transfer")
    job = session.get(VOSpaceJob, row.job_id)
    if job is None or job.phase not in (UWSPhase.EXECUTING, UWSPhase.COMPLETED):
        phase = job.phase.value if job is not None else "gone"
        raise PermissionDenied(f"the transfer job is {phase}")
    if direction == PUSH and job.phase is not UWSPhase.EXECUTING:
        raise PermissionDenied("the transfer job has finished")
    return Endpoint(row.job_id, row.direction, row.path, row.owner)


def open_for_reading(session: Session, token: str, path: str, *, head: bool) -> Endpoint:
    """A pull endpoint; a HEAD may also ask a push endpoint what is there now (``vos`` does)."""
    if head:
        try:
            return open_endpoint(session, token, path, PUSH)
        except VOSpaceFault:
            pass
    return open_endpoint(session, token, path, PULL)


def endpoint(factory: sessionmaker[Session], token: str, path: str, direction: str) -> Endpoint:
    """:func:`open_endpoint` in a session of its own (before a long upload starts)."""
    with factory() as session:
        return open_endpoint(session, token, path, direction)


def finish(factory: sessionmaker[Session], token: str, job_id: str) -> None:
    """The bytes have moved: a push endpoint is spent, and the job COMPLETED."""
    with factory.begin() as session:
        row = session.get(VOSpaceEndpoint, token_hash(token))
        if row is not None and row.direction == PUSH:
            row.used = True
        jobs.complete(session, job_id)


def plan_move(
    session: Session, transfer: TransferDoc, ctx: Context
) -> tuple[nodes.Node, str | None]:
    """Source node and destination path of a move or copy (None: the destination is .null)."""
    source = nodes.get(session, ctx.uris.path_of(transfer.target, reserved_last=False), ctx.uris)
    if source.path == "":
        raise PermissionDenied("the root node cannot be moved or copied")
    destination = ctx.uris.path_of(transfer.direction)
    name = basename(destination)
    if name == NULL:
        return source, None
    if name == AUTO:
        destination = join(parent_of(destination), auto_name())
    else:
        existing = nodes.find(session, destination)
        if existing is not None and existing.type == "ContainerNode":
            destination = join(destination, basename(source.path))
        elif existing is not None:
            raise DuplicateNode(ctx.uris.uri(destination))
    if destination == source.path or destination.startswith(source.path + "/"):
        raise InvalidArgument("a node cannot be moved or copied into itself")
    nodes.check_ancestors(session, destination, ctx.uris)
    if nodes.find(session, destination) is not None:
        raise DuplicateNode(ctx.uris.uri(destination))
    return source, destination


def move(session: Session, transfer: TransferDoc, ctx: Context) -> str | None:
    """moveNode in one transaction; returns the new path (None when moved to .null)."""
    user = nodes.writer(ctx.user)
    source, destination = plan_move(session, transfer, ctx)
    moves.check_owner_of_tree(session, source, user)
    moves.check_not_busy(session, source)
    if destination is None:
        verdicts = moves.check_delete_rule(session, source, user, ctx.settings)
        moves.delete_tree(
            session, source, verdicts, user.name, via="vospace move to .null", flags={}
        )
    else:
        namespace.lock_names(session, [destination])
        moves.move_tree(session, source, destination)
        # Again after the rename, in its transaction: a racing upload may have taken it.
        namespace.check_free(session, [destination], kind=nodes.KINDS[source.type])
    return destination
