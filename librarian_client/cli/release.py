"""``librarian release``: apply a store's release or tiering policy, or say what it would do."""

from __future__ import annotations

import sys
from collections.abc import Iterator

from librarian_client.cli.context import Context
from librarian_client.cli.output import format_row, format_size, print_json_array
from librarian_client.models import ReleaseCandidate, ReleaseResponse

_WIDTHS = (9, 10)


class _Tally:
    """What the pages held, counted as they stream past (and drawn on the bar, if any)."""

    def __init__(self, dry_run: bool) -> None:
        self.dry_run = dry_run
        self.seen = 0
        self.chosen = 0  # released, or would be on a dry run
        self.chosen_bytes = 0

    def candidates(self, pages: Iterator[ReleaseResponse]) -> Iterator[ReleaseCandidate]:
        for page in pages:
            for c in page.candidates:
                self.seen += 1
                if c.released or (self.dry_run and c.releasable):
                    self.chosen += 1
                    self.chosen_bytes += c.size
                yield c

    def verdict(self, c: ReleaseCandidate) -> str:
        if c.released:
            return "released"
        return "would" if self.dry_run and c.releasable else "kept"


def cmd_release(ctx: Context) -> int:
    args = ctx.args
    tally = _Tally(bool(args.dry_run))
    with ctx.client() as client:
        pages = client.release(args.store, dry_run=tally.dry_run, page_size=args.page_size)
        if ctx.json:
            print_json_array(c.model_dump(mode="json") for c in tally.candidates(pages))
        elif tally.dry_run:
            print(format_row(("VERDICT", "SIZE", "NAME"), _WIDTHS))
            for c in tally.candidates(pages):
                print(format_row((tally.verdict(c), format_size(c.size), c.name), _WIDTHS))
                print(f"    {c.reason}")
        else:
            _release(ctx, tally, pages)
    what = "would be released" if tally.dry_run else "released"
    print(
        f"{args.store}: {tally.seen} candidate(s); {tally.chosen} {what} "
        f"({format_size(tally.chosen_bytes)})",
        file=sys.stderr,
    )
    return 0


def _release(ctx: Context, tally: _Tally, pages: Iterator[ReleaseResponse]) -> None:
    """Each page is released on the server as it is asked for; the bar counts pages'
    candidates as they come back, and the kept ones are listed after it."""
    kept: list[ReleaseCandidate] = []
    with ctx.progress(0, 0, f"releasing {ctx.args.store}") as bar:
        for page in pages:
            bar.grow(sum(c.size for c in page.candidates), len(page.candidates))
            for c in tally.candidates(iter([page])):
                bar(c.size, 1)
                if not c.released:
                    kept.append(c)
    for c in kept:
        print(format_row(("kept", format_size(c.size), c.name), _WIDTHS))
        print(f"    {c.reason}")
