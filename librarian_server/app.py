"""The application factory; nothing happens at import time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from . import __version__
from .api import api_router
from .api.errors import install as install_error_handlers
from .db import make_engine, make_session_factory
from .services.auth import Authenticator
from .services.maintenance import expire_idle_uploads, startup_cleanup
from .settings import ServerSettings, load_settings
from .vospace import housekeeping as vospace_housekeeping
from .vospace import housekeeping_loop
from .vospace import install as install_vospace

log = logging.getLogger(__name__)


async def _expire_idle_uploads(factory: sessionmaker[Session], settings: ServerSettings) -> None:
    """Release the bytes and room of uploads their clients abandoned without cancelling."""
    while True:
        await asyncio.sleep(settings.staging_cleanup_interval_seconds)
        try:
            await to_thread.run_sync(expire_idle_uploads, factory, settings)
        except Exception:
            log.exception("clean-up of idle uploads failed; will try again")


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
        log.info("librarian %s serving site %r", __version__, settings.site_name)
        tasks = [asyncio.create_task(_expire_idle_uploads(app.state.session_factory, settings))]
        if settings.vospace_enabled:
            tasks.append(
                asyncio.create_task(housekeeping_loop(app.state.session_factory, settings))
            )
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            engine.dispose()

    app = FastAPI(
        title="Librarian",
        version=__version__,
        summary="A site's data catalogue: verified uploads, search, download.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(api_router)
    if settings.vospace_enabled:
        install_vospace(app, settings)
    return app
