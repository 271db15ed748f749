"""The background runner: every task on its cadence, a failing one isolated and logged."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from librarian_server.background import Runner, Task, TaskContext
from librarian_server.orm import ErrorCategory, ErrorRecord
from tests.integration.conftest import Site


class Broken(Task):
    name = "cleanup"

    def run(self, ctx: TaskContext) -> dict[str, Any]:
        raise RuntimeError("the disk caught fire")


class Counting(Task):
    name = "hypervisor"

    def __init__(self) -> None:
        self.runs = 0
        self.seen_time_limit = 0.0

    def run(self, ctx: TaskContext) -> dict[str, Any]:
        self.runs += 1
        self.seen_time_limit = ctx.schedule.time_limit_seconds
        return {"runs": self.runs}


def test_a_failing_task_is_logged_and_does_not_stop_the_others(
    make_site: Callable[..., Site],
) -> None:
    site = make_site(
        background={
            "in_server": False,
            "cleanup": {"every_seconds": 0.1},
            "hypervisor": {"every_seconds": 0.1, "time_limit_seconds": 7},
        }
    )
    counting = Counting()
    runner = Runner(site.factory, site.settings, tasks=[Broken(), counting])
    results = {r.name: r for r in runner.run_once()}
    assert results["cleanup"].ok is False and "disk caught fire" in (results["cleanup"].error or "")
    assert results["hypervisor"].ok is True and results["hypervisor"].summary == {"runs": 1}
    assert counting.seen_time_limit == 7
    with site.session() as session:
        logged = session.scalars(
            select(ErrorRecord.message).where(ErrorRecord.category == ErrorCategory.BACKGROUND)
        ).all()
    assert any("disk caught fire" in m for m in logged)

    thread = threading.Thread(target=runner.run_forever)
    thread.start()
    time.sleep(1.0)
    runner.stop()
    thread.join(5)
    assert not thread.is_alive()
    assert counting.runs >= 5  # on its cadence, despite its broken neighbour


def test_disabled_tasks_do_not_run(make_site: Callable[..., Site]) -> None:
    site = make_site(background={"in_server": False, "hypervisor": {"enabled": False}})
    counting = Counting()
    runner = Runner(site.factory, site.settings, tasks=[counting])
    assert runner.run_once() == [] and counting.runs == 0
    assert runner.run_task("hypervisor").ok  # but an operator may still run it by hand
