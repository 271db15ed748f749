"""VOSpace REST bindings for nodes and the service metadata (properties, views, VOSI...)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse, StreamingResponse

from librarian_server.api.deps import SessionDep, SessionFactoryDep
from librarian_server.services.vospace import nodes, properties, tree
from librarian_server.services.vospace.faults import InvalidArgument
from librarian_server.services.vospace.model import NodeView
from librarian_server.services.vospace.protocols import PULL, PUSH
from librarian_server.services.vospace.transfers import Context, check_reader
from librarian_server.services.vospace.uris import NULL, basename, node_path
from librarian_server.vospace import capabilities, render
from librarian_server.vospace.deps import ContextDep, xml_body
from librarian_server.vospace.parse import parse_node

router = APIRouter(tags=["vospace"])
XML = "text/xml; charset=utf-8"


def _path(raw: str, ctx: Context) -> str:
    return node_path(raw, max_length=ctx.settings.max_name_length)


def _document(ctx: Context, node: NodeView) -> str:
    return "".join(render.node(ctx.uris, node, "max"))


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
    node, children = tree.read(
        session,
        factory,
        path,
        ctx,
        start_uri=uri,
        limit=limit,
        with_children=detail != "properties",
    )
    return StreamingResponse(render.node(ctx.uris, node, detail, children), media_type=XML)


@router.put("/nodes/{path:path}", status_code=201)
async def create_node(
    request: Request, factory: SessionFactoryDep, ctx: ContextDep, path: str
) -> Response:
    """createNode: a ContainerNode, a LinkNode, or an empty DataNode (an empty File)."""
    user = nodes.writer(ctx.user)
    path = _path(path, ctx)
    doc = parse_node(await xml_body(request))
    node = await tree.create(factory, path, doc, user, ctx)
    if basename(node.path) == NULL:
        return Response("".join(render.node(ctx.uris, node, "min")), 201, media_type=XML)
    location = f"{ctx.base_url}/nodes/{quote(node.path)}"
    return Response(_document(ctx, node), 201, media_type=XML, headers={"Location": location})


@router.post("/nodes/{path:path}")
async def set_node(
    request: Request, factory: SessionFactoryDep, ctx: ContextDep, path: str
) -> Response:
    """setNode: merge the sent properties into the node's; nil deletes one."""
    user = nodes.writer(ctx.user)
    path = _path(path, ctx)
    doc = parse_node(await xml_body(request))
    node = await tree.update(factory, path, doc, user, ctx)
    return Response(_document(ctx, node), media_type=XML)


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
    user = nodes.writer(ctx.user)
    tree.delete(session, _path(path, ctx), user, ctx, force=force, last_copy=last_copy)
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
    available, note = tree.availability(session)
    return Response(capabilities.availability(available, note), media_type=XML)
