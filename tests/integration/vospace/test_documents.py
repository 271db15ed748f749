"""Every kind of XML document the service emits validates against the IVOA schemas."""

from __future__ import annotations

from lxml import etree

from librarian_server.vospace.protocols import LOCAL_GET
from tests.integration.helpers import upload
from tests.integration.vospace.conftest import (
    CORE,
    NS,
    VO,
    children,
    local,
    node_xml,
    reconfigured,
    transfer_xml,
    uri,
    xsi_type,
)


def _tree(vo: VO) -> None:
    vo.mkdir("docs")
    vo.mkdir("docs/sub")
    upload(vo.http, vo.site.auth(), "docs/data.fits", b"0123456789")
    upload(vo.http, vo.site.auth(), "docs/implicit/deep/file.txt", b"x")
    r = vo.create("docs/link", "LinkNode", target=uri("docs/data.fits"))
    assert r.status_code == 201, r.text
    vo.validate(r.content)


def test_node_documents_of_every_type_and_detail(vo: VO) -> None:
    _tree(vo)
    for detail in ("max", "min", "properties"):
        root = vo.node("docs", detail=detail)
        assert xsi_type(root) == "vos:ContainerNode"
        if detail == "properties":
            assert children(root) == []
        else:
            kinds = {
                n.get("uri", "").rsplit("/", 1)[-1]: xsi_type(n)
                for n in root.findall("vos:nodes/vos:node", NS)
            }
            assert kinds == {
                "data.fits": "vos:DataNode",
                "implicit": "vos:ContainerNode",
                "link": "vos:LinkNode",
                "sub": "vos:ContainerNode",
            }
        data = vo.node("docs/data.fits", detail=detail)
        assert xsi_type(data) == "vos:DataNode"
        assert (data.find("vos:properties", NS) is None) == (detail == "min")
        link = vo.node("docs/link", detail=detail)
        assert link.findtext("vos:target", namespaces=NS) == uri("docs/data.fits")
    root = vo.node("")
    assert root.get("uri") == uri("") and "docs" in children(root)
    assert vo.node("docs/implicit/deep", limit=0) is not None


def test_write_responses_validate(vo: VO) -> None:
    _tree(vo)
    r = vo.create("docs/empty.txt", "DataNode")
    assert r.status_code == 201, r.text
    assert xsi_type(vo.validate(r.content)) == "vos:DataNode"
    r = vo.http.post(
        "/vospace/nodes/docs/data.fits",
        content=node_xml("docs/data.fits", "DataNode", props={CORE + "title": "A title"}),
        auth=vo.site.auth(),
    )
    assert r.status_code == 200, r.text
    vo.validate(r.content)


def test_transfer_and_uws_documents_validate(vo: VO) -> None:
    _tree(vo)
    details = vo.negotiate("docs/data.fits", "pullFromVoSpace", CORE + "httpget")
    vo.validate(details.content)
    job = vo.job_url(details)
    for suffix in ("", "/results", "/parameters"):
        r = vo.http.get(job + suffix, auth=vo.site.auth())
        assert r.status_code == 200, r.text
        vo.validate(r.content)
    failed = vo.negotiate("docs/nothing-here", "pullFromVoSpace", CORE + "httpget")
    assert vo.validate(failed.content).find("vos:protocol", NS) is None
    r = vo.http.get(vo.job_url(failed), auth=vo.site.auth())
    job_doc = vo.validate(r.content)
    assert job_doc.findtext("uws:phase", namespaces=NS) == "ERROR"
    assert job_doc.find("uws:errorSummary", NS) is not None
    r = vo.http.post(
        "/vospace/transfers",
        content=transfer_xml(uri("docs/sub"), uri("docs/moved"), keep_bytes=False),
        headers={"Content-Type": "text/xml"},
        auth=vo.site.auth(),
        follow_redirects=False,
    )
    assert r.status_code == 303
    pending = vo.validate(vo.http.get(local(r.headers["location"]), auth=vo.site.auth()).content)
    assert pending.findtext("uws:phase", namespaces=NS) == "PENDING"
    transfer = pending.find("uws:jobInfo/vos:transfer", NS)
    assert transfer is not None
    vo.validate(etree.tostring(transfer))
    listing = vo.validate(vo.http.get("/vospace/transfers", auth=vo.site.auth()).content)
    assert len(listing.findall("uws:jobref", NS)) == 3


def test_service_lists_validate(vo: VO) -> None:
    vo.mkdir("tagged", user="writer")
    vo.http.post(
        "/vospace/nodes/tagged",
        content=node_xml("tagged", props={"urn:example:colour": "blue"}),
        auth=vo.site.auth(),
    )
    for name in ("protocols", "views", "properties"):
        r = vo.http.get(f"/vospace/{name}")
        assert r.status_code == 200, r.text
        vo.validate(r.content)
    protocols = etree.fromstring(vo.http.get("/vospace/protocols").content)
    provided = {p.get("uri") for p in protocols.findall("vos:provides/vos:protocol", NS)}
    http = {CORE + s for s in ("httpget", "httpsget", "httpput", "httpsput")}
    assert provided == http | {LOCAL_GET}  # the local-copy manager: same filesystem
    props = etree.fromstring(vo.http.get("/vospace/properties").content)
    contains = {p.get("uri") for p in props.findall("vos:contains/vos:property", NS)}
    assert "urn:example:colour" in contains and CORE + "length" in contains


def test_capabilities_and_availability(vo: VO) -> None:
    closed = vo
    root = etree.fromstring(closed.http.get("/vospace/capabilities").content)
    assert root.nsmap["xsi"] == "http://www.w3.org/2001/XMLSchema-instance"
    caps = {c.get("standardID"): c for c in root.findall("capability")}
    for needed in (
        "ivo://ivoa.net/std/VOSI#capabilities",
        "ivo://ivoa.net/std/VOSI#availability",
        "ivo://ivoa.net/std/VOSpace/v2.0#nodes",
        "ivo://ivoa.net/std/VOSpace/v2.0#transfers",
        "ivo://ivoa.net/std/VOSpace#sync-2.1",
        "ivo://ivoa.net/std/VOSpace#files-proto",
    ):
        assert needed in caps
    nodes = caps["ivo://ivoa.net/std/VOSpace/v2.0#nodes"].findall("interface")
    methods = [i.find("securityMethod") for i in nodes]
    assert [m.get("standardID") for m in methods if m is not None] == [
        "ivo://ivoa.net/sso#token",
        "ivo://ivoa.net/sso#BasicAA",
    ]
    assert nodes[0].findtext("accessURL") == "http://testserver/vospace/nodes"
    with reconfigured(vo, vospace_allow_anonymous_read=True) as http:
        root = etree.fromstring(http.get("/vospace/capabilities").content)
    for cap in root.findall("capability"):
        first = cap.find("interface")
        assert first is not None and first.find("securityMethod") is None  # anonymous first
    avail = etree.fromstring(closed.http.get("/vospace/availability").content)
    assert avail.findtext("{http://www.ivoa.net/xml/VOSIAvailability/v1.0}available") == "true"
