"""The transfer protocols on offer and their endpoint builders (this server's URLs).

HTTP is always there (``#httpget``/``#httpput`` and the ``https`` variants the ``vos``
client asks for, answered with this server's base URL). The site's other transfer
managers add pull protocols of their own (:func:`add_transfer_managers`): a ``file://``
URL of the copy for clients on the store's filesystem (local copy), and a
``globus://COLLECTION/PATH`` address where Globus is configured. A builder turns an
:class:`EndpointRequest` into the URL or address to hand out, or None when it cannot
serve this file (that protocol is then not offered).
"""

from __future__ import annotations

from librarian_server.services.vospace.model import CORE
from librarian_server.services.vospace.protocols import (
    PULL,
    PUSH,
    Builder,
    EndpointRequest,
    ProtocolRegistry,
)
from librarian_server.services.vospace.uris import quote_path
from librarian_server.settings import ServerSettings

HTTP_GET = CORE + "httpget"
HTTPS_GET = CORE + "httpsget"
HTTP_PUT = CORE + "httpput"
HTTPS_PUT = CORE + "httpsput"
# This service's own protocols, named after the transfer managers that back them.
LOCAL_GET = "ivo://librarian/vospace/protocols#file-get"
GLOBUS_GET = "ivo://librarian/vospace/protocols#globus-get"


def http_endpoint(request: EndpointRequest) -> str:
    """This server's own data endpoint (streamed, hashed on arrival, HTTP Range out)."""
    return f"{request.base_url}/endpoints/{request.token}/{quote_path(request.path)}"


def default_registry() -> ProtocolRegistry:
    registry = ProtocolRegistry()
    for uri in (HTTP_GET, HTTPS_GET):
        registry.register(uri, PULL, http_endpoint)
    for uri in (HTTP_PUT, HTTPS_PUT):
        registry.register(uri, PUSH, http_endpoint)
    return registry


def local_endpoint(request: EndpointRequest) -> str | None:
    """The copy itself, for a client that shares the store's filesystem."""
    if request.copy is None or request.copy.path is None:  # none, or in an object store
        return None
    return request.copy.path.as_uri()


def globus_endpoint(settings: ServerSettings) -> Builder:
    def build(request: EndpointRequest) -> str | None:
        copy = request.copy
        root = None if copy is None else settings.globus.path_for_store(copy.store_name)
        if copy is None or root is None or copy.path is None:
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
