"""The application factory; nothing happens at import time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from . import __version__
from .api import api_router
from .api.errors import install as install_error_handlers
from .background import Runner
from .db import make_engine, make_session_factory
from .openapi import install as install_openapi
from .services.auth import Authenticator
from .services.maintenance import startup_cleanup
from .settings import ServerSettings, load_settings
from .vospace import housekeeping as vospace_housekeeping
from .vospace import install as install_vospace

log = logging.getLogger(__name__)


def create_app(settings: ServerSettings | None = None) -> FastAPI:
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings)
        app.state.engine = engine
        app.state.session_factory = make_session_factory(engine)
        app.state.authenticator = Authenticator(settings.auth_cache_seconds)
        startup_cleanup(app.state.session_factory, settings)
        if settings.vospace_enabled:
            vospace_housekeeping(app.state.session_factory)
        # The runner also serves "run this task now" when the tasks run elsewhere.
        runner = Runner(app.state.session_factory, settings)
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
            engine.dispose()

    app = FastAPI(
        title="Librarian",
        version=__version__,
        summary="A site's data catalogue: verified uploads, search, download, replication.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(api_router)
    if settings.vospace_enabled:
        install_vospace(app, settings)
    install_openapi(app, settings)
    return app
