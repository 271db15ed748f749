"""`librarian ping`, `connections`, `token create`, and how credentials reach the server."""

from __future__ import annotations

import json
import stat
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from librarian_client.config import Connection, load_config, save_connection
from tests.unit.cli.conftest import Run
from tests.unit.fake_librarian import EPOCH, FakeLibrarian


@pytest.mark.usefixtures("configured")
def test_ping_human_and_json(run: Run) -> None:
    human = run("ping")
    data = json.loads(run("ping", "--json").out)

    assert human.out == "http://fake: fake 0, checksums md5, as alice (unknown permission)\n"
    assert data["user"] == "alice"


def test_connections_add_list_never_prints_secrets(
    run: Run, fake: FakeLibrarian, tmp_path: Path, isolated_env: Path
) -> None:
    fake.users["alice"] = "hunter2"
    password_file = tmp_path / "pw"
    password_file.write_text("hunter2\n")
    token_file = tmp_path / "tok"
    token_file.write_text("sekrit-token")

    first = run(
        "connections", "add", "site", "http://fake/", "--username", "alice",
        "--password-file", str(password_file),
    )  # fmt: skip
    second = run("connections", "add", "ci", "https://ci.example", "--token-file", str(token_file))
    listing = run("connections")
    as_json = run("connections", "list", "--json")

    assert first.code == second.code == 0
    assert first.out == f"saved connection site to {isolated_env} with a new token\n"
    assert stat.S_IMODE(isolated_env.stat().st_mode) == 0o600
    stored = load_config()
    assert stored.default == "site"
    assert stored.connections["site"].password is None
    assert stored.connections["site"].token is not None
    assert "hunter2" not in isolated_env.read_text()
    for output in (listing.out, as_json.out):
        assert "hunter2" not in output and "sekrit-token" not in output
    assert listing.out.splitlines() == [
        "  NAME  URL                 USERNAME  AUTH",
        "  ci    https://ci.example  -         token",
        "* site  http://fake         alice     token",
    ]
    assert json.loads(as_json.out)[1] == {
        "name": "site",
        "url": "http://fake",
        "username": "alice",
        "auth": "token",
        "default": True,
    }


def test_connections_add_default_and_remove(run: Run) -> None:
    run("connections", "add", "a", "http://a")
    run("connections", "add", "b", "http://b", "--default")
    assert load_config().default == "b"

    removed = run("connections", "remove", "b")

    assert removed.code == 0
    assert load_config().default == "a"


def test_connections_add_rejects_two_secrets_and_bad_urls(run: Run, tmp_path: Path) -> None:
    secret = tmp_path / "s"
    secret.write_text("x")

    both = run(
        "connections", "add", "a", "http://a", "--password-file", str(secret),
        "--token-file", str(secret),
    )  # fmt: skip
    bad_url = run("connections", "add", "a", "ftp://a")

    assert both.code == 2
    assert bad_url.code == 1
    assert bad_url.err.startswith("librarian: error: The URL 'ftp://a' is not an http(s) URL.")
    assert load_config().connections == {}


def test_connections_with_nothing_configured(run: Run, isolated_env: Path) -> None:
    assert run("connections").out == f"no connections configured in {isolated_env}\n"


@pytest.mark.usefixtures("configured")
def test_token_create_prints_only_the_token(run: Run, fake: FakeLibrarian) -> None:
    result = run("token", "create", "--expires", "12h", "--description", "pipeline")

    token = result.out.strip()
    assert result.out == token + "\n"
    assert fake.tokens[token] == "alice"


@pytest.mark.usefixtures("configured")
@pytest.mark.parametrize(("text", "seconds"), [("30d", 30 * 86400), ("3600s", 3600), ("90", 90)])
def test_token_create_json_and_durations(run: Run, text: str, seconds: int) -> None:
    data = json.loads(run("--json", "token", "create", "--expires", text).out)

    assert data["user"] == "alice"
    assert datetime.fromisoformat(data["expires_at"]) == EPOCH + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    "argv",
    [("--expires", "30x"), ("--expires", "0s"), ("--expires", "-5"), ("--description", "d" * 201)],
)
def test_token_create_bad_arguments_are_usage_errors(run: Run, argv: tuple[str, str]) -> None:
    assert run("token", "create", *argv).code == 2


def test_token_file_and_url_flags_authenticate(
    run: Run, fake: FakeLibrarian, tmp_path: Path
) -> None:
    fake.tokens["tok-1"] = "carol"
    token_file = tmp_path / "token"
    token_file.write_text("tok-1\n")

    result = run("--url", "http://fake", "--token-file", str(token_file), "--json", "ping")

    assert json.loads(result.out)["user"] == "carol"


def test_password_file_overrides_stored_token(
    run: Run, fake: FakeLibrarian, tmp_path: Path
) -> None:
    save_connection(
        "t",
        Connection.model_validate({"url": "http://fake", "username": "alice", "token": "stale"}),
    )
    password_file = tmp_path / "pw"
    password_file.write_text("secret")

    result = run("--password-file", str(password_file), "--json", "ping")

    assert result.code == 0, result.err
    assert json.loads(result.out)["user"] == "alice"


def test_env_vars_are_used(run: Run, fake: FakeLibrarian, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIBRARIAN_URL", "http://fake")
    monkeypatch.setenv("LIBRARIAN_USERNAME", "alice")
    monkeypatch.setenv("LIBRARIAN_PASSWORD", "secret")

    assert json.loads(run("--json", "ping").out)["user"] == "alice"


def test_empty_password_file_is_an_error(run: Run, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")

    result = run("--url", "http://fake", "--password-file", str(empty), "ping")

    assert result.code == 1
    assert result.err.startswith(f"librarian: error: The password file {empty} is empty.")
