"""The default store's bucket directories: made up front, or each at its first commit."""

from __future__ import annotations

from collections.abc import Callable

from tests.integration.conftest import Site
from tests.integration.helpers import upload


def buckets(site: Site) -> list[str]:
    files = site.settings.store_dir / "files"
    return sorted(p.name for p in files.iterdir() if p.is_dir()) if files.exists() else []


def test_up_front_makes_every_bucket_when_the_store_is_created(
    make_site: Callable[..., Site],
) -> None:
    site = make_site(default_store_buckets="up-front")
    made = buckets(site)
    assert len(made) == 4096
    assert made[0] == "000" and made[-1] == "fff"


def test_on_first_use_makes_only_the_buckets_commits_need(make_site: Callable[..., Site]) -> None:
    site = make_site(default_store_buckets="on-first-use")
    assert buckets(site) == []
    for i in range(3):
        upload(site.http, site.auth(), f"lazy/f{i}.dat", b"x" * (i + 1))
    made = buckets(site)
    assert 1 <= len(made) <= 3
    for i in range(3):
        r = site.http.get(f"/api/v2/download/lazy/f{i}.dat", auth=site.auth())
        assert r.status_code == 200 and r.content == b"x" * (i + 1)
