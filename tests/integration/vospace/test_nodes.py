"""Nodes over the catalogue: create, read, set properties, delete; the standard's faults."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from librarian_server.orm import File, Instance
from tests.integration.helpers import md5, upload
from tests.integration.vospace.conftest import (
    CORE,
    NS,
    VO,
    children,
    node_xml,
    props,
    uri,
    xsi_type,
)


def fault(response: httpx.Response, status: int, name: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text.split()[0] == name, response.text


def test_librarian_uploads_are_data_nodes_with_catalogue_properties(vo: VO) -> None:
    upload(vo.http, vo.site.auth(), "obs/run1/D_000.fits", b"abc" * 100)
    root = vo.node("obs/run1/D_000.fits")
    assert xsi_type(root) == "vos:DataNode"
    values = props(root)
    assert values["length"] == "300"
    assert values["MD5"] == md5(b"abc" * 100).removeprefix("md5:")
    assert values["type"] == "image/fits" and values["creator"] == "writer"
    assert len(values["date"]) == 23 and values["date"][10] == "T"  # what vls -l parses
    read_only = {
        p.get("uri"): p.get("readOnly") for p in root.findall("vos:properties/vos:property", NS)
    }
    assert read_only[CORE + "length"] == "true" and read_only[CORE + "type"] == "false"
    assert children(vo.node("obs")) == ["run1"]  # a prefix is a container


def test_create_container_link_and_empty_data_node(vo: VO) -> None:
    vo.mkdir("a")
    r = vo.create("a/empty.dat", "DataNode", props={CORE + "description": "to be filled"})
    assert r.status_code == 201, r.text
    assert props(vo.validate(r.content))["description"] == "to be filled"
    with vo.site.session() as session:
        empty = session.get(File, "a/empty.dat")
        assert empty is not None and empty.size == 0 and empty.checksum == md5(b"")
    r = vo.create("a/l", "LinkNode", target="https://example.org/elsewhere")
    assert r.status_code == 201
    assert vo.node("a/l").findtext("vos:target", namespaces=NS) == "https://example.org/elsewhere"
    assert children(vo.node("a")) == ["empty.dat", "l"]
    r = vo.create("a/ümlaut", "ContainerNode")
    assert r.status_code == 201 and r.headers["Location"].endswith("/nodes/a/%C3%BCmlaut")
    r = vo.create("a/ro.dat", "DataNode", props={CORE + "date": "2020-01-01T00:00:00.000"})
    assert r.status_code == 403 and r.text.startswith("PermissionDenied")
    fault(vo.get("a/ro.dat"), 404, "NodeNotFound")  # refused before anything was written
    assert children(vo.node("a")) == ["empty.dat", "l", "ümlaut"]
    r = vo.create("a/.auto", "ContainerNode")
    assert r.status_code == 201
    generated = vo.validate(r.content).get("uri", "")
    assert generated.startswith(uri("a/")) and not generated.endswith(".auto")


def test_create_faults(vo: VO) -> None:
    vo.mkdir("x")
    fault(vo.create("x"), 409, "DuplicateNode")
    fault(vo.create("nope/child"), 404, "ContainerNotFound")
    vo.create("x/link", "LinkNode", target=uri("x"))
    fault(vo.create("x/link/child"), 400, "LinkFound")
    upload(vo.http, vo.site.auth(), "x/file", b"1")
    fault(vo.create("x/file/child"), 404, "ContainerNotFound")
    fault(vo.create("x/u", "UnstructuredDataNode"), 400, "TypeNotSupported")
    fault(vo.create("x/s", "StructuredDataNode"), 400, "TypeNotSupported")
    wrong = vo.http.put(
        "/vospace/nodes/x/y",
        content=node_xml("x/z"),
        headers={"Content-Type": "text/xml"},
        auth=vo.site.auth(),
    )
    fault(wrong, 400, "InvalidURI")
    other = vo.http.put(
        "/vospace/nodes/x/y",
        content=node_xml("x/y", authority="elsewhere.org!vospace"),
        auth=vo.site.auth(),
    )
    fault(other, 400, "InvalidURI")
    bad_xml = vo.http.put("/vospace/nodes/x/y", content=b"<vos:node", auth=vo.site.auth())
    fault(bad_xml, 400, "InvalidArgument")
    unknown = node_xml("x/y").replace('xsi:type="vos:ContainerNode"', 'xsi:type="vos:Folder"')
    fault(
        vo.http.put("/vospace/nodes/x/y", content=unknown, auth=vo.site.auth()),
        400,
        "TypeNotSupported",
    )
    entity = (
        '<?xml version="1.0"?><!DOCTYPE n [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        + node_xml("x/y").replace("<vos:properties>", "<vos:properties>&e;")
    )
    fault(
        vo.http.put("/vospace/nodes/x/y", content=entity, auth=vo.site.auth()),
        400,
        "InvalidArgument",
    )
    fault(vo.create("x/../etc"), 400, "InvalidURI")
    fault(vo.get("x/missing"), 404, "NodeNotFound")
    fault(vo.get("x", detail="everything"), 400, "InvalidArgument")
    fault(vo.get("x", limit="-1"), 400, "InvalidArgument")


def test_tilde_and_bang_authorities_and_encoded_names(vo: VO) -> None:
    vo.mkdir("enc")
    tilde = node_xml("enc/t", authority="example.org~vospace")
    assert (
        vo.http.put("/vospace/nodes/enc/t", content=tilde, auth=vo.site.auth()).status_code == 201
    )
    upload(vo.http, vo.site.auth(), "enc/space and ümlaut#1.txt", b"odd")
    names = [n.get("uri") for n in vo.node("enc").findall("vos:nodes/vos:node", NS)]
    assert uri("enc/space%20and%20ümlaut%231.txt") in names
    assert uri("enc/t") in names  # the service always answers with '!'
    r = vo.http.get("/vospace/files/enc/space and ümlaut%231.txt", auth=vo.site.auth())
    assert r.content == b"odd"


def test_set_properties_union_blank_and_nil(vo: VO) -> None:
    upload(vo.http, vo.site.auth(), "p/f.txt", b"hello")

    def post(values: dict[str, str | None], user: str = "writer") -> httpx.Response:
        return vo.http.post(
            "/vospace/nodes/p/f.txt",
            content=node_xml("p/f.txt", "DataNode", props=values),
            auth=vo.site.auth(user),
        )

    assert post({CORE + "title": "T", "urn:x:a": "1"}).status_code == 200
    r = post({"urn:x:b": "2", CORE + "title": ""})
    assert r.status_code == 200
    values = props(vo.validate(r.content))
    assert (values["title"], values["urn:x:a"], values["urn:x:b"]) == ("", "1", "2")
    values = props(
        vo.validate(post({"urn:x:a": None, CORE + "type": "application/x-special"}).content)
    )
    assert "urn:x:a" not in values and values["type"] == "application/x-special"
    # The catalogue's own properties are read-only; sending them back unchanged is fine.
    fault(post({CORE + "length": "999"}), 403, "PermissionDenied")
    fault(post({CORE + "MD5": None}), 403, "PermissionDenied")
    assert post({CORE + "length": "5"}).status_code == 200
    fault(post({"urn:x:c": "3"}, user="reader"), 403, "PermissionDenied")
    assert post({"urn:x:c": "3"}, user="admin").status_code == 200  # admins may
    missing = vo.http.post(
        "/vospace/nodes/p/none", content=node_xml("p/none", "DataNode"), auth=vo.site.auth()
    )
    fault(missing, 404, "NodeNotFound")


def test_delete_data_node_removes_file_and_bytes(vo: VO) -> None:
    upload(vo.http, vo.site.auth(), "d/one.bin", b"bytes")
    with vo.site.session() as session:
        (instance,) = session.scalars(select(Instance).where(Instance.file_name == "d/one.bin"))
        stored = vo.site.settings.store_dir / "files" / instance.path
    assert stored.exists()
    r = vo.http.delete("/vospace/nodes/d/one.bin", auth=vo.site.auth())
    assert r.status_code == 204, r.text
    assert not stored.exists()
    with vo.site.session() as session:
        assert session.get(File, "d/one.bin") is None
    fault(vo.get("d"), 404, "NodeNotFound")  # the implicit container went with its last file


def test_delete_container_is_recursive(vo: VO) -> None:
    vo.mkdir("tree")
    vo.mkdir("tree/empty")
    upload(vo.http, vo.site.auth(), "tree/a/b/c.txt", b"c")
    upload(vo.http, vo.site.auth(), "tree2/keep.txt", b"k")
    vo.create("tree/link", "LinkNode", target=uri("tree2/keep.txt"))
    assert vo.http.delete("/vospace/nodes/tree", auth=vo.site.auth()).status_code == 204
    for path in ("tree", "tree/empty", "tree/a/b/c.txt", "tree/link"):
        fault(vo.get(path), 404, "NodeNotFound")
    assert children(vo.node("tree2")) == ["keep.txt"]  # a neighbour sharing the prefix text
    fault(vo.http.delete("/vospace/nodes/tree", auth=vo.site.auth()), 404, "NodeNotFound")
    fault(vo.http.delete("/vospace/nodes/", auth=vo.site.auth("admin")), 403, "PermissionDenied")


def test_a_subtree_with_an_upload_in_flight_is_busy(vo: VO) -> None:
    vo.mkdir("busy")
    staged = vo.http.post(
        "/api/v2/upload/stage",
        json={"files": [{"name": "busy/arriving.bin", "size": 5}]},
        auth=vo.site.auth(),
    )
    assert staged.status_code == 200
    fault(vo.http.delete("/vospace/nodes/busy", auth=vo.site.auth()), 409, "NodeBusy")
    transfer = staged.json()["transfers"][0]["transfer_id"]
    vo.http.post("/api/v2/upload/cancel", json={"transfer_ids": [transfer]}, auth=vo.site.auth())
    assert vo.http.delete("/vospace/nodes/busy", auth=vo.site.auth()).status_code == 204


def test_only_owners_and_admins_change_what_exists(vo: VO) -> None:
    upload(vo.http, vo.site.auth("admin"), "owned/by-admin.txt", b"a")
    vo.mkdir("owned/mine")
    fault(vo.http.delete("/vospace/nodes/owned", auth=vo.site.auth()), 403, "PermissionDenied")
    fault(
        vo.http.delete("/vospace/nodes/owned/by-admin.txt", auth=vo.site.auth()),
        403,
        "PermissionDenied",
    )
    assert vo.http.delete("/vospace/nodes/owned/mine", auth=vo.site.auth()).status_code == 204
    assert vo.http.delete("/vospace/nodes/owned", auth=vo.site.auth("admin")).status_code == 204
