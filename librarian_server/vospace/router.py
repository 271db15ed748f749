"""VOSpace REST bindings for nodes and the service metadata (properties, views, VOSI...)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from anyio import to_thread
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse, StreamingResponse
from sqlalchemy import text as sql
from sqlalchemy.orm import Session

from librarian_server.api.deps import SessionDep, SessionFactoryDep
from librarian_server.services.catalogue import deletion
from librarian_server.vospace import capabilities, data, listing, nodes, properties, render
from librarian_server.vospace.deps import ContextDep, xml_body
from librarian_server.vospace.faults import InvalidArgument, InvalidURI, PermissionDenied
from librarian_server.vospace.model import NodeDoc, NodeView
from librarian_server.vospace.parse import parse_node
from librarian_server.vospace.transfers import Context, check_reader
from librarian_server.vospace.uris import (
    AUTO,
    NULL,
    auto_name,
    basename,
    join,
    node_path,
    parent_of,
)

router = APIRouter(tags=["vospace"])
XML = "text/xml; charset=utf-8"


def _path(raw: str, ctx: Context) -> str:
    return node_path(raw, max_length=ctx.settings.max_name_length)


def _limit(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise InvalidArgument(f"limit={raw!r} is not a number") from None
    if value < 0:
        raise InvalidArgument("limit must not be negative")
    return value


@router.get("/nodes", include_in_schema=False)
@router.get("/nodes/{path:path}")
def get_node(
    request: Request,
    session: SessionDep,
    factory: SessionFactoryDep,
    ctx: ContextDep,
    path: str = "",
    detail: Annotated[str, Query()] = "max",
    limit: Annotated[str | None, Query()] = None,
    uri: Annotated[str | None, Query()] = None,
    view: Annotated[str | None, Query()] = None,
) -> Response:
    """getNode: a container's direct children stream in a stable order (paged by limit/uri)."""
    check_reader(ctx)
    path = _path(path, ctx)
    if detail not in render.DETAILS:
        raise InvalidArgument(f"detail must be one of {', '.join(render.DETAILS)}")
    if view == "data":  # the deprecated 2.0 way to read bytes
        return RedirectResponse(f"{ctx.base_url}/files/{quote(path)}", status_code=303)
    node = nodes.get(session, path, ctx.uris)
    node_view = nodes.view(session, node)
    count = _limit(limit)
    start = None
    if uri is not None and node.type == "ContainerNode":
        child = ctx.uris.path_of(uri)
        if parent_of(child) != path or child == path:
            raise InvalidURI(f"{uri} is not a child of {ctx.uris.uri(path)}")
        start = listing.start_key(session, child)
    children = (
        listing.children(lambda: factory(), path, start=start, limit=count)
        if node.type == "ContainerNode" and detail != "properties"
        else iter(())
    )
    return StreamingResponse(render.node(ctx.uris, node_view, detail, children), media_type=XML)


def _node_document(session: Session, path: str, ctx: Context) -> str:
    node = nodes.get(session, path, ctx.uris)
    return "".join(render.node(ctx.uris, nodes.view(session, node), "max"))


def _check_uri(doc: NodeDoc, path: str, ctx: Context) -> None:
    if ctx.uris.path_of(doc.uri) != path:
        raise InvalidURI(f"the node's uri {doc.uri} does not match the URL's path")


