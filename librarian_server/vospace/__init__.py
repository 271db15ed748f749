"""VOSpace 2.1 over the catalogue: nodes, properties, UWS and sync transfers, VOSI.

``install(app, settings)`` mounts the routers under ``/vospace`` (and ``/vospace/auth``,
where the CADC client sends Basic-auth users after a redirect), the plain-text fault
handlers, and the protocol registry (``app.state.vospace_protocols``) that transfer
managers can add protocols to. This package is the HTTP surface only; what the
operations do is in ``librarian_server.services.vospace``.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, FastAPI

from librarian_server.api.params import no_nul_in_url
from librarian_server.services.vospace.protocols import ProtocolRegistry
from librarian_server.services.vospace.uris import NodeURIs
from librarian_server.settings import ServerSettings
from librarian_server.vospace import handlers, router, router_data, router_transfers
from librarian_server.vospace.deps import MOUNT
from librarian_server.vospace.protocols import add_transfer_managers, default_registry

log = logging.getLogger(__name__)


def make_router() -> APIRouter:
    vospace = APIRouter(dependencies=[Depends(no_nul_in_url)])
    for module in (router, router_transfers, router_data):
        vospace.include_router(module.router)
    return vospace


def install(app: FastAPI, settings: ServerSettings) -> None:
    app.state.vospace_uris = NodeURIs(
        settings.vospace_resource_id, max_length=settings.max_name_length
    )
    registry = default_registry()
    add_transfer_managers(registry, settings)
    app.state.vospace_protocols = registry
    routes = make_router()
    app.include_router(routes, prefix=MOUNT)
    app.include_router(routes, prefix=MOUNT + "/auth", include_in_schema=False)
    handlers.install(app)


__all__ = ["ProtocolRegistry", "install"]
