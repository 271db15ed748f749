"""The audit's pace: the totals read never run ahead of the limits."""

from __future__ import annotations

from librarian_server.services.integrity.pace import Pace


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_bytes_per_second_spaces_the_chunks() -> None:
    clock = _Clock()
    pace = Pace(1000, None, clock=clock, sleep=clock.sleep)
    for _ in range(10):
        pace.read(500)
    assert clock.now == 5.0 and pace.waited == 5.0


def test_files_per_second_lets_the_first_file_start_at_once() -> None:
    clock = _Clock()
    pace = Pace(None, 4, clock=clock, sleep=clock.sleep)
    pace.next_file()
    assert clock.now == 0.0
    for _ in range(8):
        pace.next_file()
    assert clock.now == 2.0


def test_time_spent_reading_counts_towards_the_limit() -> None:
    clock = _Clock()
    pace = Pace(1000, None, clock=clock, sleep=clock.sleep)
    clock.now = 3.0  # a slow disk took 3 s for the first 2,000 bytes
    pace.read(2000)
    assert pace.waited == 0.0
    pace.read(2000)
    assert clock.now == 4.0


def test_no_limit_never_waits() -> None:
    clock = _Clock()
    pace = Pace(None, None, clock=clock, sleep=clock.sleep)
    for _ in range(100):
        pace.next_file()
        pace.read(1 << 20)
    assert clock.now == 0.0 and not pace.limited
