"""Who may read and write: anonymous reads per setting, writers, bearer tokens."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.integration.vospace.conftest import VO, children, node_xml, reconfigured


def test_anonymous_reads_follow_the_settings(vo: VO) -> None:
    vo.mkdir("pub")
    r = vo.get("pub", user=None)
    assert r.status_code == 401 and r.text.startswith("PermissionDenied")
    assert "Bearer" in r.headers["WWW-Authenticate"]
    assert vo.http.get("/vospace/capabilities").status_code == 200  # service metadata is open
    for settings in ({"vospace_allow_anonymous_read": True}, {"allow_anonymous_read": True}):
        with reconfigured(vo, **settings) as http:
            assert http.get("/vospace/nodes/pub").status_code == 200
            r = http.put("/vospace/nodes/pub/x", content=node_xml("pub/x"))
            assert r.status_code == 401 and r.text.startswith("PermissionDenied")
    with reconfigured(vo, allow_anonymous_read=True, vospace_allow_anonymous_read=False) as http:
        assert http.get("/vospace/nodes/pub").status_code == 401
        assert http.get("/vospace/transfers").status_code == 401
        assert http.post("/vospace/synctrans", content=b"<x/>").status_code == 401
    with reconfigured(vo, vospace_enabled=False) as http:
        assert http.get("/vospace/capabilities").status_code == 404
        assert http.get("/api/v2/ping").status_code == 200


def test_writes_need_read_append_and_tokens_work(vo: VO) -> None:
    r = vo.create("ro", user="reader")
    assert r.status_code == 403 and r.text.startswith("PermissionDenied")
    token = vo.http.post("/api/v2/tokens", json={}, auth=vo.site.auth()).json()["token"]
    bearer = {"Authorization": f"Bearer {token}", "X-CADC-DelegationToken": token}
    r = vo.http.put("/vospace/nodes/tok", content=node_xml("tok"), headers=bearer)
    assert r.status_code == 201, r.text
    r = vo.http.get("/vospace/nodes/tok", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401 and r.text.startswith("PermissionDenied")
    # Errors outside /vospace keep the API's JSON body.
    assert vo.http.get("/api/v2/files/none", auth=vo.site.auth()).json()["error"] == "NotFound"


def test_a_vospace_upload_is_an_ordinary_file_for_the_librarian_client(
    vo: VO, tmp_path: Path
) -> None:
    vo.mkdir("shared")
    data = b"written through VOSpace\n" * 50
    assert vo.push("shared/v.txt", data).status_code == 201
    client = vo.site.client("reader")
    (found,) = client.search(prefix="shared/")
    assert found.name == "shared/v.txt"
    assert found.checksum == "md5:" + hashlib.md5(data).hexdigest()  # noqa: S324
    client.download("shared/v.txt", tmp_path / "v.txt")
    assert (tmp_path / "v.txt").read_bytes() == data
    vo.site.client("writer").upload_many([(tmp_path / "v.txt", "shared/from-client.txt")])
    assert children(vo.node("shared")) == ["from-client.txt", "v.txt"]
