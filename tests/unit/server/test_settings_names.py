"""A misspelt setting stops the server with its name and the nearest valid one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from librarian_server.cli import main
from librarian_server.errors import ConfigurationError
from librarian_server.settings import load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("LIBRARIAN_SERVER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LIBRARIAN_SERVER_DATA_DIR", str(tmp_path / "data"))


def test_an_unknown_variable_is_named_with_the_nearest_valid_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LIBRARIAN_SERVER_SITE_NMAE", "mountain")
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    assert info.value.reason == (
        "Unknown setting variable LIBRARIAN_SERVER_SITE_NMAE "
        "(did you mean LIBRARIAN_SERVER_SITE_NAME?)."
    )


def test_a_misspelt_nested_variable_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIBRARIAN_SERVER_REPLICATON__MAX_ATTEMPTS", "3")
    with pytest.raises(ConfigurationError, match="REPLICATION__MAX_ATTEMPTS"):
        load_settings()


def test_valid_nested_variables_and_the_config_file_variable_are_accepted(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "site.toml"
    config.write_text('site_name = "ucsd"\n[replication]\nmax_attempts = 4\n')
    monkeypatch.setenv("LIBRARIAN_SERVER_CONFIG_FILE", str(config))
    monkeypatch.setenv("LIBRARIAN_SERVER_BACKGROUND__SEND_CLONE__EVERY_SECONDS", "5")
    monkeypatch.setenv("lIbRaRiAn_SeRvEr_PORT", "21200")
    settings = load_settings()
    assert (settings.site_name, settings.replication.max_attempts) == ("ucsd", 4)
    assert settings.background.send_clone.every_seconds == 5
    assert settings.port == 21200


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('site_nmae = "x"\n', "Unknown setting 'site_nmae' in the settings file (did you mean site_name?)."),
        ("[replication]\nmax_atempts = 3\n", "Unknown setting 'replication.max_atempts' in the "
         "settings file (did you mean replication.max_attempts?)."),
        ("[replicaton]\nmax_attempts = 3\n", "Unknown setting 'replicaton' in the settings file "
         "(did you mean replication?)."),
        ("flavour = 3\n", "Unknown setting 'flavour' in the settings file."),
    ],
)  # fmt: skip
def test_an_unknown_key_in_the_settings_file_is_refused(
    tmp_path: Path, text: str, reason: str
) -> None:
    config = tmp_path / "site.toml"
    config.write_text(text)
    with pytest.raises(ConfigurationError) as info:
        load_settings(config)
    assert info.value.reason == reason


def test_the_server_command_stops_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LIBRARIAN_SERVER_PROT", "21200")
    assert main(["run"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "LIBRARIAN_SERVER_PROT" in err and "LIBRARIAN_SERVER_PORT" in err
