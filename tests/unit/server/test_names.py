from __future__ import annotations

import pytest

from librarian_server.errors import InvalidName
from librarian_server.services.names import validate_name


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
