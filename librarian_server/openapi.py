"""The OpenAPI document, corrected to say what the server really does.

FastAPI's generated document is close but misleading in ways that break generated
clients and fuzzers: it has no security schemes, documents a 422 validation body the
server never sends (it answers 400 with ``ErrorResponse``), omits the 401/403/404/409/
416/507 answers, and describes the VOSpace operations, which speak XML and plain
text, as JSON. ``install(app)`` replaces ``app.openapi`` with a version that fixes all
of that once, from the routes themselves and the site's settings (anonymous reads).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI, routing
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from librarian_client.models import MAX_BYTES, ErrorResponse
from librarian_server.api import deps
from librarian_server.settings import ServerSettings

Doc = dict[str, Any]
BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")

BASIC: Doc = {"basic": []}
BEARER: Doc = {"bearer": []}
SECURITY_SCHEMES = {
    "basic": {"type": "http", "scheme": "basic", "description": "A user's name and password."},
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "A token from POST /api/v2/tokens (`librarian token create`).",
    },
}
ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}
TEXT = {"schema": {"type": "string"}}
BINARY = {"schema": {"type": "string", "format": "binary"}}
XML_BODY = {"text/xml": TEXT, "application/xml": TEXT}
FORM = {
    "application/x-www-form-urlencoded": {
        "schema": {"type": "object", "additionalProperties": {"type": "string"}}
    }
}
DESCRIPTIONS = {
    "400": "The request is malformed or a value is out of range.",
    "401": "No credentials where they are needed, or wrong ones.",
    "403": "The account's permission level does not allow this.",
    "404": "No such file, transfer, node or job.",
    "409": "Conflicts with the current state (name taken with other contents, busy).",
    "411": "The upload did not state its size (Content-Length).",
    "412": "The bytes do not match the stated checksum.",
    "413": "The body is larger than this endpoint accepts.",
    "416": "The byte range lies outside the file; Content-Range gives its size.",
    "422": "The bytes do not match the declared size or checksum.",
    "429": "Too many failed logins from this user or address; Retry-After says how long.",
    "507": "No store has room for the bytes.",
}
RETRY_AFTER_429 = {
    "Retry-After": {
        "description": "Seconds until the lock-out ends.",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    }
}
CONTENT_RANGE_416 = {
    "Content-Range": {
        "description": "bytes */SIZE: the file's length.",
        "required": True,
        "schema": {"type": "string", "pattern": r"^bytes \*/[0-9]+$"},
    }
}
CONTENT_RANGE_206 = {
    "Content-Range": {
        "description": "bytes FIRST-LAST/SIZE",
        "required": True,
        "schema": {"type": "string", "pattern": r"^bytes [0-9]+-[0-9]+/[0-9]+$"},
    }
}

# Operations whose answers the generated document cannot know, keyed "METHOD path".
CONFLICTS = re.compile(
    r"POST /api/v2/(upload/(stage|commit|bundle)|clone/(stage|complete|bundle))"
    r"|PUT /api/v2/(upload|clone)/\{transfer_id\}"
    r"|POST /api/v2/(transfers/\{transfer_id\}/(retry|cancel)|sneakernet/.*)"
    r"|(PUT|POST|DELETE) /vospace/nodes/.*|PUT /vospace/(files|endpoints)/.*"
    r"|POST /vospace/(transfers.*|synctrans)"
)
WRITES_BYTES = re.compile(
    r"POST /api/v2/(upload/(stage|commit|bundle)|clone/(stage|complete|bundle)"
    r"|sneakernet/(ingest|export))"
    r"|PUT /api/v2/(upload|clone)/\{transfer_id\}"
    r"|(PUT|POST) /vospace/nodes/.*|PUT /vospace/(files|endpoints)/.*|POST /vospace/transfers.*"
)
TAKES_BYTES = re.compile(
    r"PUT /api/v2/(upload|clone)/\{transfer_id\}|POST /api/v2/(upload|clone)/bundle"
    r"|PUT /vospace/(files|endpoints)/.*"
)
VERIFIES = re.compile(r"(PUT|POST) /api/v2/(upload|clone)/(\{transfer_id\}|bundle|commit)")
READS_BYTES = re.compile(r"GET /api/v2/download/.*|GET /vospace/(files|endpoints)/.*")
NDJSON = re.compile(r"POST /api/v2/sneakernet/(export|ingest)")
VOSPACE_OPEN = re.compile(r"/vospace/(properties|views|availability|capabilities|protocols)$")
VOSPACE_TEXT = re.compile(
    r"/vospace/transfers/\{job_id\}/(phase|executionduration|destruction|quote|owner|error)$"
)
VOSPACE_WRITE = re.compile(r"(PUT|POST|DELETE) /vospace/nodes/.*|PUT /vospace/files/.*")


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)


def _routes(app: FastAPI) -> Iterator[tuple[str, set[str], APIRoute]]:
    """(full path, methods, route) of every documented route, however routers nest."""
    contexts = getattr(routing, "iter_route_contexts", None)  # FastAPI >= 0.160
    for item in contexts(app.routes) if contexts else app.routes:
        route = getattr(item, "original_route", item)
        shown = getattr(item, "include_in_schema", True)
        if isinstance(route, APIRoute) and route.include_in_schema and shown:
            found: Any = item  # a RouteContext (full path) or, before 0.160, the route
            yield found.path_format, set(found.methods or ()), route


def _exact_bounds(node: Any) -> None:
    """FastAPI's OpenAPI models hold bounds as floats: 2**63 - 1 comes out as 2**63,
    which a fuzzer then sends as valid. Put the exact integers back."""
    if isinstance(node, list):
        for item in node:
            _exact_bounds(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in BOUNDS and isinstance(value, float) and node.get("type") == "integer":
                node[key] = MAX_BYTES if value == float(MAX_BYTES) else int(value)
            else:
                _exact_bounds(value)


def _access(route: APIRoute, path: str, method: str, settings: ServerSettings) -> str:
    """'none' (no credentials looked at), 'optional', 'anonymous-ok' or 'required'."""
    calls = list(_calls(route.dependant))
    key = f"{method} {path}"
    if path.startswith("/vospace"):
        if deps.optional_user not in calls:
            return "none"
        if VOSPACE_OPEN.search(path) or path.startswith("/vospace/endpoints/"):
            return "optional"  # open, or authorised by the token in the URL
        if VOSPACE_WRITE.fullmatch(key):
            return "required"
        return "anonymous-ok" if settings.vospace_anonymous_read else "required"
    if deps.reader in calls:
        return "anonymous-ok" if settings.allow_anonymous_read else "required"
    if any(getattr(c, "__qualname__", "").startswith("require.") for c in calls):
        return "required"
    return "optional" if deps.optional_user in calls else "none"


def _error(status: str, vospace: bool, headers: Doc | None = None) -> Doc:
    content = {"text/plain": TEXT} if vospace else {"application/json": {"schema": ERROR_REF}}
    answer: Doc = {"description": DESCRIPTIONS.get(status, "Error."), "content": content}
    if headers:
        answer["headers"] = headers
    return answer


def _errors(op: Doc, key: str, access: str, vospace: bool) -> None:
    responses: Doc = op.setdefault("responses", {})
    responses.pop("422", None)
    wanted: dict[str, Doc | None] = {}
    if op.get("parameters") or op.get("requestBody") or (vospace and access != "none"):
        wanted["400"] = None
    if access != "none":
        wanted["401"] = None
        wanted["429"] = RETRY_AFTER_429
    if access in ("required", "anonymous-ok"):
        wanted["403"] = None
    if "{" in key or "requestBody" in op or (vospace and access != "none"):
        wanted["404"] = None
    if CONFLICTS.fullmatch(key):
        wanted["409"] = None
    if TAKES_BYTES.fullmatch(key) or "requestBody" in op:
        wanted["413"] = None
    if vospace and TAKES_BYTES.fullmatch(key):
        wanted["411"] = wanted["412"] = None
    if VERIFIES.fullmatch(key):
        wanted["422"] = None
    if READS_BYTES.fullmatch(key):
        wanted["416"] = CONTENT_RANGE_416
    if WRITES_BYTES.fullmatch(key):
        wanted["507"] = None
    for status, headers in wanted.items():
        responses[status] = _error(status, vospace, headers)


def _bytes_io(op: Doc, key: str) -> None:
    if TAKES_BYTES.fullmatch(key):
        op["requestBody"] = {"required": True, "content": {"application/octet-stream": BINARY}}
    if READS_BYTES.fullmatch(key):
        ok = {"application/octet-stream": BINARY}
        op["responses"]["200"] = {"description": "The whole file.", "content": ok}
        op["responses"]["206"] = {
            "description": "The byte range asked for.",
            "content": ok,
            "headers": CONTENT_RANGE_206,
        }
    if NDJSON.fullmatch(key):
        op["responses"]["200"] = {
            "description": "Progress events, one JSON object a line (DiskEvent).",
            "content": {"application/x-ndjson": TEXT},
        }


def _vospace_io(op: Doc, method: str, path: str) -> None:
    """XML documents in and out; plain text for the UWS job's single values."""
    responses: Doc = op["responses"]
    ok = next((s for s in ("200", "201", "204") if s in responses), "200")
    see_other = {
        "description": "See the job (or its transfer details, or the data).",
        "headers": {"Location": {"schema": {"type": "string"}}},
    }
    if path.startswith("/vospace/nodes/") and method in ("PUT", "POST"):
        op["requestBody"] = {"required": True, "content": XML_BODY}
    if path == "/vospace/transfers" and method == "POST":
        op["requestBody"] = {"required": True, "content": XML_BODY}
    if path == "/vospace/synctrans" and method == "POST":
        op["requestBody"] = {"required": False, "content": {**XML_BODY, **FORM}}
    if path.startswith("/vospace/transfers/") and method == "POST":
        op["requestBody"] = {"required": False, "content": FORM}

    if method == "DELETE" and path.startswith("/vospace/nodes/"):
        responses["204"] = {"description": "Deleted."}
    elif path.startswith(("/vospace/files/", "/vospace/endpoints/")):
        if method == "PUT":
            responses.pop("200", None)
            responses["200"] = {
                "description": "Stored over an existing node (or read and dropped, for .null)."
            }
            responses["201"] = {"description": "Stored; Digest gives the md5."}
    elif method == "POST" and path.startswith("/vospace/transfers"):
        responses.pop("200", None)
        responses["303"] = see_other
    elif VOSPACE_TEXT.search(path) and method == "GET":
        responses[ok] = {
            "description": "The value, as plain text.",
            "content": {"text/plain": TEXT},
        }
    elif method == "DELETE":
        responses.pop("200", None)
        responses["303"] = see_other
    else:
        responses[ok] = {"description": "A VOSpace or UWS XML document.", "content": XML_BODY}
    if path == "/vospace/synctrans" or (path.startswith("/vospace/nodes/") and method == "GET"):
        responses["303"] = see_other


