"""A pullFromVoSpace of a file that is only on tape: the endpoint answers 503 with
Retry-After while the file is staged (the job stays EXECUTING), then serves the bytes
and the job completes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.integration.cold.conftest import (  # noqa: F401 - the fixtures
    FAST,
    Tape,
    put_on_cold,
    run_round,
    tape,
    tape_options,
    to_tape,
    until,
)
from tests.integration.conftest import Site
from tests.integration.helpers import upload
from tests.integration.vospace.conftest import CORE, VO

DATA = b"a frame kept on tape\n" * 1000


@pytest.fixture
def site(make_site: Callable[..., Site], tape: Tape) -> Site:  # noqa: F811 - the cold one
    cold = make_site(cold=FAST)
    put_on_cold(cold, tape)
    upload(cold.http, cold.auth(), "archive/frame.fits", DATA)
    to_tape(cold)
    return cold


def test_a_pull_of_a_file_on_tape_waits_for_staging(vo: VO, site: Site) -> None:
    details = vo.negotiate("archive/frame.fits", "pullFromVoSpace", CORE + "httpget", "reader")
    endpoint = vo.endpoint(details)
    busy = vo.http.get(endpoint)
    assert busy.status_code == 503 and busy.text.startswith("NodeBusy")
    assert int(busy.headers["retry-after"]) > 0
    assert vo.phase(vo.job_url(details), "reader") == "EXECUTING"
    got = until(
        lambda: (r := vo.http.get(endpoint)).status_code == 200 and r,
        then=lambda: run_round(site),
        what="the staged bytes",
    )
    assert got.content == DATA
    assert vo.phase(vo.job_url(details), "reader") == "COMPLETED"
