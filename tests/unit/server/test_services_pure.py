from __future__ import annotations

import pytest

from librarian_client.checksum import ChecksumError, normalise_checksum, parse_checksum
from librarian_client.cli.output import parse_size
from librarian_client.models import PermissionLevel as P
from librarian_server.api.streaming import parse_range
from librarian_server.errors import RangeNotSatisfiable
from librarian_server.services.accounts.auth import allows
from librarian_server.services.accounts.passwords import hash_password, verify_password
from librarian_server.services.catalogue.files import glob_to_like


def test_checksums_are_normalised() -> None:
    assert normalise_checksum("MD5:ABCDEF0123456789abcdef0123456789") == (
        "md5:abcdef0123456789abcdef0123456789"
    )
    assert parse_checksum("abcdef0123456789abcdef0123456789")[0] == "md5"
    for bad in ("md5:xyz", "crc99:00", "nonsense", "md5:"):
        with pytest.raises(ChecksumError):
            parse_checksum(bad)


def test_ranges() -> None:
    assert parse_range(None, 10) is None
    assert parse_range("bytes=2-4", 10) == (2, 4)
    assert parse_range("bytes=5-", 10) == (5, 9)
    assert parse_range("bytes=-3", 10) == (7, 9)
    assert parse_range("bytes=0-100", 10) == (0, 9)
    assert parse_range("items=0-1", 10) is None  # another unit: ignored, the whole file
    for bad in ("bytes=10-", "bytes=5-2", "bytes=0-1,3-4", "bytes=a-b", "bytes=1_0-", "bytes=-"):
        with pytest.raises(RangeNotSatisfiable) as raised:
            parse_range(bad, 10)
        assert raised.value.headers() == {"Content-Range": "bytes */10"}


def test_glob_translation_escapes_like_metacharacters() -> None:
    assert glob_to_like("obs/*") == ("obs/%", "obs/")
    assert glob_to_like("a_b%?*") == ("a\\_b\\%_%", "a_b%")


def test_permission_order_and_peer_branch() -> None:
    assert allows(P.ADMIN, P.READAPPEND) and allows(P.READAPPEND, P.READONLY)
    assert not allows(P.READONLY, P.READAPPEND)
    assert allows(P.PEER, P.PEER) and allows(P.ADMIN, P.PEER)
    assert not allows(P.PEER, P.READONLY) and not allows(P.READAPPEND, P.PEER)


def test_password_hash_round_trip() -> None:
    encoded = hash_password("s3cret-pass")
    assert encoded.startswith("scrypt$") and "s3cret" not in encoded
    assert verify_password("s3cret-pass", encoded)
    assert not verify_password("wrong", encoded)
    assert encoded != hash_password("s3cret-pass")  # salted


def test_parse_size() -> None:
    assert parse_size("500") == 500
    assert parse_size("8T") == 8 * 1024**4
    assert parse_size("1.5G") == int(1.5 * 1024**3)
    assert parse_size("10MiB") == 10 * 1024**2
