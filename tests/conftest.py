"""Shared fixtures: settings on SQLite and on the real PostgreSQL, and a PG-ran check."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from librarian_server.services.accounts import passwords
from librarian_server.settings import ServerSettings, load_settings
from tests import pg, swift
from tests.swift import SwiftNode

_pg_passed = 0
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]

# Users made in this process hash at a test cost; live servers (e2e) keep the real one.
passwords.set_work_factor_for_tests(2**4)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None selects the embedded SQLite file; otherwise a fresh, empty PostgreSQL database."""
    if request.param == "sqlite":
        yield None
        return
    with pg.temporary_database() as url:
        yield url


@pytest.fixture
def make_settings(
    tmp_path: Path, database_url: str | None, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., ServerSettings]:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))  # upload resume state
    for var in ("LIBRARIAN_URL", "LIBRARIAN_USERNAME", "LIBRARIAN_PASSWORD", "LIBRARIAN_TOKEN"):
        monkeypatch.delenv(var, raising=False)

    def factory(**overrides: Any) -> ServerSettings:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "database_url": database_url,
            "write_client_config": False,
        }
        values.update(overrides)
        return load_settings(**values)

    return factory


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    global _pg_passed
    if report.when == "call" and report.passed and "postgres" in report.keywords:
        _pg_passed += 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With LIBRARIAN_REQUIRE_POSTGRES=1, a run in which no PostgreSQL test passed fails."""
    if pg.REQUIRED and session.testscollected and _pg_passed == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.write_line(f"PostgreSQL tests passed: {_pg_passed}")
    if pg.REQUIRED and _pg_passed == 0:
        terminalreporter.write_line(
            "ERROR: LIBRARIAN_REQUIRE_POSTGRES=1 but no PostgreSQL test passed", red=True
        )


@pytest.fixture(scope="session")
def swift_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwiftNode]:
    """One OpenStack Swift for the session (skipped where it is not installed, unless
    ``LIBRARIAN_REQUIRE_SWIFT=1``, as in CI)."""
    if not swift.installed():
        if os.environ.get("LIBRARIAN_REQUIRE_SWIFT") == "1":
            pytest.fail("Swift is not installed (apt-get install swift swift-proxy ...)")
        pytest.skip("OpenStack Swift is not installed; the object-store tests need it")
    node = SwiftNode(tmp_path_factory.mktemp("swift")).start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def swift_bucket(swift_node: SwiftNode) -> Iterator[str]:
    name = swift_node.make_bucket(f"t-{secrets.token_hex(6)}")
    yield name
    with contextlib.suppress(Exception):
        swift_node.empty_bucket(name)