@router.put("/nodes/{path:path}", status_code=201)
async def create_node(
    request: Request, factory: SessionFactoryDep, ctx: ContextDep, path: str
) -> Response:
    """createNode: a ContainerNode, a LinkNode, or an empty DataNode (an empty File)."""
    user = nodes.writer(ctx.user)
    path = _path(path, ctx)
    doc = parse_node(await xml_body(request))
    _check_uri(doc, path, ctx)
    nodes.check_create_type(doc)
    if basename(path) == AUTO:
        path = join(parent_of(path), auto_name())
    elif basename(path) == NULL:
        return Response(
            "".join(render.node(ctx.uris, NodeView(path, doc.type), "min")), 201, media_type=XML
        )

    def check() -> None:
        with factory() as session:
            nodes.check_new_node(session, path, ctx.uris)
        nodes.check_create_properties(doc, user)

    await to_thread.run_sync(check)
    if doc.type == "DataNode":
        await data.write_file(
            factory,
            path,
            0,
            data.empty_stream(),
            md5=None,
            user=user,
            settings=ctx.settings,
            uris=ctx.uris,
        )

    def finish() -> str:
        with factory.begin() as session:
            if doc.type == "ContainerNode":
                nodes.create_container(session, path, doc, user, ctx.uris)
            elif doc.type == "LinkNode":
                nodes.create_link(session, path, doc, user, ctx.uris)
            else:
                node = nodes.get(session, path, ctx.uris)
                properties.apply(session, path, doc.properties, node.system_properties())
            return _node_document(session, path, ctx)

    body = await to_thread.run_sync(finish)
    return Response(
        body, 201, media_type=XML, headers={"Location": f"{ctx.base_url}/nodes/{quote(path)}"}
    )


@router.post("/nodes/{path:path}")
async def set_node(
    request: Request, factory: SessionFactoryDep, ctx: ContextDep, path: str
) -> Response:
    """setNode: merge the sent properties into the node's; nil deletes one."""
    user = nodes.writer(ctx.user)
    path = _path(path, ctx)
    doc = parse_node(await xml_body(request))
    _check_uri(doc, path, ctx)

    def apply() -> str:
        with factory.begin() as session:
            nodes.set_properties(session, path, doc.properties, user, ctx.uris)
            return _node_document(session, path, ctx)

    return Response(await to_thread.run_sync(apply), media_type=XML)


@router.delete("/nodes/{path:path}", status_code=204)
def delete_node(
    session: SessionDep,
    ctx: ContextDep,
    path: str,
    force: bool = False,
    last_copy: bool = False,
) -> Response:
    """deleteNode, recursive for containers; a DataNode's File and bytes go too.

    Files obey the files API's deletion rule; ``force`` and ``last_copy`` (a Librarian
    extension) are its flags, for admins.
    """
    from librarian_server.vospace import moves

    user = nodes.writer(ctx.user)
    path = _path(path, ctx)
    if path == "":
        raise PermissionDenied("the root node cannot be deleted")
    node = nodes.get(session, path, ctx.uris)
    moves.check_owner_of_tree(session, node, user)
    moves.check_not_busy(session, node)
    verdicts = moves.check_delete_rule(
        session, node, user, ctx.settings, force=force, last_copy=last_copy
    )
    deletion.record(
        session,
        verdicts,
        user.name,
        via="vospace",
        flags={"force": force, "last_copy_flag": last_copy},
    )
    moves.delete_tree(session, node)
    return Response(status_code=204)


@router.get("/properties")
def get_properties(session: SessionDep) -> Response:
    provided = list(properties.PROVIDED)
    contains = sorted(set(provided) | set(properties.contained(session)))
    body = render.properties(properties.ACCEPTED, provided, contains)
    return Response(body, media_type=XML)


@router.get("/views")
def get_views() -> Response:
    return Response(render.views([render.ANY_VIEW], [render.DEFAULT_VIEW]), media_type=XML)


@router.get("/protocols")
def get_protocols(ctx: ContextDep) -> Response:
    from librarian_server.vospace.protocols import PULL, PUSH

    provides = ctx.registry.offered(PULL) + ctx.registry.offered(PUSH)
    return Response(render.protocols([], provides), media_type=XML)


@router.get("/capabilities")
def get_capabilities(ctx: ContextDep) -> Response:
    body = capabilities.capabilities(
        ctx.base_url, anonymous_read=ctx.settings.vospace_anonymous_read
    )
    return Response(body, media_type=XML)


@router.get("/availability")
def get_availability(session: SessionDep) -> Response:
    try:
        session.execute(sql("SELECT 1"))
        available, note = True, "The service is accepting requests."
    except Exception as exc:  # any database failure means unavailable
        available, note = False, f"The catalogue database is unreachable: {type(exc).__name__}"
    return Response(capabilities.availability(available, note), media_type=XML)
