"""The quick start's scripts: install only when something changed, start offline."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import free_port, isolated_env

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "scripts" / "run.sh"
VENV = Path(sys.executable).parent.parent


def _offline_env(home: Path, venv: Path) -> dict[str, str]:
    env = isolated_env(home)
    env.update(
        LIBRARIAN_VENV=str(venv),
        PYTHON=sys.executable,
        # No package index: what an observatory site usually has.
        PIP_INDEX_URL="http://127.0.0.1:9/simple",
        PIP_RETRIES="0",
        PIP_TIMEOUT="2",
    )
    return env


def _stamp_value() -> str:
    version = subprocess.run(
        [sys.executable, "-c", "import sys; print(sys.version)"],
        capture_output=True, text=True, check=True,
    ).stdout.splitlines()[0]  # fmt: skip
    digest = subprocess.run(
        ["sha256sum", str(ROOT / "pyproject.toml")], capture_output=True, text=True, check=True
    ).stdout.split()[0]
    return f"{version} {digest}"


def _start(env: dict[str, str], data: Path) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    proc = subprocess.Popen(
        ["bash", str(RUN), "--data-dir", str(data), "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/api/v2/ping"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"run.sh exited {proc.returncode}: {proc.stderr.read()}")  # type: ignore[union-attr]
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("run.sh did not start a server within 60 s")


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.terminate()
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err


def test_an_installed_site_starts_offline_without_reinstalling(tmp_path: Path) -> None:
    stamp = VENV / ".librarian-installed-postgres"
    previous = stamp.read_text() if stamp.exists() else None
    stamp.write_text(_stamp_value() + "\n")
    try:
        began = time.monotonic()
        proc, _ = _start(_offline_env(tmp_path / "home", VENV), tmp_path / "data")
        took = time.monotonic() - began
        err = _stop(proc)
    finally:
        if previous is None:
            stamp.unlink()
        else:
            stamp.write_text(previous)
    assert "Installing" not in err, err
    assert took < 30, f"start took {took:.1f} s"


def test_a_failed_update_starts_the_installed_version(tmp_path: Path) -> None:
    # A venv whose install is older than pyproject.toml, on a machine with no index.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    (venv / "bin" / "librarian-server").symlink_to(VENV / "bin" / "librarian-server")
    (venv / ".librarian-installed-postgres").write_text("an older install\n")
    proc, _ = _start(_offline_env(tmp_path / "home", venv), tmp_path / "data")
    err = _stop(proc)
    assert "Installing Librarian [postgres]" in err
    assert "using the installed version" in err


def test_a_first_install_without_an_index_fails_with_one_clear_line(tmp_path: Path) -> None:
    env = _offline_env(tmp_path / "home", tmp_path / "venv")
    done = subprocess.run(
        ["bash", str(RUN), "--data-dir", str(tmp_path / "data")],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode != 0
    assert done.stderr.splitlines()[-1].startswith("Installing failed:"), done.stderr
