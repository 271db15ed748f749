"""Holding the audit to its bandwidth: bytes per second and files per second.

The audit shares disks with uploads, downloads and transfers, so an operator caps
how hard it reads each store. The pace is an average since the pass began: each
chunk or file waits until the totals so far are within the limits, so the rate over
any run of more than a few chunks holds to the limit (a 1 MiB chunk is the grain).
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Pace:
    def __init__(
        self,
        bytes_per_second: float | None,
        files_per_second: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.bytes_per_second = bytes_per_second
        self.files_per_second = files_per_second
        self._clock = clock
        self._sleep = sleep
        self._started = clock()
        self.bytes = 0
        self.files = 0
        self.waited = 0.0

    @property
    def limited(self) -> bool:
        return self.bytes_per_second is not None or self.files_per_second is not None

    def read(self, nbytes: int) -> None:
        """Told of each chunk read; waits while reading is ahead of the byte limit."""
        self.bytes += nbytes
        self._hold()

    def next_file(self) -> None:
        """Called before each copy is opened; waits while ahead of the file limit."""
        self.files += 1
        self._hold()

    def _hold(self) -> None:
        due = 0.0
        if self.bytes_per_second is not None:
            due = self.bytes / self.bytes_per_second
        if self.files_per_second is not None:
            # The first file of a pass starts at once; the limit spaces the ones after it.
            due = max(due, max(self.files - 1, 0) / self.files_per_second)
        delay = self._started + due - self._clock()
        if delay > 0:
            self._sleep(delay)
            self.waited += delay
