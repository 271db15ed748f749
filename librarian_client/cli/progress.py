"""Progress bars on stderr for uploads, downloads and sneakernet disks."""

from __future__ import annotations

import sys
import threading
from types import TracebackType
from typing import Any

from tqdm import tqdm

from librarian_client.cli.output import format_size


class _Bar(tqdm):  # type: ignore[misc]
    """tqdm with the CLI's one unit system: KiB/MiB/GiB sizes and MiB/s, as elsewhere."""

    @property
    def format_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = super().format_dict
        n, total, elapsed = int(d["n"] or 0), d["total"], float(d["elapsed"] or 0)
        speed = d["rate"] or (n / elapsed if elapsed else None)
        d["sizes"] = f"{format_size(n)}/{format_size(int(total))}" if total else format_size(n)
        d["speed"] = f"{speed / (1 << 20):.1f} MiB/s" if speed else "- MiB/s"
        return d


BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {sizes} [{elapsed}<{remaining}, {speed}{postfix}]"


class Progress:
    """A byte-counting bar on stderr that also counts files; a no-op when disabled.

    Safe to call from several transfer threads. Once every byte has moved but files
    are still being committed, the bar says "committing" rather than sitting at
    100 % looking stuck. After a failure or Ctrl-C the bar is cleared, so the error
    line stands alone.
    """

    def __init__(self, total_bytes: int, total_files: int, desc: str, *, enabled: bool) -> None:
        self.total_bytes = total_bytes
        self.total_files = total_files
        self.files_done = 0
        self.bytes_done = 0
        self._desc = self._shown = desc
        self._lock = threading.Lock()
        self._bar = _Bar(
            total=total_bytes,
            desc=desc,
            file=sys.stderr,
            disable=not enabled,
            dynamic_ncols=True,
            bar_format=BAR_FORMAT,
            postfix=self._files(),
        )

    def _files(self) -> str:
        return f"{self.files_done}/{self.total_files} files"

    def __call__(self, nbytes: int, nfiles: int) -> None:
        with self._lock:
            self.bytes_done += nbytes
            self.files_done += nfiles
            if nbytes:
                self._bar.update(nbytes)  # drawn at most ten times a second
            all_sent = self.bytes_done >= self.total_bytes
            desc = "committing" if all_sent and self.files_done < self.total_files else self._desc
            if nfiles or desc != self._shown:  # rare events, always drawn at once
                self._shown = desc
                self._bar.set_description_str(desc, refresh=False)
                self._bar.set_postfix_str(self._files(), refresh=True)

    def grow(self, nbytes: int, nfiles: int) -> None:
        """More work than first known (a paged command learns its total page by page)."""
        with self._lock:
            self.total_bytes += nbytes
            self.total_files += nfiles
            self._bar.total = self.total_bytes
            self._bar.set_postfix_str(self._files(), refresh=True)

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self._bar.leave = False  # clear the line: no half bar above the error
        self._bar.close()
