"""``librarian-server add-store --cold``: a tape-backed store added, and each way it can
be wrong said in one line, the password never shown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.cold.conftest import Tape, credentials
from tests.integration.conftest import Site
from tests.integration.server_cli import ServerCommand, server_command


@pytest.fixture
def server(
    site: Site,
    database_url: str | None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> ServerCommand:
    return server_command(site, database_url, monkeypatch, capsys)


def test_add_store_cold_and_what_it_refuses(
    server: ServerCommand, tape: Tape, tmp_path: Path
) -> None:
    keys = credentials(tape, tmp_path / "good")
    wrong = tmp_path / "wrong"
    wrong.write_text(f"[tape]\naccount = {tape.account}\npassword = s3cr3t-tape\n")
    root = str(tape.root / "lib")
    cases = [
        ([root, "--cold", tape.url, "--credentials-file", str(wrong)], "refused"),
        ([root, "--cold", "http://127.0.0.1:9", "--credentials-file", str(keys)], "cannot be used"),
        ([root, "--cold", tape.url], "needs --credentials-file"),
        ([root, "--cold", "not-a-url", "--credentials-file", str(keys)], "wants the tape system's URL"),
        (["--cold", tape.url, "--credentials-file", str(keys)], "give either PATH"),
        ([root, "--cold", tape.url, "--credentials-file", str(tmp_path / "missing")], "credentials"),
    ]  # fmt: skip
    for n, (args, words) in enumerate(cases):
        ran = server("add-store", f"c{n}", *args)
        assert words in ran.error(), (args, ran)
        assert "s3cr3t-tape" not in ran.err + ran.out and tape.password not in ran.err + ran.out
    names = {s["name"] for s in json.loads(server("stores", "--json").out)}
    assert not names & {f"c{n}" for n in range(len(cases))}, "nothing half-added"
    added = server("add-store", "tape", root, "--cold", tape.url, "--credentials-file", str(keys))
    assert added.code == 0, added
    (row,) = [s for s in json.loads(server("stores", "--json").out) if s["name"] == "tape"]
    assert row["kind"] == "cold" and row["root"] == str(Path(root).resolve())
    assert tape.password not in json.dumps(row)
