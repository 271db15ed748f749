"""Transfer protocols on offer, as a registry: protocol URI and direction -> endpoint builder.

HTTP is always there (``#httpget``/``#httpput`` and the ``https`` variants the ``vos``
client asks for, answered with this server's base URL). The site's other transfer
managers add pull protocols of their own (:func:`add_transfer_managers`): a ``file://``
URL of the copy for clients on the store's filesystem (local copy), and a
``globus://COLLECTION/PATH`` address where Globus is configured. A builder turns an
:class:`EndpointRequest` into the URL or address to hand out, or None when it cannot
serve this file (that protocol is then not offered). Negotiation keeps the client's
order, returns only the protocol and security-method combinations offered, and echoes
a security method only when the client sent it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from librarian_server.services.catalogue.copies import LocalCopy
from librarian_server.settings import ServerSettings
from librarian_server.vospace.model import CORE, ProtocolDoc
from librarian_server.vospace.uris import quote_path

PUSH = "push"
PULL = "pull"
HTTP_GET = CORE + "httpget"
HTTPS_GET = CORE + "httpsget"
HTTP_PUT = CORE + "httpput"
HTTPS_PUT = CORE + "httpsput"
# This service's own protocols, named after the transfer managers that back them.
LOCAL_GET = "ivo://librarian/vospace/protocols#file-get"
GLOBUS_GET = "ivo://librarian/vospace/protocols#globus-get"

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
    copy: LocalCopy | None = None  # pulls: this site's copy of the file, if it has one


Builder = Callable[[EndpointRequest], str | None]


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
            endpoint = build(request)
            if endpoint is not None:
                answer.append(ProtocolDoc(protocol.uri, endpoint, methods))
        return answer


def default_registry() -> ProtocolRegistry:
    registry = ProtocolRegistry()
    for uri in (HTTP_GET, HTTPS_GET):
        registry.register(uri, PULL, http_endpoint)
    for uri in (HTTP_PUT, HTTPS_PUT):
        registry.register(uri, PUSH, http_endpoint)
    return registry


def local_endpoint(request: EndpointRequest) -> str | None:
    """The copy itself, for a client that shares the store's filesystem."""
    return None if request.copy is None else request.copy.path.as_uri()


def globus_endpoint(settings: ServerSettings) -> Builder:
    def build(request: EndpointRequest) -> str | None:
        copy = request.copy
        root = None if copy is None else settings.globus.path_for_store(copy.store_name)
        if copy is None or root is None:
            return None
        relative = copy.path.relative_to(copy.store_root).as_posix()
        return f"globus://{settings.globus.endpoint_id}{root.rstrip('/')}/{relative}"

    return build


def add_transfer_managers(registry: ProtocolRegistry, settings: ServerSettings) -> None:
    """Offer the site's transfer managers as pull protocols, where they apply.

    Pushes stay on HTTP: bytes that arrive by a local write or a Globus task give the
    service no moment at which to verify and commit them within the standard.
    """
    if settings.offer_local_paths:
        registry.register(LOCAL_GET, PULL, local_endpoint)
    if settings.globus.configured and settings.globus.stores:
        registry.register(GLOBUS_GET, PULL, globus_endpoint(settings))
