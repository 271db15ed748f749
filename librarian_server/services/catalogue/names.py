"""The one rule for catalogue names, applied wherever a name enters or is looked up.

Names become paths on disk and are compared byte for byte, so a name must have
one spelling and must not look like another:

- it is stored and compared in Unicode NFC: an NFD spelling of a name is the
  same file, never a second one;
- it is a relative '/'-separated path with no empty, '.' or '..' part, no
  backslash, and each part at most 255 bytes;
- no part is blank, or starts or ends with a blank (a space, or an invisible
  filler such as U+3164): " " and "a " would be told apart only by eye;
- no control, format (bidi overrides, zero-width), private-use or unassigned
  character;
- no character that stands in for a separator: a slash or backslash look-alike
  (U+2215 DIVISION SLASH, U+2044 FRACTION SLASH, U+FF0F FULLWIDTH SOLIDUS, ...)
  or a compatibility form of '.', '/' or '\\' (U+2024 ONE DOT LEADER, U+2025,
  U+2026, U+FF0E FULLWIDTH FULL STOP, ...), which would fake a '/' or a '..'.
"""

from __future__ import annotations

import unicodedata

from librarian_server.errors import InvalidName

MAX_SEGMENT_BYTES = 255

# Drawn like '/' or '\\' but not compatibility-equivalent to them (NFKC keeps them).
_SLASHES = frozenset(
    "\u2044\u2215\u29f8\u29f9\u29f5\u2216\u2afd\u2afb\u27cb\u27cd\u0337\u0338\u2571\u2572"
)
# Invisible characters that Unicode does not class as whitespace but that render as blank.
_FILLERS = frozenset("\u2800\u3164\u115f\u1160\uffa0")
_BAD_CATEGORIES = ("Cc", "Cf", "Cs", "Co", "Cn")


def normalise(name: str) -> str:
    """The stored and compared spelling of a name (NFC); for look-ups that must not refuse."""
    return unicodedata.normalize("NFC", name)


def _blank(ch: str) -> bool:
    return ch.isspace() or ch in _FILLERS


def _lookalike(ch: str) -> bool:
    if ch in _SLASHES:
        return True
    if ch in "./\\":
        return False
    return any(c in "./\\" for c in unicodedata.normalize("NFKC", ch))


def _char_problem(ch: str) -> str | None:
    if unicodedata.category(ch) in _BAD_CATEGORIES:
        return "a control, format or unassigned character"
    if ch == "\\":
        return "a backslash"
    if _lookalike(ch):
        return f"U+{ord(ch):04X} {unicodedata.name(ch, '?')}, which looks like '/' or '.'"
    return None


def validate_name(name: str, *, max_length: int = 1024) -> str:
    """The NFC form of ``name`` if it obeys the rule above, else raise InvalidName."""
    if not name:
        raise InvalidName("The file name is empty.")
    name = normalise(name)
    shown = repr(name[:80])
    if len(name.encode()) > max_length:
        raise InvalidName(f"The file name {shown}... is longer than {max_length} bytes.")
    for ch in name:
        if (problem := _char_problem(ch)) is not None:
            raise InvalidName(f"The file name {shown} contains {problem}.")
    if name.startswith("/"):
        raise InvalidName(f"The file name {shown} is absolute (starts with '/').")
    if name.endswith("/"):
        raise InvalidName(f"The file name {shown} ends with '/', which names a directory.")
    for segment in name.split("/"):
        if segment == "":
            raise InvalidName(f"The file name {shown} has an empty segment ('//').")
        if segment in (".", ".."):
            raise InvalidName(f"The file name {shown} contains a '{segment}' segment.")
        if all(map(_blank, segment)):
            raise InvalidName(f"The file name {shown} has a part that is only whitespace.")
        if _blank(segment[0]) or _blank(segment[-1]):
            raise InvalidName(
                f"The file name {shown} has a part that starts or ends with whitespace "
                f"({segment!r}).",
            )
        if len(segment.encode()) > MAX_SEGMENT_BYTES:
            raise InvalidName(
                f"A segment of {shown} is longer than {MAX_SEGMENT_BYTES} bytes.",
                "Shorten each '/'-separated part of the name to 255 bytes or fewer.",
            )
    return name
