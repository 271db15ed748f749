"""The IVOA schemas, compiled offline.

They are not part of the repository: ``LIBRARIAN_TEST_IVOA_SCHEMAS`` names the directory
that holds them (default ``../shared/vospace`` beside the checkout). Without them the
VOSpace tests skip with a message saying what is missing and where to get it, unless
``LIBRARIAN_REQUIRE_IVOA_SCHEMAS=1`` (set by CI) turns the skip into a failure.

Every VOSpace and UWS document the service emits is validated against them. The
standard's getProtocols/getViews/getProperties responses use the schema's
Get*Response types, which the schema declares no element for, so a wrapper schema
written at run time adds one per type (as VOSpace-2.1-node-wrapper.xsd does for
``node``) and the response is validated under that element name.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from lxml import etree

if TYPE_CHECKING:
    from lxml.etree._docloader import _InputDocument

_DEFAULT = Path(__file__).resolve().parents[3].parent / "shared" / "vospace"
SHARED = Path(os.environ.get("LIBRARIAN_TEST_IVOA_SCHEMAS") or _DEFAULT)
REQUIRED_FILES = ("VOSpace-2.1-node-wrapper.xsd", "VOSpace-2.1.xsd", "UWS-1.1.xsd")
HERE = Path(__file__).resolve().parent
VOS = "http://www.ivoa.net/xml/VOSpace/v2.0"
UWS = "http://www.ivoa.net/xml/UWS/v1.0"
RESPONSE_TYPES = {
    "protocols": "GetProtocolsResponse",
    "views": "GetViewsResponse",
    "properties": "GetPropertiesResponse",
}


class _Offline(etree.Resolver):
    """Schema imports point at ivoa.net; answer them from local files."""

    def resolve(self, url: str | None, pubid: str | None, context: object) -> _InputDocument | None:
        if url is None:
            return None
        if "xlink" in url.lower():
            return self.resolve_filename(str(HERE / "xlink.xsd"), context)
        if url.rstrip("/").endswith("UWS/v1.0"):
            return self.resolve_filename(str(SHARED / "UWS-1.1.xsd"), context)
        return None


def _compile(path: Path) -> etree.XMLSchema:
    if not path.is_file():
        raise FileNotFoundError(
            f"schema {path} is missing: the shared schemas must sit beside the repo"
        )
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(_Offline())
    return etree.XMLSchema(etree.parse(str(path), parser))


@functools.cache
def vospace(tmp: str) -> etree.XMLSchema:
    wrapper = Path(tmp) / "vospace-responses.xsd"
    node_wrapper = (SHARED / "VOSpace-2.1-node-wrapper.xsd").resolve()
    if not node_wrapper.is_file():
        raise FileNotFoundError(f"{node_wrapper} is missing")
    elements = "\n".join(
        f'  <xs:element name="{t}" type="vos:{t}"/>' for t in RESPONSE_TYPES.values()
    )
    wrapper.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        f'xmlns:vos="{VOS}" targetNamespace="{VOS}" elementFormDefault="qualified">\n'
        f'  <xs:include schemaLocation="{node_wrapper.as_uri()}"/>\n{elements}\n</xs:schema>\n'
    )
    return _compile(wrapper)


@functools.cache
def uws() -> etree.XMLSchema:
    return _compile((SHARED / "UWS-1.1.xsd").resolve())


def require_schemas() -> None:
    """Skip (or, where CI demands them, fail) when the schema directory is incomplete."""
    missing = [name for name in REQUIRED_FILES if not (SHARED / name).is_file()]
    if not missing:
        return
    message = (
        f"IVOA schemas missing from {SHARED}: {', '.join(missing)}. Set "
        "LIBRARIAN_TEST_IVOA_SCHEMAS to a directory holding the VOSpace 2.1 and UWS 1.1 "
        "schemas (from https://www.ivoa.net/xml/)"
    )
    if os.environ.get("LIBRARIAN_REQUIRE_IVOA_SCHEMAS") == "1":
        pytest.fail(message + " (LIBRARIAN_REQUIRE_IVOA_SCHEMAS=1)")
    pytest.skip(message)


class Validator:
    def __init__(self, tmp: Path) -> None:
        require_schemas()
        self.tmp = str(tmp)

    def __call__(self, body: bytes | str) -> etree._Element:
        """Validate a VOSpace or UWS document against its schema; return its root."""
        raw = body.encode() if isinstance(body, str) else body
        root = etree.fromstring(raw)
        qname = etree.QName(root)
        if qname.namespace == VOS:
            schema = vospace(self.tmp)
            if qname.localname in RESPONSE_TYPES:
                renamed = etree.fromstring(raw)
                renamed.tag = f"{{{VOS}}}{RESPONSE_TYPES[qname.localname]}"
                schema.assertValid(renamed)
                return root
        elif qname.namespace == UWS:
            schema = uws()
        else:
            raise AssertionError(f"no schema for {qname.text}")
        schema.assertValid(root)
        return root
