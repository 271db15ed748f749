"""/docs works with no internet: every asset the page loads is served here."""

from __future__ import annotations

import re

from tests.integration.conftest import Site


def test_docs_page_loads_only_assets_this_server_serves(site: Site) -> None:
    page = site.http.get("/docs")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    urls += re.findall(r"""url: *["']([^"']+)["']""", page.text)
    assert urls, page.text
    assert not [u for u in urls if "://" in u or u.startswith("//")], urls
    assert "/openapi.json" in urls
    for url in urls:
        asset = site.http.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 100, url
    script = site.http.get(next(u for u in urls if u.endswith("swagger-ui-bundle.js")))
    assert "SwaggerUIBundle" in script.text
    assert site.http.get("/redoc").status_code == 404  # it would load from a CDN
