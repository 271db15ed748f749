"""FastAPI dependencies for the VOSpace routers: the operation context and request parameters."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Depends, Request

from librarian_server.api.deps import OptionalUser, SettingsDep
from librarian_server.services.vospace.faults import InvalidArgument
from librarian_server.services.vospace.model import MAX_DOCUMENT
from librarian_server.services.vospace.protocols import ProtocolRegistry
from librarian_server.services.vospace.transfers import Context, check_reader
from librarian_server.services.vospace.uris import NodeURIs
from librarian_server.settings import ServerSettings
from librarian_server.vospace.protocols import default_registry

MOUNT = "/vospace"
MAX_FORM = 1 << 16


def base_url(request: Request, public_url: str | None) -> str:
    """The VOSpace base URL: the configured public URL, else the one the client used."""
    root = public_url or str(request.base_url)
    return root.rstrip("/") + MOUNT


def context(request: Request, settings: SettingsDep, user: OptionalUser) -> Context:
    state = request.app.state
    uris: NodeURIs | None = getattr(state, "vospace_uris", None)
    if uris is None:
        uris = state.vospace_uris = NodeURIs(
            settings.vospace_resource_id, max_length=settings.max_name_length
        )
    registry: ProtocolRegistry | None = getattr(state, "vospace_protocols", None)
    if registry is None:
        registry = state.vospace_protocols = default_registry()
    return Context(settings, uris, base_url(request, settings.public_url), registry, user)


ContextDep = Annotated[Context, Depends(context)]


async def parameters(request: Request, ctx: ContextDep) -> dict[str, list[str]]:
    """UWS/DALI parameters from the query string and a form body; names are case-blind.

    Every route that takes parameters acts on a job, so whoever may not read jobs is
    refused (401/403) here, before a byte of the body is read.
    """
    check_reader(ctx)
    found: dict[str, list[str]] = {}
    pairs = list(request.query_params.multi_items())
    content_type = request.headers.get("content-type", "")
    if request.method == "POST" and content_type.startswith("application/x-www-form-urlencoded"):
        body = await request.body()
        if len(body) > MAX_FORM:
            raise InvalidArgument("the form is too large")
        pairs += parse_qsl(body.decode(errors="replace"), keep_blank_values=True)
    for key, value in pairs:
        found.setdefault(key.upper(), []).append(value)
    return found


ParamsDep = Annotated[dict[str, list[str]], Depends(parameters)]


def one(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[-1] if values else None


async def xml_body(request: Request) -> bytes:
    """The document, refused (413) past the site's cap; the guard usually refused it first."""
    settings: ServerSettings = request.app.state.settings
    limit = min(MAX_DOCUMENT, settings.max_vospace_document_bytes)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            fault = InvalidArgument(f"the document is larger than {limit} bytes")
            fault.status_code = 413
            raise fault
    return bytes(body)
