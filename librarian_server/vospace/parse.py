"""Reading client XML (node and transfer documents) with a hardened lxml parser.

No DTDs, no entities, no network: a node document is data from the internet. The
parse is incremental and stops as soon as a document has more than ``MAX_ELEMENTS``
elements or is nested deeper than ``MAX_DEPTH``, so no huge tree is ever built; a node
document may carry at most ``MAX_PROPERTIES`` properties of bounded size. Every node
type of the standard's closed set parses; the caller decides which it supports.
"""

from __future__ import annotations

from lxml import etree

from librarian_server.services.vospace.faults import InvalidArgument, TypeNotSupported
from librarian_server.services.vospace.model import (
    MAX_DEPTH,
    MAX_DOCUMENT,
    MAX_ELEMENTS,
    MAX_PROPERTIES,
    MAX_PROPERTY_URI,
    MAX_PROPERTY_VALUE,
    NODE_TYPES,
    VOS_NS,
    XSI_NS,
    NodeDoc,
    PropertyValue,
    ProtocolDoc,
    TransferDoc,
)

_FEED = 16 << 10
_V = "{" + VOS_NS + "}"
_XSI_TYPE = "{" + XSI_NS + "}type"
_XSI_NIL = "{" + XSI_NS + "}nil"


def _parser() -> etree.XMLPullParser:
    return etree.XMLPullParser(
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse_xml(body: bytes) -> etree._Element:
    if len(body) > MAX_DOCUMENT:
        raise InvalidArgument(f"the document is larger than {MAX_DOCUMENT} bytes")
    if not body.strip():
        raise InvalidArgument("the request has no XML document")
    parser = _parser()
    elements = depth = 0
    try:
        for start in range(0, len(body), _FEED):
            parser.feed(body[start : start + _FEED])
            for event, _ in parser.read_events():
                if event == "end":
                    depth -= 1
                    continue
                elements += 1
                depth += 1
                if elements > MAX_ELEMENTS:
                    raise InvalidArgument(f"the document has more than {MAX_ELEMENTS} elements")
                if depth > MAX_DEPTH:
                    raise InvalidArgument(f"the document is nested deeper than {MAX_DEPTH}")
        root = parser.close()
    except etree.XMLSyntaxError as exc:
        raise InvalidArgument(f"the document is not well-formed XML: {exc}") from None
    if root.getroottree().docinfo.doctype:
        raise InvalidArgument("documents with a DOCTYPE are not accepted")
    return root


def _bool(text: str | None, default: bool) -> bool:
    if text is None:
        return default
    value = text.strip().lower()
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise InvalidArgument(f"{text!r} is not a boolean")


def _required_uri(element: etree._Element, what: str) -> str:
    uri = (element.get("uri") or "").strip()
    if not uri:
        raise InvalidArgument(f"a {what} has no uri attribute")
    return uri


def node_type(element: etree._Element) -> str:
    """The local name of a node's xsi:type, resolved through the element's namespaces."""
    raw = element.get(_XSI_TYPE)
    if raw is None:
        raise InvalidArgument("the node has no xsi:type")
    prefix, _, local = raw.strip().rpartition(":")
    namespace = element.nsmap.get(prefix or None)
    if namespace != VOS_NS or local not in NODE_TYPES:
        raise TypeNotSupported(f"{raw!r} is not a VOSpace node type")
    return local


def _text(element: etree._Element | None) -> str | None:
    return None if element is None else (element.text or "").strip()


def parse_node(body: bytes) -> NodeDoc:
    root = parse_xml(body)
    if root.tag != _V + "node":
        raise InvalidArgument(f"expected a vos:node document, got {root.tag!s}")
    uri = (root.get("uri") or "").strip()
    if not uri:
        raise InvalidArgument("the node has no uri attribute")
    kind = node_type(root)
    properties: list[PropertyValue] = []
    for container in root.findall(_V + "properties"):
        for prop in container.findall(_V + "property"):
            if len(properties) >= MAX_PROPERTIES:
                raise InvalidArgument(f"a node document has at most {MAX_PROPERTIES} properties")
            properties.append(_property(prop))
    target = _text(root.find(_V + "target")) if kind == "LinkNode" else None
    if kind == "LinkNode" and not target:
        raise InvalidArgument("a LinkNode needs a target")
    return NodeDoc(uri=uri, type=kind, properties=properties, target=target)


def _property(prop: etree._Element) -> PropertyValue:
    uri = _required_uri(prop, "property")
    if len(uri) > MAX_PROPERTY_URI:
        raise InvalidArgument(f"a property URI has at most {MAX_PROPERTY_URI} characters")
    value = None if _bool(prop.get(_XSI_NIL), False) else (prop.text or "")
    if value is not None and len(value) > MAX_PROPERTY_VALUE:
        raise InvalidArgument(f"the value of {uri} is longer than {MAX_PROPERTY_VALUE}")
    return PropertyValue(uri=uri, value=value, read_only=_bool(prop.get("readOnly"), False))


def _params(element: etree._Element) -> list[tuple[str, str]]:
    return [(_required_uri(p, "param"), p.text or "") for p in element.findall(_V + "param")]


def parse_transfer(body: bytes) -> TransferDoc:
    root = parse_xml(body)
    if root.tag != _V + "transfer":
        raise InvalidArgument(f"expected a vos:transfer document, got {root.tag!s}")
    targets = [(_text(t) or "") for t in root.findall(_V + "target")]
    if len(targets) != 1 or not targets[0]:
        raise InvalidArgument("a transfer names exactly one target")
    direction = _text(root.find(_V + "direction"))
    if not direction:
        raise InvalidArgument("the transfer has no direction")
    view = root.find(_V + "view")
    protocols = [
        ProtocolDoc(
            uri=_required_uri(p, "protocol"),
            endpoint=_text(p.find(_V + "endpoint")) or None,
            security_methods=[
                _required_uri(s, "securityMethod") for s in p.findall(_V + "securityMethod")
            ],
            params=_params(p),
        )
        for p in root.findall(_V + "protocol")
    ]
    keep = root.find(_V + "keepBytes")
    return TransferDoc(
        target=targets[0],
        direction=direction,
        view=None if view is None else _required_uri(view, "view"),
        protocols=protocols,
        keep_bytes=None if keep is None else _bool(keep.text, True),
        params=_params(root),
    )
