"""Every code block in the README runs as written, in order, as a newcomer would run it.

One walk through the README on a fresh machine: an empty HOME, a working directory
laid out like a checkout (``scripts/``, ``.venv``, ``pyproject.toml``), and the data
files the examples name. Shell blocks run in bash with ``set -e``; Python blocks run
with the project's Python. A directive in an HTML comment on the line before a block
(invisible when the README is rendered) says what else the walk must do:

- ``<!-- readme-test: start URL... [only line N: REASON] -->``: the block starts
  servers; run it (or only its line N, in the background), then wait for each URL;
- ``<!-- readme-test: skip: REASON -->``: the block needs what this machine lacks.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import isolated_env

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(sys.executable).parent.parent
FENCE = re.compile(r"^```(\w*)\s*$")
DIRECTIVE = re.compile(r"^<!--\s*readme-test:\s*(.*?)\s*-->$")
ONLY_LINE = re.compile(r"only line (\d+)")
BLOCK_TIMEOUT = 300


@dataclass
class Block:
    line: int
    lang: str
    text: str
    directive: str

    @property
    def where(self) -> str:
        return f"README.md line {self.line}"


def blocks(readme: Path) -> list[Block]:
    found: list[Block] = []
    lines = readme.read_text().splitlines()
    i = 0
    while i < len(lines):
        opened = FENCE.match(lines[i])
        if not opened:
            i += 1
            continue
        before = next((b for b in reversed(lines[:i]) if b.strip()), "")
        directive = DIRECTIVE.match(before.strip())
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        found.append(
            Block(i + 1, opened[1], "\n".join(lines[i + 1 : end]) + "\n",
                  directive[1] if directive else "")
        )  # fmt: skip
        i = end + 1
    return found


def _example_files(work: Path) -> None:
    """The files a reader brings to the examples (data to upload)."""
    for rel, size in {
        "obs/a.g3": 1000, "obs/b.g3": 2000, "obs/sub/c.g3": 3000, "big.g3": 3 << 20,
        "night1/a.g3": 4000, "night1/b.g3": 5000, "run1/D_000.g3": 6000,
        "run1/D_001.g3": 7000, "big.fits": 1 << 20,
    }.items():  # fmt: skip
        path = work / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size))


def _wait(url: str, proc: subprocess.Popen[bytes], block: Block) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/v2/ping", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if proc.poll() not in (None, 0):
            break
        time.sleep(0.3)
    raise AssertionError(f"{block.where}: nothing answered at {url}")


def _port_free(url: str) -> bool:
    port = int(url.rsplit(":", 1)[1])
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def test_every_readme_block_runs_as_written(tmp_path: Path) -> None:
    home, work = tmp_path / "home", tmp_path / "checkout"
    home.mkdir()
    work.mkdir()
    for name in ("scripts", "pyproject.toml"):
        (work / name).symlink_to(ROOT / name)
    (work / ".venv").symlink_to(VENV)
    _example_files(work)
    env = isolated_env(home)
    del env["LIBRARIAN_SERVER_WRITE_CLIENT_CONFIG"]  # a newcomer's first start saves one
    env["PATH"] = f"{VENV / 'bin'}:{env['PATH']}"
    env["LIBRARIAN_VENV"] = str(VENV)
    env["PYTHON"] = sys.executable
    # The venv is installed already: run.sh must find it so (and never reinstall it).
    stamp = VENV / ".librarian-installed-postgres"
    previous = stamp.read_text() if stamp.exists() else None
    version = subprocess.run([sys.executable, "-c", "import sys; print(sys.version)"],
                             capture_output=True, text=True, check=True).stdout.splitlines()[0]  # fmt: skip
    digest = subprocess.run(["sha256sum", str(ROOT / "pyproject.toml")],
                            capture_output=True, text=True, check=True).stdout.split()[0]  # fmt: skip
    stamp.write_text(f"{version} {digest}\n")

    started: list[subprocess.Popen[bytes]] = []
    ran, skipped = 0, []
    try:
        for block in blocks(ROOT / "README.md"):
            directive = block.directive
            if directive.startswith("skip:"):
                assert directive.removeprefix("skip:").strip(), (
                    f"{block.where}: skip needs a reason"
                )
                skipped.append(block.line)
                continue
            text = block.text
            urls = re.findall(r"https?://\S+", directive) if directive.startswith("start") else []
            only = ONLY_LINE.search(directive)
            if only:
                text = text.splitlines()[int(only[1]) - 1].split("#")[0].strip() + " &\n"
            for url in urls:
                assert _port_free(url), f"{block.where}: {url} is taken; the walk needs it free"
            if block.lang == "python":
                command = [sys.executable, "-c", text]
            else:
                command = ["bash", "-euo", "pipefail", "-c", text]
            # Output to a file: servers started in the background outlive the block.
            log = tmp_path / f"block-{block.line}.log"
            with log.open("wb") as sink:
                proc = subprocess.Popen(command, cwd=work, env=env, start_new_session=True,
                                        stdout=sink, stderr=subprocess.STDOUT)  # fmt: skip
            started.append(proc)
            if urls:
                for url in urls:
                    _wait(url, proc, block)
            else:
                try:
                    proc.wait(timeout=BLOCK_TIMEOUT)
                except subprocess.TimeoutExpired:
                    raise AssertionError(f"{block.where} took over {BLOCK_TIMEOUT} s") from None
                assert proc.returncode == 0, f"{block.where} failed:\n{log.read_text()}"
            ran += 1
    finally:
        for proc in started:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in started:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        if previous is None:
            stamp.unlink(missing_ok=True)
        else:
            stamp.write_text(previous)
    print(f"README: {ran} blocks ran, {len(skipped)} skipped (lines {skipped})")
    assert ran >= 5
