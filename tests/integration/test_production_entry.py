"""The production entries: logging from ``create_app``, one SQLite server per data dir."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from librarian_server.app import create_app
from librarian_server.settings import ServerSettings
from tests.e2e.conftest import LIBRARIAN_SERVER, free_port, isolated_env


def librarian_file_handlers() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if getattr(h, "_librarian_handler", False)]


def test_create_app_configures_logging_once(make_settings: Callable[..., ServerSettings]) -> None:
    """``uvicorn --factory librarian_server.app:create_app`` writes the log file too."""
    settings = make_settings()
    create_app(settings)
    create_app(settings)  # idempotent: still one console and one file handler
    handlers = librarian_file_handlers()
    assert sorted(type(h).__name__ for h in handlers) == ["RotatingFileHandler", "StreamHandler"]
    logging.getLogger("librarian_server.test").warning("written by the factory's logging")
    for handler in handlers:
        handler.flush()
    log_file = settings.log_dir / "server.log"
    assert "written by the factory's logging" in log_file.read_text()


def test_second_sqlite_server_on_one_data_dir_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    holder = subprocess.Popen(  # a first server's lock, held as long as it runs
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from librarian_server.datadir_lock import lock_data_dir\n"
            "from librarian_server.settings import load_settings\n"
            f"lock_data_dir(load_settings(data_dir={str(data_dir)!r}))\n"
            "print('locked', flush=True)\n"
            "time.sleep(120)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        env = isolated_env(tmp_path / "home")
        second = subprocess.run(
            [*LIBRARIAN_SERVER, "run", "--data-dir", str(data_dir), "--port", str(free_port())],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    assert second.returncode == 1, second
    lines = second.stderr.splitlines()
    assert len(lines) == 1, second.stderr
    assert lines[0].startswith("librarian-server: error: Another server (pid ")
    assert str(data_dir) in lines[0]
