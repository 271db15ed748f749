"""``librarian-server`` errors a person can act on: one line each, naming what to change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from librarian_server.cli import main


def _fail(capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    capsys.readouterr()
    assert main(list(argv)) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert lines and all(line.startswith("librarian-server: error: ") for line in lines), lines
    return [line.removeprefix("librarian-server: error: ") for line in lines]


def test_invalid_settings_name_the_variable_one_line_per_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LIBRARIAN_SERVER_PORT", "70000")
    monkeypatch.setenv("LIBRARIAN_SERVER_BACKGROUND__CLEANUP__EVERY_SECONDS", "-1")
    monkeypatch.setenv("LIBRARIAN_SERVER_SITE_NAME", "no spaces allowed")
    lines = _fail(capsys, "users", "--data-dir", str(tmp_path / "data"))
    assert len(lines) == 3, lines
    by_name = dict(line.split(": ", 1) for line in lines)
    assert "less than or equal to 65535" in by_name["LIBRARIAN_SERVER_PORT"]
    assert "'70000'" in by_name["LIBRARIAN_SERVER_PORT"]  # the value given, to spot typos
    assert "greater than 0" in by_name["LIBRARIAN_SERVER_BACKGROUND__CLEANUP__EVERY_SECONDS"]
    assert "no spaces allowed" in by_name["LIBRARIAN_SERVER_SITE_NAME"]
    assert not (tmp_path / "data").exists()  # nothing was started


def test_a_bad_secret_setting_is_named_but_not_echoed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "site.json"
    config.write_text(json.dumps({"database_url": ["postgresql://u:hunter2@db/x"]}))
    (line,) = _fail(capsys, "users", "--config", str(config))
    assert line.startswith("LIBRARIAN_SERVER_DATABASE_URL: ")
    assert "hunter2" not in line


def test_a_settings_file_with_bad_syntax_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "site.toml"
    config.write_text("port = \n")
    (line,) = _fail(capsys, "stores", "--config", str(config))
    assert line.startswith(f"cannot parse the settings file {config}: ")


def test_a_missing_secret_file_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "run" / "database_url"
    monkeypatch.setenv("LIBRARIAN_SERVER_DATABASE_URL_FILE", str(missing))
    (line,) = _fail(capsys, "users")
    assert line == f"No such file or directory: {missing}"


def test_an_unreachable_database_says_what_to_check(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(
        "LIBRARIAN_SERVER_DATABASE_URL", "postgresql://nobody:s3cret@127.0.0.1:1/librarian"
    )
    (line,) = _fail(capsys, "users")
    assert line.startswith("database error: ")
    assert "Check LIBRARIAN_SERVER_DATABASE_URL" in line
    assert "s3cret" not in line


def test_several_workers_need_the_background_tasks_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(tmp_path / "data")
    (line,) = _fail(capsys, "run", "--workers", "2", "--data-dir", data)
    assert "LIBRARIAN_SERVER_BACKGROUND__IN_SERVER=false" in line
    monkeypatch.setenv("LIBRARIAN_SERVER_BACKGROUND__IN_SERVER", "false")
    (line,) = _fail(capsys, "run", "--data-dir", data, "--workers", "2")
    assert "need PostgreSQL" in line and "LIBRARIAN_SERVER_DATABASE_URL" in line


def test_a_malformed_database_url_says_what_to_check(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LIBRARIAN_SERVER_DATABASE_URL", "nosuchdialect://x/y")
    (line,) = _fail(capsys, "users")
    assert line.startswith("database error: ") and "nosuchdialect" in line
