from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from librarian_server.services.accounts.passwords import hash_password
from librarian_server.services.sneakernet.disk import DiskEntry, DiskHeader, DiskReader, DiskWriter
from librarian_server.services.sneakernet.signing import (
    SigningError,
    disk_key,
    from_password,
    from_stored_hash,
    sign,
    verifies,
)


def _key(password: str, label: str = "L") -> tuple[object, bytes]:
    spec, secret = from_stored_hash("ucsd", hash_password(password))
    return spec, disk_key(secret, source="mountain", destination="ucsd", label=label)


def test_the_destination_rebuilds_the_sources_key_from_the_password() -> None:
    spec, secret = from_stored_hash("ucsd", hash_password("shared"))
    assert from_password("shared", spec) == secret
    assert from_password("other", spec) != secret
    key = disk_key(secret, source="mountain", destination="ucsd", label="L1")
    assert key != disk_key(secret, source="mountain", destination="ucsd", label="L2")


def test_a_record_verifies_only_unchanged_and_under_its_key() -> None:
    _, key = _key("shared")
    _, other = _key("shared", label="another disk")
    record = sign(key, {"name": "a", "origin": "mountain", "size": 1})
    assert verifies(key, record)
    assert verifies(key, json.loads(json.dumps(record, indent=2)))  # spacing does not matter
    assert not verifies(other, record)
    assert not verifies(key, {**record, "origin": "elsewhere"})
    assert not verifies(key, {k: v for k, v in record.items() if k != "sig"})


@pytest.mark.parametrize(
    "update", [{"n": 2**24}, {"r": 1000}, {"n": 1000}, {"dklen": 10_000}, {"salt": "!!"}]
)
def test_hostile_key_parameters_are_refused_not_obeyed(update: dict[str, object]) -> None:
    spec, _ = from_stored_hash("ucsd", hash_password("shared"))
    with pytest.raises(SigningError):
        from_password("shared", spec.model_copy(update=update))


def test_a_stored_hash_of_another_kind_cannot_sign() -> None:
    with pytest.raises(SigningError):
        from_stored_hash("ucsd", "bcrypt$whatever")


def test_a_disk_cut_short_still_verifies_and_an_edit_is_named(tmp_path: Path) -> None:
    spec, key = _key("shared")
    header = DiskHeader(
        label="L", source="mountain", destination="ucsd", created_time=datetime.now(UTC), key=spec
    )
    writer = DiskWriter(tmp_path, header, key)
    entries = [
        DiskEntry(name=f"f{i}", size=1, checksum="md5:x", transfer_id=i, path="p", origin="m",
                  uploader="u")
        for i in range(3)
    ]  # fmt: skip
    writer.list(entries)  # no end line: the export was killed here
    writer._manifest.close()
    reader = DiskReader(writer.directory)
    listed, problem = reader.listed(key)
    assert [e.name for e in listed] == ["f0", "f1", "f2"] and problem is None
    manifest = writer.directory / "manifest.jsonl"
    manifest.write_text(manifest.read_text().replace('"uploader":"u",', '"uploader":"x",', 1))
    _, problem = DiskReader(writer.directory).listed(key)
    assert problem is not None and "line 2 ('f0')" in problem
