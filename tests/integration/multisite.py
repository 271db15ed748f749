"""Three sites in one process: alpha, beta and gamma, each with its own catalogue and stores.

Each site is an in-process app (``make_site``: its own SQLite file or PostgreSQL
database, its own data directory). Their peer clients share one ``SiteRouter``, an
httpx transport that takes a call to ``http://beta`` to beta's app as the network
would, so replication, check-ins, reconciling and sneakernet run end to end with the
real code and no server process. Background tasks run when a test says so, through
the runner's own run-once API, so a test reads as a sequence of rounds.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from librarian_client.models import FileInfo, PermissionLevel, TaskRunResult
from librarian_server.background import Runner
from librarian_server.services.accounts.auth import create_user
from librarian_server.services.core.credentials import CredentialBox
from librarian_server.services.replication.peers import add_peer
from librarian_server.services.replication.proofs import PeerProver
from tests import pg
from tests.integration.conftest import Site


class SiteRouter(httpx.BaseTransport):
    """Takes a request for ``http://NAME`` to site NAME's app; an unknown host, or a
    request ``refuse`` picks, does not connect (as a network outage would)."""

    def __init__(self) -> None:
        self.apps: dict[str, httpx.BaseTransport] = {}
        self.refuse: Callable[[httpx.Request], bool] = lambda request: False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        app = self.apps.get(request.url.host)
        if app is None or self.refuse(request):
            raise httpx.ConnectError(f"no route to {request.url.host}", request=request)
        return app.handle_request(request)


@dataclass
class Sites:
    """The sites of one test, each started on first use (or by ``start``, to configure it)."""

    router: SiteRouter
    make: Callable[..., Site]
    started: dict[str, Site] = field(default_factory=dict)

    def start(self, name: str, **overrides: Any) -> Site:
        assert name not in self.started, f"{name} is already running"
        site = self.started[name] = self.make(name, **overrides)
        self.router.apps[name] = site.http._transport
        return site

    def get(self, name: str) -> Site:
        return self.started.get(name) or self.start(name)

    @property
    def alpha(self) -> Site:
        return self.get("alpha")

    @property
    def beta(self) -> Site:
        return self.get("beta")

    @property
    def gamma(self) -> Site:
        return self.get("gamma")

    def link(self, source: Site, dest: Site, **policy: Any) -> None:
        """``source`` may call ``dest`` (a peer account at ``dest``, a peer entry at
        ``source``), as an operator links two sites; ``policy`` as for ``add_peer``."""
        password = secrets.token_urlsafe(12)
        with dest.factory.begin() as session:
            create_user(session, source.settings.site_name, password, PermissionLevel.PEER)
        with source.factory.begin() as session:
            add_peer(
                session,
                name=dest.settings.site_name,
                url=f"http://{dest.settings.site_name}",
                username=source.settings.site_name,
                password=password,
                box=CredentialBox.for_settings(source.settings),
                settings=source.settings,
                **policy,
            )


def runner(site: Site) -> Runner:
    found: Runner = site.http.app.state.runner  # type: ignore[attr-defined]
    return found


def run(site: Site, *tasks: str) -> dict[str, dict[str, Any]]:
    """One round of the named tasks (default: every enabled one, ``run_once``) at ``site``;
    each must succeed. Returns each task's summary."""
    ran = runner(site)
    results: list[TaskRunResult] = (
        [ran.run_task(name) for name in tasks] if tasks else ran.run_once()
    )
    for result in results:
        assert result.ok, result
    return {r.name: r.summary for r in results}


def prover(sites: Sites, site: Site, **kwargs: Any) -> PeerProver:
    """``site``'s ``PeerProver``, which, between its polls, runs ``prove_copies`` at every
    other running site (as their own schedules would, only at once)."""

    def wait(seconds: float) -> None:
        for other in list(sites.started.values()):
            if other is not site:
                run(other, "prove_copies")

    kwargs.setdefault("wait", wait)
    return PeerProver(site.factory, runner(site).dialer, site.settings, **kwargs)


def info(site: Site, name: str) -> FileInfo:
    with site.client("reader") as client:
        return client.info(name)


def holders(site: Site, name: str) -> set[str]:
    """The other sites ``site`` knows to hold ``name``."""
    return {r.site for r in info(site, name).remote_instances}


def content(site: Site, name: str) -> bytes:
    response = site.http.get(f"/api/v2/download/{name}", auth=site.auth("reader"))
    assert response.status_code == 200, response.text
    return response.content


@pytest.fixture(name="sites")
def sites_fixture(
    make_site: Callable[..., Site], database_url: str | None, tmp_path: Path
) -> Iterator[Sites]:
    """alpha, beta and gamma, not yet linked (``sites.link``); on PostgreSQL, each its own
    database."""
    router = SiteRouter()
    with ExitStack() as stack:

        def make(name: str, **overrides: Any) -> Site:
            url = database_url
            if database_url is not None and name != "alpha":
                url = stack.enter_context(pg.temporary_database())
            return make_site(
                site_name=name,
                data_dir=tmp_path / name,
                database_url=url,
                peer_transport=router,
                **overrides,
            )

        yield Sites(router, make)
