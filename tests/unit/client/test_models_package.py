"""``librarian_client.models`` loads each model's module on first use, with every name
still importable from the package as before (the server imports them that way)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import librarian_client.models as models
from librarian_client import limits
from librarian_client.models import common, replication


def test_every_public_name_resolves_to_its_defining_module() -> None:
    for name in models.__all__:
        value = getattr(models, name)
        home = f"librarian_client.models.{models._HOMES[name]}"
        assert getattr(sys.modules[home], name) is value, name
    assert set(models.__all__) <= set(dir(models))


def test_star_import_gives_every_public_name() -> None:
    namespace: dict[str, object] = {}
    exec("from librarian_client.models import *", namespace)  # noqa: S102 - a fixed statement

    assert set(models.__all__) <= set(namespace)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchModel"):
        getattr(models, "NoSuchModel")  # noqa: B009 - mypy knows the name is not there

    with pytest.raises(ImportError):
        exec("from librarian_client.models import NoSuchModel")  # noqa: S102


def test_vocabularies_are_one_class_wherever_they_are_imported_from() -> None:
    assert models.Direction is replication.Direction is limits.Direction
    assert models.TransferStatus is common.TransferStatus is limits.TransferStatus


def test_one_name_loads_only_its_own_module() -> None:
    probe = (
        "import json, sys\n"
        "from librarian_client.models import PingResponse\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('librarian_client'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )

    assert json.loads(done.stdout) == [
        "librarian_client",
        "librarian_client.limits",
        "librarian_client.models",
        "librarian_client.models.admin",
        "librarian_client.models.common",
        "librarian_client.models.errors",
    ]
