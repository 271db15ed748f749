"""Transfer protocols on offer, as a registry: protocol URI and direction -> endpoint builder.

HTTP is always there (``#httpget``/``#httpput`` and the ``https`` variants the ``vos``
client asks for, answered with this server's base URL). Another transfer manager
joins in a few lines::

    registry.register("ivo://example.org/protocols#globus", PULL, globus_endpoint)

where ``globus_endpoint(request)`` turns an :class:`EndpointRequest` into the URL or
address the client should use. Negotiation keeps the client's order, returns only the
protocol and security-method combinations offered, and echoes a security method
only when the client sent it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .model import CORE, ProtocolDoc
from .uris import quote_path

PUSH = "push"
PULL = "pull"
HTTP_GET = CORE + "httpget"
HTTPS_GET = CORE + "httpsget"
HTTP_PUT = CORE + "httpput"
HTTPS_PUT = CORE + "httpsput"

TOKEN_METHODS = (
    "ivo://ivoa.net/sso#token",
    "vos://cadc.nrc.ca~vospace/CADC/std/Auth#token-1.0",
)
SECURITY_METHODS = frozenset((*TOKEN_METHODS, "ivo://ivoa.net/sso#BasicAA"))


@dataclass(frozen=True)
class EndpointRequest:
    """What an endpoint builder gets: where the service lives and what to move."""

    base_url: str  # the VOSpace base, e.g. http://host:port/vospace
    token: str  # the endpoint's one-job secret
    path: str  # the catalogue name
    direction: str  # PUSH or PULL
    job_id: str


Builder = Callable[[EndpointRequest], str]


def http_endpoint(request: EndpointRequest) -> str:
    """This server's own data endpoint (streamed, hashed on arrival, HTTP Range out)."""
    return f"{request.base_url}/endpoints/{request.token}/{quote_path(request.path)}"


class ProtocolRegistry:
    def __init__(self) -> None:
        self._builders: dict[tuple[str, str], Builder] = {}

    def register(self, uri: str, direction: str, build: Builder) -> None:
        if direction not in (PUSH, PULL):
            raise ValueError(f"direction must be {PUSH!r} or {PULL!r}")
        self._builders[(uri, direction)] = build

    def offered(self, direction: str) -> list[str]:
        return [uri for uri, d in self._builders if d == direction]

    def negotiate(
        self, direction: str, requested: list[ProtocolDoc], request: EndpointRequest
    ) -> list[ProtocolDoc]:
        answer: list[ProtocolDoc] = []
        for protocol in requested:
            build = self._builders.get((protocol.uri, direction))
            if build is None:
                continue
            methods = [m for m in protocol.security_methods if m in SECURITY_METHODS]
            if protocol.security_methods and not methods:
                continue  # only methods we cannot honour were asked for
            answer.append(ProtocolDoc(protocol.uri, build(request), methods))
        return answer


def default_registry() -> ProtocolRegistry:
    registry = ProtocolRegistry()
    for uri in (HTTP_GET, HTTPS_GET):
        registry.register(uri, PULL, http_endpoint)
    for uri in (HTTP_PUT, HTTPS_PUT):
        registry.register(uri, PUSH, http_endpoint)
    return registry
