"""Container listings: direct children only, one stable order, paging with limit and uri."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert

from librarian_server.orm import File, utcnow
from tests.integration.helpers import upload
from tests.integration.vospace.conftest import VO, children, uri


def _files(vo: VO, names: list[str]) -> None:
    """Catalogue rows straight into the database (listing needs rows, not bytes)."""
    now = utcnow()
    rows = [
        {
            "name": n,
            "size": 1,
            "checksum": "md5:" + "0" * 32,
            "uploader": "writer",
            "source": "test",
            "created_time": now,
        }
        for n in names
    ]
    with vo.site.factory.begin() as session:
        for start in range(0, len(rows), 5000):
            session.execute(insert(File), rows[start : start + 5000])


def _mixed(vo: VO) -> list[str]:
    _files(vo, ["p/a", "p/a.txt", "p/a0", "p/b/deep/x", "p/b/deep/y", "p/b/z", "p/c2/f"])
    _files(vo, ["p/dup", "p/dup/inner", "pp/neighbour", "p0"])
    vo.mkdir("p/c")
    vo.mkdir("p/c2/sub")
    assert vo.create("p/l", "LinkNode", target=uri("p/a")).status_code == 201
    # Key order: a child's path, '/' appended for containers ('.' < '/' < '0'): so
    # "a.txt" < container "a0"... and "b/" sorts after "a0".
    return ["a", "a.txt", "a0", "b", "c", "c2", "dup", "l"]


def test_direct_children_in_a_stable_order(vo: VO) -> None:
    expected = _mixed(vo)
    assert children(vo.node("p")) == expected
    assert children(vo.node("p")) == expected  # stable
    assert children(vo.node("p/b")) == ["deep", "z"]
    assert children(vo.node("p", limit=0)) == []
    assert "p" in children(vo.node("")) and "pp" in children(vo.node(""))


def test_paging_with_limit_and_uri_includes_the_start_child(vo: VO) -> None:
    expected = _mixed(vo)
    for size in (2, 3, 7, 100):  # limit=1 cannot move on: the start child is included
        seen = children(vo.node("p", limit=size))
        assert seen == expected[:size]
        while len(seen) < len(expected):
            page = children(vo.node("p", limit=size, uri=uri("p/" + seen[-1])))
            assert page[0] == seen[-1]  # the uri child comes first again
            if len(page) == 1:
                break
            seen += page[1:]
        assert seen == expected, size


def test_paging_edge_cases(vo: VO) -> None:
    expected = _mixed(vo)
    assert children(vo.node("p", limit=3, uri=uri("p/c"))) == ["c", "c2", "dup"]
    assert children(vo.node("p", uri=uri("p/l"))) == ["l"]
    # A child deleted between pages: the next page starts where it would have been.
    assert children(vo.node("p", limit=2, uri=uri("p/bb"))) == ["c", "c2"]
    assert children(vo.node("p", limit=50, uri=uri("p/zzz"))) == []
    r = vo.get("p", uri=uri("elsewhere/x"))
    assert r.status_code == 400 and r.text.startswith("InvalidURI")
    r = vo.get("p", uri=uri("p/b/deep"))
    assert r.status_code == 400 and r.text.startswith("InvalidURI")
    # A file shadows a container of the same name (only the Librarian API makes those).
    assert expected.count("dup") == 1
    assert children(vo.node("p/dup")) == []  # the DataNode has no children


def test_big_listing_crosses_batches_and_skips_deep_subtrees(vo: VO) -> None:
    flat = [f"big/f{i:05d}" for i in range(2500)]
    deep = [f"big/f01234x/sub/{i:05d}" for i in range(3000)]
    _files(vo, flat + deep)
    listed = children(vo.node("big"))
    assert len(listed) == 2501
    assert listed == sorted(listed, key=lambda n: n + "/" if n == "f01234x" else n)
    assert listed.index("f01234x") == 1235
    pages, start = [], None
    while True:
        params: dict[str, Any] = {"limit": 1000} | ({"uri": uri("big/" + start)} if start else {})
        page = children(vo.node("big", **params))
        pages += page if start is None else page[1:]
        if len(page) < 1000:
            break
        start = page[-1]
    assert pages == listed


def test_uploads_and_vospace_nodes_list_together(vo: VO) -> None:
    vo.mkdir("mix")
    upload(vo.http, vo.site.auth(), "mix/from-upload.txt", b"u")
    assert vo.push("mix/from-push.txt", b"p").status_code == 201
    assert children(vo.node("mix")) == ["from-push.txt", "from-upload.txt"]
