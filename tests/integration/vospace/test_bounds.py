"""Bounded UWS parameters, Range on the data endpoints, and 401 before a job body is read."""

from __future__ import annotations

from tests.integration.vospace.conftest import VO, reconfigured, transfer_xml, uri


def test_a_huge_last_is_a_400_fault_not_a_500(vo: VO) -> None:
    auth = vo.auth("writer")
    for value in (str(2**63), str(10**30), "0", "-3"):
        r = vo.http.get("/vospace/transfers", params={"LAST": value}, auth=auth)
        assert r.status_code == 400, (value, r.text)
        assert r.text.startswith("InvalidArgument"), r.text
    assert vo.http.get("/vospace/transfers", params={"LAST": "5"}, auth=auth).status_code == 200


def test_anonymous_posts_to_jobs_are_401_before_the_body_is_read(vo: VO) -> None:
    garbage = b"\xff" * 70_000  # too large a form, and not XML: looked at, it would be a 400
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for path in (
        "/vospace/transfers",
        "/vospace/synctrans",
        "/vospace/transfers/some-job",
        "/vospace/transfers/some-job/phase",
        "/vospace/transfers/some-job/executionduration",
        "/vospace/transfers/some-job/destruction",
    ):
        for headers in (form, {"Content-Type": "text/xml"}):
            r = vo.http.post(path, content=garbage, headers=headers)
            assert r.status_code == 401, (path, headers, r.status_code, r.text)
            assert r.text.startswith("PermissionDenied")
            assert "WWW-Authenticate" in r.headers


def test_anonymous_jobs_still_work_where_the_site_allows_anonymous_reads(vo: VO) -> None:
    vo.mkdir("pub")
    assert vo.push("pub/a.txt", b"public bytes").status_code == 201
    with reconfigured(vo, vospace_allow_anonymous_read=True) as http:
        doc = transfer_xml(uri("pub/a.txt"), "pullFromVoSpace")
        r = http.post(
            "/vospace/synctrans",
            content=doc,
            headers={"Content-Type": "text/xml"},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text


def test_vospace_downloads_state_the_size_on_416_and_ignore_other_units(vo: VO) -> None:
    vo.mkdir("d")
    data = b"0123456789"
    assert vo.push("d/f.bin", data).status_code == 201
    auth = vo.auth("writer")
    r = vo.http.get("/vospace/files/d/f.bin", headers={"Range": "bytes=10-"}, auth=auth)
    assert r.status_code == 416 and r.headers["Content-Range"] == "bytes */10"
    r = vo.http.get("/vospace/files/d/f.bin", headers={"Range": "pages=1-2"}, auth=auth)
    assert r.status_code == 200 and r.content == data
