"""Transfer negotiation's registry: protocol URI and direction -> endpoint builder.

The HTTP layer registers the builders (they know its URLs); negotiation only asks
them. A builder turns an :class:`EndpointRequest` into the URL or address to hand
out, or None when it cannot serve this file (that protocol is then not offered).
Negotiation keeps the client's order, returns only the protocol and security-method
combinations offered, and echoes a security method only when the client sent it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from librarian_server.services.catalogue.copies import LocalCopy
from librarian_server.services.vospace.model import ProtocolDoc

PUSH = "push"
PULL = "pull"

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
