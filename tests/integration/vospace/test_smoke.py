from .conftest import CORE, VO, children


def test_smoke(vo: VO) -> None:
    vo.mkdir("obs")
    vo.mkdir("obs/2026")
    r = vo.push("obs/2026/a.fits", b"hello world")
    assert r.status_code in (200, 201), r.text
    root = vo.node("obs/2026")
    assert children(root) == ["a.fits"]
    r = vo.http.get("/vospace/files/obs/2026/a.fits", auth=vo.site.auth("reader"))
    assert r.content == b"hello world", r.text
    assert CORE
