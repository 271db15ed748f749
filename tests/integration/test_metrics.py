"""``GET /metrics``: counters after real requests and commits, catalogue gauges read from
the database, the token, and counting shared by processes through the site's directory."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from librarian_client.models import API_PREFIX, TransferStatus
from librarian_server.orm import File, OutgoingTransfer, RemoteInstance, Store, utcnow
from tests.integration.conftest import Site
from tests.integration.helpers import upload

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def scrape(site: Site, **headers: str) -> Samples:
    r = site.http.get("/metrics", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return parse(r.text)


def test_an_upload_is_counted_under_route_templates_and_shows_in_the_store(site: Site) -> None:
    before = scrape(site)
    data = os.urandom(12_345)
    upload(site.http, site.auth(), "obs/run-7/secret-name.dat", data)
    assert site.http.get(f"{API_PREFIX}/files/obs/run-7/secret-name.dat", auth=site.auth())
    r = site.http.get("/metrics")
    after = parse(r.text)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("librarian_files_committed_total", via="upload") == 1
    assert delta("librarian_committed_bytes_total", via="upload") == len(data)
    commit = {"route": "/api/v2/upload/commit", "method": "POST"}
    assert delta("librarian_http_requests_total", **commit, status="200") == 1
    assert delta("librarian_http_request_duration_seconds_count", **commit) == 1
    put = {"route": "/api/v2/upload/{transfer_id}", "method": "PUT"}
    assert delta("librarian_http_requests_total", **put, status="200") == 1
    assert delta("librarian_http_request_body_bytes_total", **put) == len(data)
    assert delta("librarian_http_response_body_bytes_total", **put) > 0
    info = {"route": "/api/v2/files/{name:path}", "method": "GET", "status": "200"}
    assert delta("librarian_http_requests_total", **info) == 1
    # The scrape before counted itself once, under its own template.
    assert (
        value(after, "librarian_http_requests_total", route="/metrics", method="GET", status="200")
        >= 1
    )

    with site.session() as session:
        store = session.scalars(select(Store)).one()
    assert value(after, "librarian_store_used_bytes", store=store.name) == store.used_bytes
    assert store.used_bytes == len(data)
    assert value(after, "librarian_store_instances", store=store.name) == 1
    assert value(after, "librarian_audit_verified_instances", store=store.name) == 1  # at commit
    assert value(after, "librarian_store_free_bytes", store=store.name) > 0
    assert value(after, "librarian_catalogue_up") == 1
    # No file name, path or root is a label anywhere: only templates.
    assert "secret-name" not in r.text and "run-7" not in r.text
    assert store.root not in r.text and str(site.settings.data_dir) not in r.text


def test_refusals_and_unknown_paths_are_counted_without_their_paths(site: Site) -> None:
    before = scrape(site)
    assert site.http.get(f"{API_PREFIX}/files/no/such/thing").status_code == 401
    assert site.http.get("/nowhere/at/all").status_code == 404
    after = scrape(site)
    refused = {"route": "/api/v2/files/{name:path}", "method": "GET", "status": "401"}
    assert value(after, "librarian_http_requests_total", **refused) == (
        value(before, "librarian_http_requests_total", **refused) + 1
    )
    assert value(
        after, "librarian_http_requests_total", route="unmatched", method="GET", status="404"
    ) == (
        value(
            before, "librarian_http_requests_total", route="unmatched", method="GET", status="404"
        )
        + 1
    )
    routes = {dict(labels).get("route") for _, labels in after}
    assert not any(r and ("nowhere" in r or "no/such" in r) for r in routes)


def test_the_token_is_required_when_set(make_site: Callable[..., Site]) -> None:
    token = "scrape-me-" + "x" * 24
    site = make_site(metrics_token=token)
    missing = site.http.get("/metrics")
    assert missing.status_code == 401
    assert missing.json()["code"] == "authentication_required"
    assert "Bearer" in missing.headers["www-authenticate"]
    assert site.http.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    # An account's credentials are not the token (the guard leaves the header alone).
    assert site.http.get("/metrics", auth=site.auth("admin")).status_code == 401
    ok = site.http.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    assert "librarian_store_used_bytes" in ok.text and token not in ok.text


def test_open_without_a_token_and_absent_when_disabled(make_site: Callable[..., Site]) -> None:
    site = make_site()
    assert site.http.get("/metrics").status_code == 200
    assert site.http.get("/metrics", auth=site.auth("reader")).status_code == 200
    off = make_site(metrics_enabled=False, data_dir=site.settings.data_dir.parent / "off")
    assert off.http.get("/metrics").status_code == 404
    assert "/metrics" not in off.http.get("/openapi.json").json()["paths"]
    assert "/metrics" not in site.http.get("/openapi.json").json()["paths"]


def test_backlog_counts_unconfirmed_transfers_per_peer(site: Site) -> None:
    now = utcnow()
    with site.factory.begin() as session:
        for i, status in enumerate((TransferStatus.INITIATED, TransferStatus.ONGOING)):
            name = f"b/{i}.dat"
            session.add(File(name=name, size=100 + i, checksum="md5:0", uploader="w", source="x"))
            session.flush()
            session.add(
                OutgoingTransfer(
                    file_name=name,
                    destination="beta",
                    status=status,
                    size=100 + i,
                    checksum="md5:0",
                    created_time=now.replace(year=now.year - 1),
                )
            )
    samples = scrape(site)
    assert value(samples, "librarian_replication_backlog_files", peer="beta") == 2
    assert value(samples, "librarian_replication_backlog_bytes", peer="beta") == 201
    assert value(samples, "librarian_replication_oldest_unconfirmed_seconds", peer="beta") > 3e7
    assert value(samples, "librarian_send_queue_depth", peer="beta", status="ONGOING") == 1
    with site.factory.begin() as session:  # beta turns out to hold one already
        session.add(RemoteInstance(file_name="b/1.dat", site="beta", copy_time=now))
    samples = scrape(site)
    assert value(samples, "librarian_replication_backlog_files", peer="beta") == 1
    assert value(samples, "librarian_replication_backlog_bytes", peer="beta") == 100


_COUNT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from librarian_server.metrics import counters, registry
    registry.configure(Path(sys.argv[1]))
    counters.files_committed("upload.commit", [1] * int(sys.argv[2]))
    print(registry._claim.slot, flush=True)
    if sys.argv[3] == "stay":
        sys.stdin.read()
    """
)


