"""Schemathesis over the live server's OpenAPI document: no 5xx, every answer as documented.

A real ``librarian-server run`` process on each backend is fuzzed from its own
``/openapi.json`` twice: as the admin (every operation reachable) and anonymously
(every operation must refuse cleanly, as documented). The checks are the ones that
make the document trustworthy for generated clients: no server error, only documented
status codes, content types, headers and response bodies.

The number of examples is bounded so CI stays fast; set LIBRARIAN_FUZZ_EXAMPLES and
LIBRARIAN_FUZZ_SEED to fuzz longer or elsewhere (the seed is printed on failure).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.conftest import VENV_BIN, LiveServer

pytestmark = pytest.mark.e2e

CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    )
)
EXAMPLES = int(os.environ.get("LIBRARIAN_FUZZ_EXAMPLES", "6"))
SEED = os.environ.get("LIBRARIAN_FUZZ_SEED", "20261202")
TIMEOUT = 240


def _schemathesis() -> list[str]:
    found = shutil.which("schemathesis", path=str(VENV_BIN))
    if found is None:
        pytest.fail("schemathesis is not installed: pip install -e '.[test]'")
    return [found]


def _fuzz(
    server: LiveServer, report: Path, examples: int, *extra: str
) -> subprocess.CompletedProcess[str]:
    # 507 is no server error but the documented "no store has room": a fuzzed size may
    # exceed the disk. Every other 5xx fails the run.
    config = report.with_suffix(".toml")
    config.write_text(
        '[checks.not_a_server_error]\nexpected-statuses = ["2xx", "3xx", "4xx", "507"]\n'
    )
    command = [
        *_schemathesis(),
        "--config-file",
        str(config),
        "run",
        f"{server.url}/openapi.json",
        "--checks",
        CHECKS,
        "--max-examples",
        str(examples),
        "--seed",
        SEED,
        "--workers",
        "2",
        "--request-timeout",
        "30",
        "--no-color",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
        *extra,
    ]
    env = {**server.env, "SCHEMATHESIS_HOOKS": ""}
    return subprocess.run(
        command,
        env=env,
        cwd=report.parent,  # its cache directory goes there, not into the checkout
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


@pytest.fixture(scope="module")
def fuzzed_server(
    start_server: Callable[..., LiveServer],
    database_url: str | None,
    tmp_path_factory: pytest.TempPathFactory,
) -> LiveServer:
    disks = tmp_path_factory.mktemp("disks")
    env = {
        # Sneakernet paths the fuzzer names must stay inside a scratch directory.
        "LIBRARIAN_SERVER_SNEAKERNET__ROOTS": f'["{disks}"]',
        "LIBRARIAN_SERVER_VOSPACE_ENABLED": "true",
        # A fuzzed GET /events?wait=60 would otherwise outlast the request timeout.
        "LIBRARIAN_SERVER_EVENTS_MAX_WAIT_SECONDS": "0.5",
    }
    return start_server(database_url, env=env)


def _assert_clean(done: subprocess.CompletedProcess[str], server: LiveServer, who: str) -> None:
    assert done.returncode == 0, (
        f"schemathesis ({who}) found problems (seed {SEED}):\n{done.stdout[-12000:]}\n"
        f"{done.stderr[-2000:]}\nserver log: {server.log_path}"
    )
    assert "Traceback" not in server.log_text(), f"the server logged an error: {server.log_path}"


def test_the_admin_gets_only_documented_answers(fuzzed_server: LiveServer, tmp_path: Path) -> None:
    password = fuzzed_server.password_file("admin").read_text().strip()
    done = _fuzz(
        fuzzed_server,
        tmp_path / "admin.xml",
        EXAMPLES,
        "--auth",
        f"admin:{password}",
        "--phases",
        "coverage,fuzzing",
    )
    _assert_clean(done, fuzzed_server, "admin")


def test_anonymous_callers_get_only_documented_refusals(
    fuzzed_server: LiveServer, tmp_path: Path
) -> None:
    # The coverage phase sends made-up credentials to every operation; each costs a
    # full password hash, so the anonymous pass fuzzes without it.
    done = _fuzz(
        fuzzed_server,
        tmp_path / "anonymous.xml",
        max(EXAMPLES // 2, 1),
        "--phases",
        "examples,fuzzing",
    )
    _assert_clean(done, fuzzed_server, "anonymous")
