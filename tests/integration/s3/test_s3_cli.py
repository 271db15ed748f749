"""``librarian-server add-store --s3``: a bucket added, and each way it can be wrong said
in one line, with the keys never shown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.conftest import Site
from tests.integration.server_cli import ServerCommand, server_command
from tests.swift import SwiftNode


@pytest.fixture
def server(
    site: Site,
    database_url: str | None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> ServerCommand:
    return server_command(site, database_url, monkeypatch, capsys)


def test_add_store_s3_and_what_it_refuses(
    server: ServerCommand, swift_node: SwiftNode, swift_bucket: str, tmp_path: Path
) -> None:
    keys = swift_node.write_credentials_file(tmp_path / "keys")
    where = f"{swift_node.endpoint}/{swift_bucket}"

    wrong = tmp_path / "wrong"
    wrong.write_text("[default]\naws_access_key_id = test:tester\naws_secret_access_key = s3cr3t\n")
    cases = [
        (["--s3", where, "--credentials-file", str(wrong)], "refused the credentials"),
        (["--s3", where + "-none", "--credentials-file", str(keys)], "does not exist"),
        (["--s3", f"http://127.0.0.1:9/{swift_bucket}", "--credentials-file", str(keys)],
         "Cannot reach the object store"),
        (["--s3", where], "needs --credentials-file"),
        (["--s3", "no-endpoint", "--credentials-file", str(keys)], "wants ENDPOINT/BUCKET"),
        (["--s3", where, "--credentials-file", str(tmp_path / "missing")],
         "Cannot read the S3 credentials file"),
        ([str(tmp_path / "dir"), "--s3", where, "--credentials-file", str(keys)], "not both"),
    ]  # fmt: skip
    for n, (args, words) in enumerate(cases):
        ran = server("add-store", f"s{n}", *args)
        assert words in ran.error(), (args, ran)
        assert "s3cr3t" not in ran.err + ran.out and "testing" not in ran.err + ran.out
    names = {s["name"] for s in json.loads(server("stores", "--json").out)}
    assert not names & {f"s{n}" for n in range(len(cases))}, "nothing half-added"
    ran = server("add-store", "bulk", "--s3", where, "--credentials-file", str(keys))
    assert ran.code == 0 and f"at {where}" in ran.out, ran
    [bulk] = [s for s in json.loads(server("stores", "--json").out) if s["name"] == "bulk"]
    assert (bulk["kind"], bulk["root"]) == ("s3", where)
    again = server("add-store", "twice", "--s3", where, "--credentials-file", str(keys))
    assert "already uses" in again.error()