def _counting(directory: Path, n: int, *, stay: bool) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _COUNT, str(directory), str(n), "stay" if stay else "go"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _total(directory: Path) -> float:
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    scrape = CollectorRegistry()
    MultiProcessCollector(scrape, path=str(directory))  # type: ignore[no-untyped-call]
    samples = parse(generate_latest(scrape).decode())
    return value(samples, "librarian_files_committed_total", via="upload")


def test_processes_share_the_directory_and_a_restart_neither_drops_nor_doubles(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "metrics"
    alive = _counting(directory, 3, stay=True)
    assert alive.stdout is not None and alive.stdout.readline().strip() == "slot0"
    second = _counting(directory, 2, stay=False)
    assert second.communicate(timeout=60)[0].strip() == "slot1"  # slot0 is held
    assert _total(directory) == 5
    # The next process takes the dead one's slot and counts on from its total.
    third = _counting(directory, 4, stay=False)
    assert third.communicate(timeout=60)[0].strip() == "slot1"
    assert _total(directory) == 9
    alive.kill()  # SIGKILL: the kernel drops its lock; its counts stay in the total
    alive.communicate(timeout=30)  # and closes its pipes
    assert _total(directory) == 9
    again = _counting(directory, 1, stay=False)
    assert again.communicate(timeout=60)[0].strip() == "slot0"
    assert _total(directory) == 10
    assert sorted(p.name for p in directory.glob("*.db")) == [
        "counter_slot0.db",
        "counter_slot1.db",
    ]
