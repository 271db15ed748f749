"""Failures: exactly one `librarian: error: ...` line, exit 1 (2 for usage, 130 for Ctrl-C)."""

from __future__ import annotations

import httpx
import pytest

from tests.unit.cli.conftest import Run


def error_server(status: int, reason: str, remedy: str) -> httpx.MockTransport:
    body = {"reason": reason, "suggested_remedy": remedy, "error": "X"}
    return httpx.MockTransport(lambda request: httpx.Response(status, json=body))


@pytest.mark.usefixtures("configured")
@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 500, 507])
def test_server_errors_are_one_line_with_remedy(run: Run, status: int) -> None:
    result = run("info", "x", transport=error_server(status, "Went wrong.", "Do this."))

    assert result.code == 1
    assert result.out == ""
    assert result.err == "librarian: error: Went wrong. (Do this.)\n"


@pytest.mark.usefixtures("configured")
@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused"), "Connection refused"),
        (httpx.ConnectTimeout("timed out"), "did not answer"),
        (httpx.RemoteProtocolError("Server disconnected"), "Server disconnected"),
    ],
)
def test_transport_failures_are_one_line(run: Run, exc: Exception, expected: str) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise exc

    result = run("ping", transport=httpx.MockTransport(fail))

    assert result.code == 1
    assert result.err.count("\n") == 1
    assert result.err.startswith("librarian: error: ")
    assert expected in result.err
    assert "Traceback" not in result.err


@pytest.mark.usefixtures("configured")
def test_keyboard_interrupt_exits_130(run: Run) -> None:
    def interrupt(request: httpx.Request) -> httpx.Response:
        raise KeyboardInterrupt

    result = run("ls", transport=httpx.MockTransport(interrupt))

    assert result.code == 130
    assert result.err == "librarian: error: interrupted\n"


def test_no_configuration_is_one_line(run: Run) -> None:
    result = run("ping")

    assert result.code == 1
    assert result.err == (
        "librarian: error: No librarian server is configured. (Run `librarian connections "
        "add NAME URL ...`, set LIBRARIAN_URL, or pass --url.)\n"
    )


@pytest.mark.usefixtures("configured")
def test_unknown_connection_name(run: Run) -> None:
    result = run("--connection", "nope", "ping")

    assert result.code == 1
    assert "No connection named 'nope' (known: test)" in result.err


@pytest.mark.parametrize(
    "argv",
    [(), ("frobnicate",), ("upload", "only-one"), ("--timeout", "0", "ping"), ("token",)],
)
def test_usage_errors_exit_2(run: Run, argv: tuple[str, ...]) -> None:
    result = run(*argv)

    assert result.code == 2
    assert "usage: librarian" in result.err


def test_help_exits_0(run: Run) -> None:
    result = run("--help")

    assert result.code == 0
    assert "upload" in result.out and "--connection" in result.out


@pytest.mark.usefixtures("configured")
def test_non_json_error_page_is_still_one_line(run: Run) -> None:
    page = httpx.MockTransport(lambda request: httpx.Response(502, text="<html>\n<b>x</b></html>"))

    result = run("ping", transport=page)

    assert result.code == 1
    assert result.err.count("\n") == 1
    assert "HTTP 502" in result.err
