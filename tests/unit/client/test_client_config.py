"""Client config: file location, 0600 atomic writes, and resolution precedence."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from librarian_client import ConfigError, Connection, LibrarianClient
from librarian_client.config import (
    config_path,
    load_config,
    remove_connection,
    resolve_connection,
    save_connection,
)
from tests.unit.fake_librarian import FakeLibrarian


def secret(value: SecretStr | None) -> str | None:
    return None if value is None else value.get_secret_value()


def test_config_path_order(tmp_path: Path) -> None:
    home = Path.home()
    assert config_path({}) == home / ".config" / "librarian" / "client.json"
    assert config_path({"XDG_CONFIG_HOME": str(tmp_path)}) == tmp_path / "librarian/client.json"
    explicit = {"XDG_CONFIG_HOME": str(tmp_path), "LIBRARIAN_CLIENT_CONFIG": "/etc/x.json"}
    assert config_path(explicit) == Path("/etc/x.json")


def test_save_writes_owner_only_file_atomically(isolated_env: Path) -> None:
    conn = Connection(url="http://localhost:21108/", username="admin", token="t0k")

    written = save_connection("local", conn)

    assert written == isolated_env
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert stat.S_IMODE(written.parent.stat().st_mode) == 0o700
    assert json.loads(written.read_text()) == {
        "default": "local",
        "connections": {
            "local": {
                "url": "http://localhost:21108",
                "username": "admin",
                "password": None,
                "token": "t0k",
            }
        },
    }
    assert [p.name for p in written.parent.iterdir()] == ["client.json"]  # no temp files


def test_rewrite_keeps_mode_0600_even_if_file_was_loosened(isolated_env: Path) -> None:
    save_connection("a", Connection(url="http://a"))
    isolated_env.chmod(0o644)

    save_connection("b", Connection(url="http://b"))

    assert stat.S_IMODE(isolated_env.stat().st_mode) == 0o600


def test_first_connection_is_default_and_make_default_switches() -> None:
    save_connection("a", Connection(url="http://a"))
    save_connection("b", Connection(url="http://b"))
    assert load_config().default == "a"

    save_connection("b", Connection(url="http://b2"), make_default=True)

    config = load_config()
    assert config.default == "b"
    assert config.connections["b"].url == "http://b2"


def test_remove_connection_moves_the_default() -> None:
    save_connection("a", Connection(url="http://a"))
    save_connection("b", Connection(url="http://b"))

    remove_connection("a")

    assert load_config().default == "b"
    with pytest.raises(ConfigError, match="No connection named 'a'"):
        remove_connection("a")


def test_secrets_do_not_appear_in_repr() -> None:
    conn = Connection(url="http://a", username="u", password="hunter2", token="tok")
    assert "hunter2" not in repr(conn) and "tok'" not in repr(conn)
    assert conn.auth_kind == "token"


def test_nothing_configured_is_a_clear_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_connection()
    assert "No librarian server is configured" in str(info.value)
    assert "librarian connections add" in str(info.value)


def test_broken_config_file_is_a_config_error(isolated_env: Path) -> None:
    isolated_env.parent.mkdir(parents=True)
    isolated_env.write_text('{"connections": {"x": {"url": 5}}}')

    with pytest.raises(ConfigError, match=r"invalid: connections\.x\.url"):
        load_config()


def test_unknown_named_connection_lists_the_known_ones() -> None:
    save_connection("site-a", Connection(url="http://a"))
    with pytest.raises(ConfigError, match=r"'site-b' \(known: site-a\)"):
        resolve_connection("site-b")


def test_precedence_args_over_env_over_file(monkeypatch: pytest.MonkeyPatch) -> None:
    save_connection("main", Connection(url="http://file", username="fileuser", password="filepw"))

    from_file = resolve_connection()
    assert (from_file.url, from_file.username, secret(from_file.password)) == (
        "http://file",
        "fileuser",
        "filepw",
    )

    monkeypatch.setenv("LIBRARIAN_USERNAME", "envuser")
    monkeypatch.setenv("LIBRARIAN_PASSWORD", "envpw")
    from_env = resolve_connection()
    assert (from_env.url, from_env.username, secret(from_env.password)) == (
        "http://file",
        "envuser",
        "envpw",
    )

    explicit = resolve_connection(username="arguser", password="argpw")
    assert (explicit.username, secret(explicit.password)) == ("arguser", "argpw")


def test_env_selects_connection_and_explicit_name_overrides_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    save_connection("a", Connection(url="http://a"))
    save_connection("b", Connection(url="http://b"))
    monkeypatch.setenv("LIBRARIAN_CONNECTION", "b")

    assert resolve_connection().url == "http://b"
    assert resolve_connection("a").url == "http://a"


def test_explicit_password_is_not_overridden_by_stored_token() -> None:
    save_connection("a", Connection(url="http://a", username="u", token="stored"))

    conn = resolve_connection(password="pw")

    assert (conn.username, secret(conn.password), conn.token) == ("u", "pw", None)


def test_another_users_stored_secret_is_not_used() -> None:
    save_connection("a", Connection(url="http://a", username="alice", token="alices-token"))

    conn = resolve_connection(username="bob")

    assert (conn.username, conn.password, conn.token) == ("bob", None, None)


def test_default_credentials_never_go_to_a_different_url() -> None:
    save_connection("a", Connection(url="http://a", username="u", token="secret-for-a"))

    other = resolve_connection(url="http://elsewhere")
    same = resolve_connection(url="http://a/")

    assert (other.url, other.username, other.token) == ("http://elsewhere", None, None)
    assert secret(same.token) == "secret-for-a"


def test_env_url_and_token_work_without_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIBRARIAN_URL", "https://lib.example/")
    monkeypatch.setenv("LIBRARIAN_TOKEN", "envtoken")

    conn = resolve_connection()

    assert conn.url == "https://lib.example"
    assert secret(conn.token) == "envtoken"


def test_bad_url_from_env_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIBRARIAN_URL", "localhost:8080")
    with pytest.raises(ConfigError, match="not an http"):
        resolve_connection()


def test_client_from_connection_uses_the_stored_token() -> None:
    fake = FakeLibrarian(tokens={"tok": "carol"})
    save_connection("x", Connection(url="http://fake", token="tok"))

    with LibrarianClient.from_connection("x", transport=fake.transport) as client:
        assert client.ping().user == "carol"
    with LibrarianClient.from_env(transport=fake.transport) as client:
        assert client.ping().user == "carol"
