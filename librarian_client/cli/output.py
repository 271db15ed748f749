"""Shared formatting and argument parsing: human units for people, exact values for --json.

Light on purpose: the parsers (so ``--help``) and the server's admin CLI import it,
so it imports neither httpx nor pydantic.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from librarian_client.models import FileSummary

_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB")
_SIZE_FACTORS = {
    "": 1,
    "b": 1,
    "k": 1 << 10,
    "kib": 1 << 10,
    "kb": 10**3,
    "m": 1 << 20,
    "mib": 1 << 20,
    "mb": 10**6,
    "g": 1 << 30,
    "gib": 1 << 30,
    "gb": 10**9,
    "t": 1 << 40,
    "tib": 1 << 40,
    "tb": 10**12,
}
_DURATION_FACTORS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def format_size(nbytes: int) -> str:
    """``4.0 KiB``; bytes below 1 KiB are exact."""
    if abs(nbytes) < 1024:
        return f"{nbytes} B"
    value = float(nbytes)
    for unit in _UNITS:
        value /= 1024
        if abs(value) < 1024 or unit == _UNITS[-1]:
            break
    return f"{value:.1f} {unit}"


def format_time(value: datetime) -> str:
    """UTC, to the second; naive times from the server are taken as UTC."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def file_row(summary: FileSummary, *, long: bool) -> str:
    columns = [format_size(summary.size), format_time(summary.created_time)]
    if long:
        columns.append(summary.checksum)
    columns.append(summary.name)
    return format_row(columns, (SIZE_WIDTH,), right={0})


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2))


def print_json_array(items: Iterable[Any]) -> None:
    """Stream a JSON array item by item, so a million-file listing needs no memory."""
    out = sys.stdout
    separator = "[\n  "
    for item in items:
        out.write(separator + json.dumps(item))
        separator = ",\n  "
    out.write("[]\n" if separator == "[\n  " else "\n]\n")


SIZE_WIDTH = len("1023.9 KiB")
"""Sizes in a column are right-aligned to this width: every ``format_size`` fits."""


def format_row(
    cells: Sequence[object],
    widths: Sequence[int],
    *,
    right: Collection[int] = (),
    sep: str = "  ",
) -> str:
    """One line of aligned columns, the only place the CLIs pad a cell.

    Cell ``i`` is padded to ``widths[i]`` (right-aligned if ``i`` is in ``right``);
    cells past the widths are as they are. Listings printed as pages arrive use
    fixed widths, so they need no second pass; ``print_table`` measures its rows.
    """
    texts = [str(cell) for cell in cells]
    for i, width in enumerate(widths[: len(texts)]):
        texts[i] = texts[i].rjust(width) if i in right else texts[i].ljust(width)
    return sep.join(texts)


def print_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    indent: str = "",
    *,
    right: Collection[int] = (),
) -> None:
    """Headers and rows in columns as wide as their widest cell, two spaces apart."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    for row in (headers, *rows):
        print(indent + format_row(row, widths, right=right).rstrip())


# -- argparse ``type=`` parsers: a bad value is a usage error (exit 2) --------------------


def _number_with_unit(text: str, factors: dict[str, int], what: str) -> int:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    if not match or match.group(2).lower() not in factors:
        raise argparse.ArgumentTypeError(f"invalid {what}: {text!r}")
    return int(float(match.group(1)) * factors[match.group(2).lower()])


def parse_size(text: str) -> int:
    """``4096``, ``10MiB``, ``1.5G`` (binary), ``2MB`` (decimal)."""
    return _number_with_unit(text, _SIZE_FACTORS, "size")


def parse_duration(text: str) -> int:
    """Seconds from ``3600``, ``3600s``, ``45m``, ``12h``, ``30d`` or ``2w``."""
    seconds = _number_with_unit(text, _DURATION_FACTORS, "duration (e.g. 30d, 12h, 3600s)")
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"duration must be positive: {text!r}")
    return seconds


def parse_time(text: str) -> datetime:
    """ISO 8601 date or date-time; without a zone it is UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid time {text!r} (use ISO 8601, e.g. 2024-06-01 or 2024-06-01T12:00:00Z)"
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


def short_checksum(checksum: str, digits: int = 8) -> str:
    """``md5:1a2b3c4d``: enough to compare by eye; --json has the whole checksum."""
    algorithm, _, digest = checksum.partition(":")
    return f"{algorithm}:{digest[:digits]}" if digest else checksum[:digits]


def examples(*lines: str) -> str:
    """An argparse epilog (kept as written by RawDescriptionHelpFormatter)."""
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)
