"""Node URIs: ``vos://<authority>/<path>`` for a resource ID ``ivo://<host>/<path>``.

The authority is the resource ID without ``ivo://`` and with every ``/`` as ``!``;
``~`` is accepted on input as the standard requires. Paths are catalogue names:
URIs percent-encode what RFC 3986 does not allow in a path (spaces, ``#``, ``?``,
``%``...) and keep other Unicode characters as they are, as java.net.URI (and so
the CADC services) do.
"""

from __future__ import annotations

import uuid
from urllib.parse import unquote, urlsplit

from librarian_server.errors import InvalidName
from librarian_server.services.catalogue.names import validate_name
from librarian_server.services.vospace.faults import InvalidURI

AUTO = ".auto"
NULL = ".null"
RESERVED = (AUTO, NULL)
_SAFE = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/"
)


def quote_path(path: str) -> str:
    return "".join(
        ch if ch in _SAFE or ord(ch) > 127 else "".join(f"%{b:02X}" for b in ch.encode())
        for ch in path
    )


def parent_of(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


def basename(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def join(parent: str, name: str) -> str:
    return f"{parent}/{name}" if parent else name


def auto_name() -> str:
    """A fresh name for the standard's ``.auto`` (the service chooses it)."""
    return uuid.uuid4().hex


def node_path(raw: str, *, max_length: int = 1024, reserved_last: bool = True) -> str:
    """A catalogue path from a URL or URI path: '' is the root; raises InvalidURI."""
    path = raw.strip("/")
    if not path:
        return ""
    try:
        path = validate_name(path, max_length=max_length)  # the NFC form, as stored
    except InvalidName as exc:
        raise InvalidURI(f"{raw!r}: {exc.reason}") from None
    segments = path.split("/")
    limit = len(segments) - 1 if reserved_last else len(segments)
    for segment in segments[:limit]:
        if segment in RESERVED:
            raise InvalidURI(f"{raw!r}: {segment} may only be the last part of a path")
    return path


class NodeURIs:
    """Converts between node URIs and catalogue paths for one resource ID."""

    def __init__(self, resource_id: str, *, max_length: int = 1024) -> None:
        if not resource_id.startswith("ivo://"):
            raise ValueError(f"not an IVOA identifier: {resource_id!r}")
        self.resource_id = resource_id
        self.authority = resource_id[len("ivo://") :].replace("/", "!")
        self.max_length = max_length

    def uri(self, path: str) -> str:
        return f"vos://{self.authority}/{quote_path(path)}"

    def path_of(self, uri: str, *, reserved_last: bool = True) -> str:
        """The catalogue path a node URI names; InvalidURI if it is not one of ours."""
        try:
            parts = urlsplit(uri.strip())
        except ValueError:
            raise InvalidURI(f"{uri!r} is not a URI") from None
        if parts.scheme != "vos":
            raise InvalidURI(f"{uri!r} is not a vos:// node URI")
        if parts.query:
            raise InvalidURI(f"{uri!r}: a node URI has no query")
        authority = parts.netloc.replace("~", "!")
        host, _, rest = authority.partition("!")
        mine_host, _, mine_rest = self.authority.partition("!")
        if host.lower() != mine_host.lower() or rest != mine_rest:
            raise InvalidURI(f"{uri!r} belongs to another service than {self.resource_id}")
        try:
            decoded = unquote(parts.path, errors="strict")
        except UnicodeDecodeError:
            raise InvalidURI(f"{uri!r} percent-encodes bytes that are not UTF-8") from None
        return node_path(decoded, max_length=self.max_length, reserved_last=reserved_last)

    def is_mine(self, uri: str) -> bool:
        try:
            self.path_of(uri)
        except InvalidURI:
            return False
        return True
