"""VOSpace URIs and XML parsing, without a server: every node type parses, bad input faults."""

from __future__ import annotations

import pytest
from vos.vos import Node

from librarian_server.services.vospace.faults import InvalidArgument, InvalidURI, TypeNotSupported
from librarian_server.services.vospace.model import NODE_TYPES, TransferDoc
from librarian_server.services.vospace.uris import NodeURIs, quote_path
from librarian_server.vospace.parse import parse_node, parse_transfer

VOS = "http://www.ivoa.net/xml/VOSpace/v2.0"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
URIS = NodeURIs("ivo://example.org/vospace")


@pytest.mark.parametrize("kind", sorted(NODE_TYPES))
def test_every_node_type_parses(kind: str) -> None:
    target = "<v:target>vos://example.org!vospace/t</v:target>" if kind == "LinkNode" else ""
    body = (
        f'<v:node xmlns:v="{VOS}" xmlns:i="{XSI}" uri="vos://example.org!vospace/a" '
        f'i:type="v:{kind}">{target}</v:node>'
    )
    assert parse_node(body.encode()).type == kind


def test_the_vos_clients_own_documents_parse() -> None:
    container = Node("vos://example.org!vospace/obs/2026", node_type="vos:ContainerNode")
    assert parse_node(str(container).encode()).type == "ContainerNode"
    data = Node("vos://example.org!vospace/obs/x.fits")
    data.node = data.create(data.uri, properties={"description": "first light", "gone": None})
    doc = parse_node(str(data).encode())
    values = {p.uri: p.value for p in doc.properties}
    assert values["ivo://ivoa.net/vospace/core#description"] == "first light"
    assert values["gone"] is None  # xsi:nil: delete
    link = Node("vos://example.org!vospace/l", node_type="vos:LinkNode")
    from xml.etree import ElementTree

    ElementTree.SubElement(link.node, "target").text = "vos://example.org!vospace/x"
    assert parse_node(str(link).encode()).target == "vos://example.org!vospace/x"


def test_node_faults() -> None:
    with pytest.raises(TypeNotSupported):
        parse_node(f'<node xmlns="{VOS}" xmlns:x="{XSI}" uri="u" x:type="Folder"/>'.encode())
    with pytest.raises(TypeNotSupported):  # the right name in the wrong namespace
        parse_node(
            f'<node xmlns="{VOS}" xmlns:o="urn:other" xmlns:x="{XSI}" uri="u" x:type="o:DataNode"/>'.encode()
        )
    for bad in (b"", b"<node", f'<node xmlns="{VOS}"/>'.encode(), b"<other/>"):
        with pytest.raises(InvalidArgument):
            parse_node(bad)
    bomb = b'<!DOCTYPE d [<!ENTITY a "aaaa">]><d>&a;</d>'
    with pytest.raises(InvalidArgument):
        parse_node(bomb)


def test_transfer_documents() -> None:
    body = (
        f'<vos:transfer xmlns:vos="{VOS}" version="2.1"><vos:target>vos://example.org!vospace/a'
        "</vos:target><vos:direction>pushToVoSpace</vos:direction>"
        '<vos:protocol uri="ivo://ivoa.net/vospace/core#httpsput"><vos:securityMethod '
        'uri="ivo://ivoa.net/sso#token"/></vos:protocol>'
        '<vos:protocol uri="ivo://ivoa.net/vospace/core#httpsput"/>'
        '<vos:param uri="ivo://ivoa.net/vospace/core#length">10</vos:param></vos:transfer>'
    )
    doc = parse_transfer(body.encode())
    assert doc.direction == "pushToVoSpace" and not doc.is_internal
    assert [p.security_methods for p in doc.protocols] == [["ivo://ivoa.net/sso#token"], []]
    assert doc.params == [("ivo://ivoa.net/vospace/core#length", "10")]
    assert TransferDoc.from_json(doc.to_json()) == doc
    move = body.replace("pushToVoSpace", "vos://example.org!vospace/b").replace(
        "<vos:param", "<vos:keepBytes>false</vos:keepBytes><vos:param"
    )
    moved = parse_transfer(move.encode())
    assert moved.is_internal and moved.keep_bytes is False
    two_targets = body.replace("<vos:direction>", "<vos:target>x</vos:target><vos:direction>")
    with pytest.raises(InvalidArgument):
        parse_transfer(two_targets.encode())


def test_uris_accept_bang_and_tilde_and_round_trip_odd_names() -> None:
    assert URIS.path_of("vos://example.org!vospace/a/b") == "a/b"
    assert URIS.path_of("vos://EXAMPLE.org~vospace/a/b/") == "a/b"
    assert URIS.path_of("vos://example.org!vospace/") == ""
    name = "dir/space and ümlaut #1?%.txt"
    assert quote_path(name) == "dir/space%20and%20ümlaut%20%231%3F%25.txt"
    assert URIS.path_of(URIS.uri(name)) == name
    assert URIS.uri("a/b") == "vos://example.org!vospace/a/b"
    for bad in (
        "vos://other.org!vospace/a",
        "vos://example.org!vault/a",
        "ivo://example.org/vospace/a",
        "vos://example.org!vospace/a/../b",
        "vos://example.org!vospace/a?x=1",
        "vos://example.org!vospace/a%00b",
        "vos://example.org!vospace/.null/x",
        "vos://example.org!vospace/%ff",
    ):
        with pytest.raises(InvalidURI):
            URIS.path_of(bad)
    assert URIS.path_of("vos://example.org!vospace/a/.auto") == "a/.auto"