def _security(access: str) -> list[Doc]:
    if access == "required":
        return [BASIC, BEARER]
    if access in ("optional", "anonymous-ok"):
        return [{}, BASIC, BEARER]
    return []


def fix(doc: Doc, app: FastAPI, settings: ServerSettings) -> Doc:
    components: Doc = doc.setdefault("components", {})
    schemas: Doc = components.setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    error = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(error.pop("$defs", {}))  # the ErrorCode enumeration
    schemas["ErrorResponse"] = error
    components["securitySchemes"] = SECURITY_SCHEMES
    for path, methods, route in _routes(app):
        for method in sorted(methods - {"HEAD"}):
            op: Doc | None = doc["paths"].get(path, {}).get(method.lower())
            if op is None:
                continue
            key = f"{method} {path}"
            vospace = path.startswith("/vospace")
            access = _access(route, path, method, settings)
            op["security"] = _security(access)
            if vospace:
                _vospace_io(op, method, path)
            _bytes_io(op, key)
            _errors(op, key, access, vospace)
    _exact_bounds(doc)
    return doc


def install(app: FastAPI, settings: ServerSettings) -> None:
    """Serve the corrected document at /openapi.json (built once, on first request)."""
    generate = app.openapi
    built: list[Doc] = []

    def openapi() -> Doc:
        if not built:
            built.append(fix(generate(), app, settings))
        return built[0]

    app.openapi = openapi  # type: ignore[method-assign]
