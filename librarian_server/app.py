"""The application factory; nothing happens at import time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from librarian_server import __version__
from librarian_server.api import api_router
from librarian_server.api.docs import install as install_docs
from librarian_server.api.errors import install as install_error_handlers
from librarian_server.api.guard import Guard
from librarian_server.background import Runner
from librarian_server.datadir_lock import lock_data_dir, unlock_data_dir
from librarian_server.db import make_engine, make_session_factory
from librarian_server.logs import configure_logging
from librarian_server.metrics import registry as metrics_registry
from librarian_server.metrics.http import HTTPMetrics
from librarian_server.metrics.route import router as metrics_router
from librarian_server.openapi import install as install_openapi
from librarian_server.services.accounts.auth import Authenticator
from librarian_server.services.core.processes import Heartbeat
from librarian_server.services.site.maintenance import startup_cleanup
from librarian_server.services.vospace import jobs as vospace_jobs
from librarian_server.settings import ServerSettings, load_settings
from librarian_server.ui import install as install_ui
from librarian_server.vospace import install as install_vospace
from librarian_server.vospace.handlers import guard_fault as vospace_guard_fault

log = logging.getLogger(__name__)


def create_app(
    settings: ServerSettings | None = None, *, peer_transport: httpx.BaseTransport | None = None
) -> FastAPI:
    """The ASGI app; also the production entry ``uvicorn --factory ...:create_app``.

    It configures logging as ``librarian-server run`` does (so the log file exists
    whichever way the server is started) and, on SQLite, holds the data directory's
    lock while it serves: a second server on the same SQLite catalogue is refused.
    ``peer_transport`` carries the calls to peers instead of the network, so that
    several sites can run in one process (integration tests).
    """
    settings = settings or load_settings()
    configure_logging(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        lock_data_dir(settings)
        if settings.metrics_enabled:  # before anything counts (the runner below, requests)
            metrics_registry.configure(settings.metrics_dir)
        engine = make_engine(settings)
        app.state.engine = engine
        app.state.session_factory = make_session_factory(engine)
        app.state.authenticator = Authenticator(settings.auth_cache_seconds)
        # Registered before clean-up looks for others, so two processes starting
        # together see each other and neither takes the other's uploads.
        heartbeat = Heartbeat(app.state.session_factory)
        app.state.heartbeat = heartbeat
        heartbeat.start()
        startup_cleanup(app.state.session_factory, settings, process_id=heartbeat.process_id)
        if settings.vospace_enabled:
            vospace_jobs.housekeeping(app.state.session_factory)
        # The runner also serves "run this task now" when the tasks run elsewhere.
        runner = Runner(app.state.session_factory, settings, peer_transport=peer_transport)
        app.state.runner = runner
        if settings.background.in_server:
            runner.start()
        log.info(
            "librarian %s serving site %r (background tasks %s)",
            __version__,
            settings.site_name,
            "in this process" if settings.background.in_server else "elsewhere",
        )
        try:
            yield
        finally:
            runner.stop()
            heartbeat.stop()
            engine.dispose()
            unlock_data_dir(settings)

    app = FastAPI(
        title="Librarian",
        version=__version__,
        summary="A site's data catalogue: verified uploads, search, download, replication.",
        lifespan=lifespan,
        docs_url=None,  # served by install_docs, without a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    install_docs(app)
    install_error_handlers(app)
    app.add_middleware(Guard, settings=settings, vospace_fault=vospace_guard_fault)
    if settings.metrics_enabled:  # outermost: the guard's refusals are counted too
        app.add_middleware(HTTPMetrics)
        app.include_router(metrics_router)
    app.include_router(api_router)
    if settings.vospace_enabled:
        install_vospace(app, settings)
    install_ui(app, settings)  # after the guard: its headers wrap the guard's refusals too
    install_openapi(app, settings)
    return app
