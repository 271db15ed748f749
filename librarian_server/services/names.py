"""File-name validation: names become paths on disk, so refuse anything ambiguous."""

from __future__ import annotations

import unicodedata

from ..errors import InvalidName

MAX_SEGMENT_BYTES = 255


def validate_name(name: str, *, max_length: int = 1024) -> str:
    """Return ``name`` unchanged if it is a safe relative path, else raise InvalidName."""
    if not name:
        raise InvalidName("The file name is empty.")
    shown = repr(name[:80])
    if len(name.encode()) > max_length:
        raise InvalidName(f"The file name {shown}... is longer than {max_length} bytes.")
    for ch in name:
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            raise InvalidName(f"The file name {shown} contains a control or unassigned character.")
    if "\\" in name:
        raise InvalidName(f"The file name {shown} contains a backslash.")
    if name.startswith("/"):
        raise InvalidName(f"The file name {shown} is absolute (starts with '/').")
    if name.endswith("/"):
        raise InvalidName(f"The file name {shown} ends with '/', which names a directory.")
    for segment in name.split("/"):
        if segment == "":
            raise InvalidName(f"The file name {shown} has an empty segment ('//').")
        if segment in (".", ".."):
            raise InvalidName(f"The file name {shown} contains a '{segment}' segment.")
        if len(segment.encode()) > MAX_SEGMENT_BYTES:
            raise InvalidName(
                f"A segment of {shown} is longer than {MAX_SEGMENT_BYTES} bytes.",
                "Shorten each '/'-separated part of the name to 255 bytes or fewer.",
            )
    return name
