"""``GET /metrics``: the Prometheus text format, the same whichever process answers.

Outside ``/api/v2`` and the OpenAPI document: it is for a scraper, not for clients.
With ``metrics_token`` set, the scraper must send ``Authorization: Bearer <token>``
(compared in constant time; the guard leaves this header to the route); without one the
endpoint is open, which is safe because it names no file, path or secret.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from librarian_server.errors import AuthenticationRequired
from librarian_server.metrics.collector import CatalogueCollector
from librarian_server.settings import ServerSettings

PATH = "/metrics"

router = APIRouter(include_in_schema=False)


def check_token(settings: ServerSettings, header: str | None) -> None:
    if settings.metrics_token is None:
        return
    scheme, _, value = (header or "").partition(" ")
    want = settings.metrics_token.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), want):
        raise AuthenticationRequired(
            "The metrics endpoint needs its token.",
            "Send Authorization: Bearer <LIBRARIAN_SERVER_METRICS_TOKEN>.",
        )


def exposition(request: Request) -> bytes:
    """Every process's counters (the multiprocess files) and the catalogue's gauges."""
    state = request.app.state
    settings: ServerSettings = state.settings
    scrape = CollectorRegistry(auto_describe=False)
    if settings.metrics_dir.is_dir():
        MultiProcessCollector(scrape, path=str(settings.metrics_dir))  # type: ignore[no-untyped-call]
    scrape.register(CatalogueCollector(state.session_factory, settings))
    return generate_latest(scrape)


@router.get(PATH)
def metrics(request: Request) -> Response:
    check_token(request.app.state.settings, request.headers.get("authorization"))
    return Response(exposition(request), media_type=CONTENT_TYPE_LATEST)
