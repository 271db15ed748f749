from __future__ import annotations

import json
from pathlib import Path

import pytest

from librarian_server.settings import load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("LIBRARIAN_SERVER_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


def test_embedded_default_needs_nothing(tmp_path: Path) -> None:
    s = load_settings()
    assert s.data_dir == (tmp_path / "xdg" / "librarian").resolve()
    assert s.is_embedded and s.sqlalchemy_url.endswith("librarian/librarian.sqlite3")
    assert s.store_dir == s.data_dir / "store" and s.log_dir == s.data_dir / "logs"


def test_precedence_flag_over_env_over_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "site.toml"
    config.write_text('site_name = "from-file"\nport = 1111\nlog_level = "DEBUG"\n')
    monkeypatch.setenv("LIBRARIAN_SERVER_PORT", "2222")
    s = load_settings(config, site_name="from-flag")
    assert (s.site_name, s.port, s.log_level) == ("from-flag", 2222, "DEBUG")
    monkeypatch.setenv("LIBRARIAN_SERVER_CONFIG_FILE", str(config))
    assert load_settings().site_name == "from-file"


def test_json_config_and_secret_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "db-url"
    secret.write_text("postgresql://lib:s3cret@db.example/lib\n")
    config = tmp_path / "site.json"
    config.write_text(json.dumps({"database_url_file": str(secret)}))
    s = load_settings(config)
    assert s.sqlalchemy_url == "postgresql+psycopg://lib:s3cret@db.example/lib"
    assert "s3cret" not in repr(s) and "s3cret" not in str(s.model_dump())


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    monkeypatch.setenv("LIBRARIAN_SERVER_CHECKSUM_ALGORITHM", "crc7")
    with pytest.raises(ValidationError, match="unknown checksum algorithm"):
        load_settings()
    monkeypatch.delenv("LIBRARIAN_SERVER_CHECKSUM_ALGORITHM")
    with pytest.raises(ValidationError):
        load_settings(site_name="has spaces")
