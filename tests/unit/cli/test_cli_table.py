"""One table printer: measured tables, fixed-width rows for streamed listings, right alignment."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from librarian_client.cli.catalogue import _entry_row
from librarian_client.cli.output import file_row, format_row, print_table
from librarian_client.models import FileSummary


def test_a_table_is_as_wide_as_its_widest_cells(capsys: pytest.CaptureFixture[str]) -> None:
    print_table(("NAME", "SIZE"), [("a", "1.0 KiB"), ("longer", "12 B")], indent="  ", right={1})

    assert capsys.readouterr().out == ("  NAME       SIZE\n  a       1.0 KiB\n  longer     12 B\n")


def test_the_last_column_is_not_padded_and_trailing_blanks_are_dropped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    print_table(("A", "B"), [("x", ""), ("yy", "z")])

    assert capsys.readouterr().out.splitlines() == ["A   B", "x", "yy  z"]


def test_fixed_widths_pad_cells_overflow_and_leave_the_rest_alone() -> None:
    assert format_row(("a", "b", "c d "), (3, 2)) == "a    b   c d "
    assert format_row(("toolong", "b"), (3,)) == "toolong  b"
    assert format_row(("7", "x"), (4,), right={0}, sep=" ") == "   7 x"
    assert format_row(("a",), (3, 5)) == "a  "


def test_streamed_listing_rows_keep_their_columns() -> None:
    summary = FileSummary(
        name="obs/run1/a.g3",
        size=4096,
        checksum="md5:" + "1a2b3c4d" * 4,
        uploader="alice",
        source="test",
        created_time=datetime(2024, 6, 1, 12, tzinfo=UTC),
    )

    assert file_row(summary, long=False) == "   4.0 KiB  2024-06-01 12:00:00Z  obs/run1/a.g3"
    assert _entry_row(summary, "obs/run1/", long=True) == (
        "   4.0 KiB  2024-06-01 12:00:00Z  md5:1a2b3c4d  a.g3"
    )
    assert _entry_row("obs/run1/sub/", "obs/run1/", long=True) == (
        "         -  -                     -             sub/"
    )
