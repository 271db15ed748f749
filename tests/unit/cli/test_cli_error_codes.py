"""The error line ends in the server's error code, when the server sent one."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.unit.cli.conftest import Run


def coded(status: int, code: str) -> httpx.MockTransport:
    body = {"reason": "Busy.", "suggested_remedy": "Do this.", "error": "X", "code": code}
    return httpx.MockTransport(lambda request: httpx.Response(status, json=body))


@pytest.mark.usefixtures("configured")
def test_the_error_line_shows_the_code(run: Run) -> None:
    result = run("info", "a/b", transport=coded(409, "transfer_running"))

    assert result.code == 1 and result.out == ""
    assert result.err == "librarian: error: Busy. (Do this.) [transfer_running]\n"


@pytest.mark.usefixtures("configured")
def test_the_json_error_has_the_code(run: Run) -> None:
    result = run("--json", "info", "a/b", transport=coded(502, "peer_error"))

    assert result.code == 1
    assert json.loads(result.err) == {
        "reason": "Busy.",
        "suggested_remedy": "Do this.",
        "code": "peer_error",
    }
