"""The name rule through VOSpace: node URLs and URIs, createNode, push, move targets."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

from sqlalchemy import select

from librarian_server.orm import File
from tests.integration.helpers import upload
from tests.integration.vospace.conftest import CORE, VO, local, node_xml, transfer_xml, uri
from tests.integration.vospace.test_nodes import fault

NFC = "v/caf\u00e9.txt"
NFD = unicodedata.normalize("NFD", NFC)


def _names(vo: VO) -> list[str]:
    with vo.site.session() as session:
        return list(session.scalars(select(File.name).order_by(File.name)))


def test_a_node_is_found_by_either_spelling(vo: VO) -> None:
    vo.mkdir("v")
    upload(vo.http, vo.site.auth(), NFD, b"bytes")
    assert _names(vo) == [NFC]
    for spelling in (NFC, NFD):
        root = vo.node(spelling)
        assert root.get("uri", "").endswith("caf\u00e9.txt")
        r = vo.http.get(f"/vospace/files/{spelling}", auth=vo.site.auth())
        assert r.status_code == 200 and r.content == b"bytes"


def test_push_to_an_nfd_uri_stores_the_nfc_name(vo: VO) -> None:
    vo.mkdir("v")
    r = vo.push(NFD, b"pushed")
    assert r.status_code in (200, 201), r.text
    assert _names(vo) == [NFC]
    assert vo.http.get(f"/vospace/files/{NFC}", auth=vo.site.auth()).content == b"pushed"


def test_create_node_in_nfd_is_the_nfc_container(vo: VO) -> None:
    vo.mkdir("v")
    r = vo.http.put(
        f"/vospace/nodes/{NFD}",
        content=node_xml(NFD),
        headers={"Content-Type": "text/xml"},
        auth=vo.site.auth(),
    )
    assert r.status_code == 201, r.text
    assert vo.node(NFC) is not None
    r = vo.create(NFC)
    assert r.status_code == 409, r.text  # DuplicateNode: one name


def test_confusable_node_names_are_invalid_uris(vo: VO) -> None:
    vo.mkdir("v")
    for bad in ("v/ ", "v/a\u2215b", "v/\u2024\u2024", "v/\uff0e\uff0e", "v/x\u202e", "v/ x"):
        fault(vo.create(bad), 400, "InvalidURI")
        fault(vo.get(bad), 400, "InvalidURI")
        push = transfer_xml(uri(quote(bad)), "pushToVoSpace", [CORE + "httpput"])
        r = vo.http.post(
            "/vospace/synctrans",
            content=push,
            headers={"Content-Type": "text/xml"},
            auth=vo.site.auth(),
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text  # XML mode: the job holds the fault
        job = local(r.headers["location"]).removesuffix("/results/transferDetails")
        assert vo.phase(job) == "ERROR", bad
        assert vo.http.get(f"{job}/error", auth=vo.site.auth()).text == "InvalidURI", bad
    assert _names(vo) == []


def test_a_move_to_a_confusable_name_is_refused_and_to_nfd_lands_nfc(vo: VO) -> None:
    vo.mkdir("v")
    upload(vo.http, vo.site.auth(), "v/src.txt", b"s")
    r = vo.http.post(
        "/vospace/transfers?PHASE=RUN",
        content=transfer_xml(uri("v/src.txt"), uri("v/a\uff0fb"), keep_bytes=False),
        headers={"Content-Type": "text/xml"},
        auth=vo.site.auth(),
        follow_redirects=False,
    )
    if r.status_code == 303:  # refused when the job runs, as the standard's fault
        job = local(r.headers["location"])
        assert vo.phase(job) == "ERROR"
        assert vo.http.get(f"{job}/error", auth=vo.site.auth()).text == "InvalidURI"
    else:
        assert r.status_code == 400 and r.text.startswith("InvalidURI"), r.text
    assert _names(vo) == ["v/src.txt"]
    r = vo.http.post(
        "/vospace/transfers?PHASE=RUN",
        content=transfer_xml(uri("v/src.txt"), uri(NFD), keep_bytes=False),
        headers={"Content-Type": "text/xml"},
        auth=vo.site.auth(),
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert vo.phase(local(r.headers["location"])) == "COMPLETED"
    assert _names(vo) == [NFC]
