"""Push and pull through negotiated endpoints and the files endpoint, all via the pipeline."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from lxml import etree
from pydantic import SecretStr
from sqlalchemy import select

from librarian_server.orm import File, IncomingTransfer, utcnow
from librarian_server.services.vospace import jobs
from librarian_server.settings import GlobusSettings, GlobusStoreMapping
from librarian_server.vospace.protocols import GLOBUS_GET, LOCAL_GET
from tests.integration.helpers import md5, upload
from tests.integration.vospace.conftest import (
    CORE,
    NS,
    VO,
    local,
    md5_digest,
    props,
    reconfigured,
    transfer_xml,
    uri,
)

PUT, GET = CORE + "httpput", CORE + "httpget"


def _store_files(vo: VO) -> list[str]:
    root = vo.site.settings.store_dir
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and ".librarian" not in p.name
    )


def test_push_commits_a_file_and_answers_the_digest(vo: VO) -> None:
    vo.mkdir("in")
    data = os.urandom(300_000)
    details = vo.negotiate("in/a.bin", "pushToVoSpace", PUT)
    job = vo.job_url(details)
    assert vo.phase(job) == "EXECUTING"
    endpoint = vo.endpoint(details)
    r = vo.http.put(endpoint, content=data, headers={"digest": md5_digest(data)})
    assert r.status_code == 201, r.text
    assert r.headers["Digest"] == md5_digest(data)
    assert vo.phase(job) == "COMPLETED"
    with vo.site.session() as session:
        file = session.get(File, "in/a.bin")
        assert file is not None and (file.size, file.checksum) == (len(data), md5(data))
    again = vo.http.put(endpoint, content=data)
    assert again.status_code == 403 and again.text.startswith("PermissionDenied")  # spent


def test_a_failed_checksum_leaves_nothing_and_the_endpoint_can_be_retried(vo: VO) -> None:
    vo.mkdir("in")
    before = _store_files(vo)
    data = b"the real bytes" * 1000
    details = vo.negotiate("in/b.bin", "pushToVoSpace", PUT)
    endpoint = vo.endpoint(details)
    r = vo.http.put(endpoint, content=data, headers={"digest": md5_digest(b"other bytes")})
    assert r.status_code == 412 and r.text.startswith("InvalidData"), r.text
    with vo.site.session() as session:
        assert session.get(File, "in/b.bin") is None
        (transfer,) = session.scalars(
            select(IncomingTransfer).where(IncomingTransfer.name == "in/b.bin")
        )
        assert transfer.status == "FAILED"
    assert _store_files(vo) == before  # no bytes in staging or the store
    assert vo.phase(vo.job_url(details)) == "EXECUTING"
    r = vo.http.put(endpoint, content=data, headers={"digest": md5_digest(data)})
    assert r.status_code == 201  # as the vos client does after a mismatch
    assert vo.phase(vo.job_url(details)) == "COMPLETED"


def test_push_onto_existing_data(vo: VO) -> None:
    upload(vo.http, vo.site.auth(), "ex/full.txt", b"already here")
    details = vo.negotiate("ex/full.txt", "pushToVoSpace", PUT)
    job = vo.job_url(details)
    assert vo.phase(job) == "ERROR"
    assert vo.http.get(job + "/error", auth=vo.site.auth()).text == "DuplicateNode"
    assert vo.validate(details.content).find("vos:protocol", NS) is None
    # An empty DataNode (createNode) is filled by a push, keeping its properties.
    r = vo.create("ex/later.txt", "DataNode", props={CORE + "description": "waiting"})
    assert r.status_code == 201
    assert vo.push("ex/later.txt", b"now with data").status_code == 201
    values = props(vo.node("ex/later.txt"))
    assert (values["length"], values["description"]) == ("13", "waiting")


def test_push_to_auto_and_null(vo: VO) -> None:
    vo.mkdir("gen")
    details = vo.negotiate("gen/.auto", "pushToVoSpace", PUT)
    assert vo.http.put(vo.endpoint(details), content=b"auto").status_code == 201
    job = vo.validate(vo.http.get(vo.job_url(details), auth=vo.site.auth()).content)
    results = {
        r.get("id"): r.get("{http://www.w3.org/1999/xlink}href")
        for r in job.findall("uws:results/uws:result", NS)
    }
    target = results["target"]
    assert target is not None and target.startswith(uri("gen/")) and "transferDetails" in results
    name = target.removeprefix(uri(""))
    with vo.site.session() as session:
        assert session.get(File, name) is not None
    before = _store_files(vo)
    r = vo.push("gen/.null", b"into the bit bucket")
    assert r.status_code == 200 and r.headers["Digest"] == md5_digest(b"into the bit bucket")
    assert _store_files(vo) == before


def test_pull_with_ranges_and_parameter_mode(vo: VO) -> None:
    data = os.urandom(100_000)
    upload(vo.http, vo.site.auth(), "out/x.bin", data)
    details = vo.negotiate("out/x.bin", "pullFromVoSpace", GET, user="reader")
    endpoint = vo.endpoint(details)
    part = vo.http.get(endpoint, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == data[10:20]
    assert vo.phase(vo.job_url(details), "reader") == "EXECUTING"
    whole = vo.http.get(endpoint)
    assert whole.content == data and whole.headers["Digest"] == md5_digest(data)
    assert "x.bin" in whole.headers["Content-Disposition"]
    assert vo.phase(vo.job_url(details), "reader") == "COMPLETED"
    params = {"TARGET": uri("out/x.bin"), "DIRECTION": "pullFromVoSpace", "PROTOCOL": GET}
    r = vo.http.get("/vospace/synctrans", params=params, auth=vo.site.auth("reader"))
    assert r.status_code == 200
    assert vo.validate(r.content).findtext("vos:protocol/vos:endpoint", namespaces=NS)
    r = vo.http.get(
        "/vospace/synctrans",
        params=params | {"REQUEST": "redirect"},
        auth=vo.site.auth("reader"),
        follow_redirects=False,
    )
    assert r.status_code == 303 and vo.http.get(local(r.headers["location"])).content == data
    missing = params | {"TARGET": uri("out/none")}
    r = vo.http.get("/vospace/synctrans", params=missing, auth=vo.site.auth("reader"))
    assert r.status_code == 404 and r.text.startswith("NodeNotFound")


def test_protocol_and_security_negotiation(vo: VO) -> None:
    upload(vo.http, vo.site.auth(), "neg/f", b"f")

    def details(
        protocols: list[str], security: list[str] | None = None
    ) -> tuple[etree._Element, httpx.Response]:
        r = vo.http.post(
            "/vospace/synctrans",
            content=transfer_xml(uri("neg/f"), "pullFromVoSpace", protocols, security=security),
            auth=vo.site.auth(),
            follow_redirects=True,
        )
        return vo.validate(r.content), r

    root, r = details(["ivo://example.org/protocols#carrier-pigeon"])
    assert root.find("vos:protocol", NS) is None
    assert vo.http.get(vo.job_url(r) + "/error", auth=vo.site.auth()).text == "ProtocolNotSupported"
    token = "vos://cadc.nrc.ca~vospace/CADC/std/Auth#token-1.0"
    root, _ = details([CORE + "httpsget", "urn:unknown", GET], security=[token])
    offered = root.findall("vos:protocol", NS)
    assert [p.get("uri") for p in offered] == [CORE + "httpsget", GET]
    assert [s.get("uri") for s in offered[0].findall("vos:securityMethod", NS)] == [token]
    root, _ = details([GET], security=["ivo://ivoa.net/sso#tls-with-certificate"])
    assert root.find("vos:protocol", NS) is None  # only a method we cannot honour was asked


def test_endpoints_expire_with_their_jobs(vo: VO) -> None:
    vo.mkdir("exp")
    details = vo.negotiate("exp/late.bin", "pushToVoSpace", PUT)
    jobs.housekeeping(vo.site.factory, now=utcnow() + timedelta(hours=2))
    assert vo.phase(vo.job_url(details)) == "ABORTED"
    r = vo.http.put(vo.endpoint(details), content=b"too late")
    assert r.status_code == 403 and r.text.startswith("PermissionDenied")
    jobs.housekeeping(vo.site.factory, now=utcnow() + timedelta(days=8))
    assert vo.http.get(vo.job_url(details), auth=vo.site.auth()).status_code == 404


def test_files_endpoint_get_head_put(vo: VO) -> None:
    vo.mkdir("files")
    data = os.urandom(5000)
    r = vo.http.put(
        "/vospace/files/files/new.bin",
        content=data,
        headers={"digest": md5_digest(data)},
        auth=vo.site.auth(),
    )
    assert r.status_code == 201 and r.headers["Digest"] == md5_digest(data)
    same = vo.http.put(
        "/vospace/files/files/new.bin",
        content=data,
        headers={"digest": md5_digest(data)},
        auth=vo.site.auth(),
    )
    assert same.status_code == 200  # the same bytes again: nothing to do
    other = vo.http.put("/vospace/files/files/new.bin", content=b"different", auth=vo.site.auth())
    assert other.status_code == 409 and other.text.startswith("DuplicateNode")
    head = vo.http.head("/vospace/files/files/new.bin", auth=vo.site.auth("reader"))
    assert head.headers["Content-Length"] == "5000" and head.content == b""
    r = vo.http.get(
        "/vospace/files/files/new.bin", headers={"Range": "bytes=-10"}, auth=vo.site.auth("reader")
    )
    assert r.status_code == 206 and r.content == data[-10:]
    r = vo.http.put("/vospace/files/nowhere/x", content=b"x", auth=vo.site.auth())
    assert r.status_code == 404 and r.text.startswith("ContainerNotFound")
    r = vo.http.put("/vospace/files/files/x", content=b"x", auth=vo.site.auth("reader"))
    assert r.status_code == 403 and r.text.startswith("PermissionDenied")
    r = vo.http.put("/vospace/files/files/.null", content=b"gone", auth=vo.site.auth())
    assert r.status_code == 200 and r.headers["Digest"] == md5_digest(b"gone")
    r = vo.http.put("/vospace/files/files/.auto", content=b"named for me", auth=vo.site.auth())
    assert r.status_code == 201
    with vo.site.session() as session:
        made = session.scalars(select(File.name).where(File.name.like("files/%"))).all()
    assert len(made) == 2 and "files/new.bin" in made and "files/.auto" not in made
    r = vo.http.get("/vospace/files/files", auth=vo.site.auth())
    assert r.status_code == 400 and r.text.startswith("InvalidArgument")


def test_put_transaction_start_without_bytes_is_declined_politely(vo: VO) -> None:
    vo.mkdir("txn")
    details = vo.negotiate("txn/huge.bin", "pushToVoSpace", PUT)
    endpoint = vo.endpoint(details)
    r = vo.http.put(
        endpoint, content=b"", headers={"x-put-txn-op": "start", "x-total-length": "10"}
    )
    assert r.status_code == 200 and "x-put-txn-id" not in r.headers
    r = vo.http.put(endpoint, content=b"0123456789", headers={"x-put-txn-op": "start"})
    assert r.status_code == 201 and r.headers["Digest"] == md5_digest(b"0123456789")
    r = vo.http.put(endpoint, content=b"x", headers={"x-put-txn-id": "abc"})
    assert r.status_code == 403  # spent anyway


def _pull_endpoint(vo: VO, http: httpx.Client, path: str, protocol: str) -> tuple[str | None, str]:
    """Negotiate a pull with ``protocol``; the endpoint offered (or None) and the job's error."""
    r = http.post(
        "/vospace/synctrans",
        content=transfer_xml(uri(path), "pullFromVoSpace", [protocol]),
        auth=vo.site.auth("reader"),
        follow_redirects=True,
    )
    root = vo.validate(r.content)
    endpoint = root.findtext("vos:protocol/vos:endpoint", namespaces=NS)
    job = local(str(r.url)).removesuffix("/results/transferDetails")
    error = http.get(job + "/error", auth=vo.site.auth("reader")).text
    return endpoint, error


