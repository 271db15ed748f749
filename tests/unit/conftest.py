"""Shared by the unit tests: no test sees the developer's config or LIBRARIAN_* variables."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.unit.fake_librarian import FakeLibrarian


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for key in list(os.environ):
        if key.startswith("LIBRARIAN_"):
            monkeypatch.delenv(key)
    config = tmp_path / "config" / "client.json"
    monkeypatch.setenv("LIBRARIAN_CLIENT_CONFIG", str(config))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # upload resume state
    return config


@pytest.fixture
def fake() -> FakeLibrarian:
    return FakeLibrarian()
