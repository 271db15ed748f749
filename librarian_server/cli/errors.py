"""Turning an expected failure into the lines ``librarian-server`` prints.

A domain error keeps its remedy (the operator reads the line, not the code); a bad
setting is named as the variable the operator sets, one line per field.
"""

from __future__ import annotations

from pydantic import ValidationError
from sqlalchemy.exc import ArgumentError, InterfaceError, NoSuchModuleError, OperationalError

from librarian_server.cli.common import CLIError
from librarian_server.errors import LibrarianError

# The database cannot be reached or the URL is wrong; other database errors are bugs
# and keep their traceback.
_DATABASE = (OperationalError, InterfaceError, ArgumentError, NoSuchModuleError)
EXPECTED = (CLIError, LibrarianError, ValidationError, OSError, *_DATABASE)
_SECRET_WORDS = ("secret", "password", "token", "database_url", "key")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _setting_name(loc: tuple[int | str, ...]) -> str:
    return "LIBRARIAN_SERVER_" + "__".join(str(part) for part in loc).upper()


def settings_error_lines(exc: ValidationError) -> list[str]:
    """``LIBRARIAN_SERVER_PORT: Input should be ... (got '70000')``; secrets never echoed."""
    lines = []
    for error in exc.errors():
        loc = error.get("loc", ())
        name = _setting_name(loc) if loc else "settings"
        message = error["msg"]
        shown = error.get("input")
        secret = any(word in str(part).lower() for part in loc for word in _SECRET_WORDS)
        if loc and error["type"] != "missing" and not secret and isinstance(shown, str | int):
            message += f" (got {shown!r})"
        lines.append(f"{name}: {_one_line(message)}")
    return lines


def error_lines(exc: BaseException) -> list[str]:
    if isinstance(exc, LibrarianError):
        remedy = exc.suggested_remedy
        return [_one_line(f"{exc.reason} {remedy}" if remedy else exc.reason)]
    if isinstance(exc, ValidationError):
        if exc.title == "ServerSettings":
            return settings_error_lines(exc)
        return [_one_line(str(exc))]
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        return [_one_line(f"{exc.strerror or exc}{where}")]
    if isinstance(exc, _DATABASE):
        cause: object = getattr(exc, "orig", None) or exc  # the driver's own message
        first = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        return [
            _one_line(
                f"database error: {first}. Check LIBRARIAN_SERVER_DATABASE_URL (or its _FILE) "
                "and that the database is up."
            )
        ]
    return [_one_line(str(exc))]