def test_transfer_managers_are_offered_as_pull_protocols(vo: VO) -> None:
    data = os.urandom(5000)
    upload(vo.http, vo.site.auth(), "tm/x.bin", data)
    # Local copy: the file itself, for a client on the store's filesystem.
    endpoint, _ = _pull_endpoint(vo, vo.http, "tm/x.bin", LOCAL_GET)
    assert endpoint is not None and endpoint.startswith("file:///")
    assert Path(urlsplit(endpoint).path).read_bytes() == data
    with reconfigured(vo, offer_local_paths=False) as http:
        endpoint, error = _pull_endpoint(vo, http, "tm/x.bin", LOCAL_GET)
        assert endpoint is None and error == "ProtocolNotSupported"
    # Globus: the copy's path on this site's collection, through the store's mapping.
    globus = GlobusSettings(
        enabled=True,
        endpoint_id="6c5a5c7e-1b8e-4f0e-9b1a-0a3f2e6d9c11",
        client_id="librarian-site",
        client_secret=SecretStr("not-used-offline"),
        stores=[GlobusStoreMapping(store="local", path="/~/librarian/")],
    )
    with reconfigured(vo, globus=globus) as http:
        offered = etree.fromstring(http.get("/vospace/protocols").content)
        provided = {p.get("uri") for p in offered.findall("vos:provides/vos:protocol", NS)}
        assert {GLOBUS_GET, LOCAL_GET} <= provided
        endpoint, _ = _pull_endpoint(vo, http, "tm/x.bin", GLOBUS_GET)
        with vo.site.session() as session:
            (instance,) = session.get(File, "tm/x.bin").instances  # type: ignore[union-attr]
        assert endpoint == (
            "globus://6c5a5c7e-1b8e-4f0e-9b1a-0a3f2e6d9c11/~/librarian/files/" + instance.path
        )
        # Pushes stay on HTTP: nothing could tell the service when a Globus write is done.
        r = http.post(
            "/vospace/synctrans",
            content=transfer_xml(uri("tm/y.bin"), "pushToVoSpace", [GLOBUS_GET]),
            auth=vo.site.auth(),
            follow_redirects=True,
        )
        assert vo.validate(r.content).find("vos:protocol", NS) is None
