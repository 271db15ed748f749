"""First start of the embedded default on a fresh machine: a working CLI, no leaked secret."""

from __future__ import annotations

import json
import shlex
import stat
import subprocess
from collections.abc import Callable

import pytest

from tests.e2e.conftest import LIBRARIAN, LiveServer, isolated_env

pytestmark = pytest.mark.e2e


def test_first_start_tells_how_to_log_in_and_configures_the_cli(
    start_server: Callable[..., LiveServer],
) -> None:
    server = start_server(None, env={"LIBRARIAN_SERVER_WRITE_CLIENT_CONFIG": "true"}, users={})
    password_file = server.data_dir / "initial-admin-password"
    password = password_file.read_text().strip()
    assert len(password) >= 16
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600

    client_config = server.home / ".config" / "librarian" / "client.json"
    assert stat.S_IMODE(client_config.stat().st_mode) == 0o600
    saved = json.loads(client_config.read_text())
    token = saved["connections"][saved["default"]]["token"]
    assert token

    console = server.log_text()  # the process's stdout and stderr
    server_log = (server.data_dir / "logs" / "server.log").read_text()
    assert f"Uvicorn running on {server.url}" in server_log  # the right file
    for text in (console, server_log):
        assert password not in text
        assert token not in text
    told = [line for line in console.splitlines() if str(password_file) in line]
    assert any("admin" in line for line in told), console

    # No flags, no LIBRARIAN_* variables: the saved connection is enough.
    pong = server.bare_cli("ping", "--json").json()
    assert (pong["user"], pong["permission"]) == ("admin", "admin")

    # The "Elsewhere: export ..." line works as printed, with no config file at all.
    (export,) = [line for line in console.splitlines() if line.startswith("Elsewhere: export ")]
    elsewhere = server.home / "elsewhere"
    elsewhere.mkdir()
    script = f"{export.removeprefix('Elsewhere: ')} && {shlex.join(LIBRARIAN)} ping --json"
    done = subprocess.run(
        ["/bin/sh", "-c", script],
        env=isolated_env(elsewhere),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["user"] == "admin"

    # A second start creates no new admin and leaves the password and config alone.
    server.restart()
    assert password_file.read_text().strip() == password
    assert json.loads(client_config.read_text()) == saved
    assert server.log_text().count("Created the first admin") == 1
    assert server.bare_cli("ping", "--json").json()["user"] == "admin"


def test_a_second_site_on_one_machine_saves_a_named_connection_and_says_so(
    start_server: Callable[..., LiveServer],
) -> None:
    write = {"LIBRARIAN_SERVER_WRITE_CLIENT_CONFIG": "true"}
    first = start_server(None, env=write | {"LIBRARIAN_SERVER_SITE_NAME": "quick"}, users={})
    shared_home = {
        "HOME": str(first.home),
        "XDG_CONFIG_HOME": str(first.home / ".config"),
        "LIBRARIAN_SERVER_SITE_NAME": "mountain",
    }
    second = start_server(None, env=write | shared_home, users={})
    saved = json.loads((first.home / ".config" / "librarian" / "client.json").read_text())
    assert saved["default"] == "quick"
    assert set(saved["connections"]) == {"quick", "mountain"}
    assert saved["connections"]["mountain"]["url"] == second.url
    told = second.log_text()
    assert "the default is still 'quick'" in told
    assert "librarian --connection mountain" in told
    pong = first.bare_cli("--connection", "mountain", "ping", "--json").json()
    assert pong["user"] == "admin"
    assert first.bare_cli("ping", "--json").json()["user"] == "admin"

    # A third start under a name that is taken leaves the saved connection alone.
    third = start_server(None, env=write | shared_home, users={})
    again = json.loads((first.home / ".config" / "librarian" / "client.json").read_text())
    assert again == saved
    assert "Saved no client connection: one named 'mountain' exists already" in third.log_text()
