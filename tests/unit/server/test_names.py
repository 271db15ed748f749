from __future__ import annotations

import pytest

from librarian_server.errors import InvalidName
from librarian_server.services.catalogue.names import validate_name


@pytest.mark.parametrize(
    "name",
    ["a", "obs/1718574200_satp3/D_ufm_mv17_000.g3", "ünïcode/ok", "dots.in.name/..x", "a/b..c"],
)
def test_valid(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("", "empty"),
        ("/a", "absolute"),
        ("a/", "ends with"),
        ("a//b", "empty segment"),
        ("a/../b", "'..'"),
        ("./a", "'.'"),
        ("a\x00b", "control"),
        ("a\nb", "control"),
        ("a\u202eb", "control"),  # right-to-left override
        ("a\\b", "backslash"),
        ("x" * 2000, "longer than"),
        ("d/" + "s" * 256, "segment"),
    ],
)
def test_invalid(name: str, fragment: str) -> None:
    with pytest.raises(InvalidName) as info:
        validate_name(name)
    assert fragment in info.value.reason
    assert info.value.status_code == 400


def test_names_are_stored_in_nfc() -> None:
    nfd = "obs/cafe\u0301/re\u0301sume\u0301.g3"
    assert validate_name(nfd) == "obs/caf\u00e9/r\u00e9sum\u00e9.g3"
    assert validate_name("\u212b") == "\u00c5"  # ANGSTROM SIGN is the letter Å


@pytest.mark.parametrize(
    "name",
    ["a b/c d.g3", "ünïcode/日本語ノート.txt", "half\u00bd", "é/ü", "x.y/z..w", "a/...b"],
)
def test_ordinary_names_stay_valid(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        (" ", "only whitespace"),
        ("a/ /b", "only whitespace"),
        ("a/\u3000", "only whitespace"),  # ideographic space
        ("a/\u3164", "only whitespace"),  # hangul filler renders blank
        ("a/\u2800", "only whitespace"),  # braille blank
        (" a", "starts or ends"),
        ("a /b", "starts or ends"),
        ("a/b\u00a0", "starts or ends"),
        ("a\u2215..\u2215etc", "U+2215"),  # DIVISION SLASH
        ("a\u2044b", "U+2044"),  # FRACTION SLASH
        ("a\uff0fb", "U+FF0F"),  # FULLWIDTH SOLIDUS
        ("a\u29f8b", "U+29F8"),  # BIG SOLIDUS
        ("a/\u2024\u2024/b", "U+2024"),  # ONE DOT LEADER x2 looks like '..'
        ("a/\u2025/b", "U+2025"),  # TWO DOT LEADER
        ("a/\uff0e\uff0e/b", "U+FF0E"),  # FULLWIDTH FULL STOP
        ("a/\u2026", "U+2026"),  # HORIZONTAL ELLIPSIS
        ("a\uff3cb", "U+FF3C"),  # FULLWIDTH REVERSE SOLIDUS
        ("a\u200bb", "format"),  # ZERO WIDTH SPACE
        ("a\u2066b", "format"),  # LEFT-TO-RIGHT ISOLATE
        ("a\ufeffb", "format"),  # BOM
    ],
)
def test_confusable_names_are_refused(name: str, fragment: str) -> None:
    with pytest.raises(InvalidName) as info:
        validate_name(name)
    assert fragment in info.value.reason
    assert "NFC" in info.value.suggested_remedy and "look-alike" in info.value.suggested_remedy
