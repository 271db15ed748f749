"""VOSpace 2.1 over the catalogue: nodes, properties, UWS and sync transfers, VOSI.

``install(app, settings)`` mounts the routers under ``/vospace`` (and ``/vospace/auth``,
where the CADC client sends Basic-auth users after a redirect), the plain-text fault
handlers, and the protocol registry (``app.state.vospace_protocols``) that transfer
managers can add protocols to.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, FastAPI
from sqlalchemy.orm import Session, sessionmaker

from librarian_server.settings import ServerSettings
from librarian_server.vospace import jobs
from librarian_server.vospace.protocols import (
    ProtocolRegistry,
    add_transfer_managers,
    default_registry,
)
from librarian_server.vospace.uris import NodeURIs

log = logging.getLogger(__name__)


def make_router() -> APIRouter:
    # Imported here, not at the top: background tasks import this package for its
    # services, and the routers import the API's dependencies, which import them.
    from librarian_server.api.params import no_nul_in_url
    from librarian_server.vospace import router, router_data, router_transfers

    vospace = APIRouter(dependencies=[Depends(no_nul_in_url)])
    for module in (router, router_transfers, router_data):
        vospace.include_router(module.router)
    return vospace


def install(app: FastAPI, settings: ServerSettings) -> None:
    from librarian_server.vospace import handlers
    from librarian_server.vospace.deps import MOUNT

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


def housekeeping(factory: sessionmaker[Session]) -> None:
    """At start-up: destroy old jobs, settle expired or stuck ones (then the cleanup task)."""
    jobs.housekeeping(factory)


__all__ = ["ProtocolRegistry", "housekeeping", "install"]
