"""--version, help on every option, completion scripts, JSON errors, hostile names, bars."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import httpx
import pytest

from librarian_client._download import UnsafeName, safe_relative
from librarian_client.cli import build_parser
from librarian_client.cli.completion import bash_script, zsh_script
from librarian_client.cli.progress import Progress
from tests.unit.cli.conftest import Run
from tests.unit.fake_librarian import FakeLibrarian, md5_of


def parsers(
    parser: argparse.ArgumentParser, path: str = "librarian"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from parsers(child, f"{path} {name}")


def test_version(run: Run) -> None:
    result = run("--version")

    assert result.code == 0
    assert result.out == f"librarian {metadata.version('librarian')}\n"


def test_every_option_has_help_and_every_command_examples() -> None:
    missing = []
    for path, parser in parsers(build_parser()):
        if not parser.epilog or "examples:\n  librarian " not in parser.epilog:
            missing.append(f"{path}: no examples")
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            if not action.help or action.help == argparse.SUPPRESS:
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")

    assert missing == []


def test_help_keeps_examples_as_written(run: Run) -> None:
    result = run("download", "--help")

    assert result.code == 0
    assert "\nexamples:\n  librarian download " in result.out
    assert "\n  librarian download obs/2024-06-01/ ./night1/     # the whole tree\n" in result.out


def complete(script: str, *words: str) -> list[str]:
    """What bash offers after ``words`` (the last being the word under the cursor)."""
    program = (
        f"{script}\n"
        f"COMP_WORDS=({' '.join(repr(w) for w in words)})\n"
        f"COMP_CWORD={len(words) - 1}\n"
        "_librarian_complete\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(
        ["bash", "--norc", "--noprofile"],
        input=program,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return [line for line in done.stdout.splitlines() if line]


def test_bash_completion_is_valid_and_completes_commands(tmp_path: Path, run: Run) -> None:
    printed = run("completion", "bash")
    script = bash_script(build_parser(), "librarian")
    path = tmp_path / "librarian.bash"
    path.write_text(script)

    assert printed.code == 0 and printed.out == script
    subprocess.run(["bash", "-n", str(path)], check=True, timeout=30)
    assert complete(script, "librarian", "conn") == ["connections"]
    assert complete(script, "librarian", "connections", "a") == ["add"]
    assert complete(script, "librarian", "--json", "do") == ["download"]
    assert complete(script, "librarian", "ls", "--r") == ["--recursive"]
    assert "--transfers" in complete(script, "librarian", "download", "--")
    assert complete(script, "librarian", "download", "ob") == []  # file names, by -o default
    assert "--password-file" in complete(script, "librarian", "connections", "add", "--p")


def test_zsh_completion_uses_the_same_function(run: Run, tmp_path: Path) -> None:
    printed = run("completion", "zsh")

    assert printed.code == 0
    assert printed.out.startswith("#compdef librarian\n")
    assert "bashcompinit" in printed.out
    assert printed.out.endswith(bash_script(build_parser(), "librarian"))
    assert zsh_script(build_parser(), "librarian") == printed.out
    if shutil.which("zsh") is None:
        pytest.skip("zsh is not installed here, so `zsh -n` cannot check the script")
    path = tmp_path / "_librarian"
    path.write_text(printed.out)
    subprocess.run(["zsh", "-n", str(path)], check=True, timeout=30)


def test_completion_needs_a_shell_name(run: Run) -> None:
    assert run("completion", "fish").code == 2


@pytest.mark.usefixtures("configured")
def test_json_errors_go_to_stderr_as_json(run: Run) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    missing = run("info", "nope", "--json")
    unreachable = run("--json", "ping", transport=httpx.MockTransport(refuse))
    usage = run("--json", "frobnicate")

    assert (missing.code, missing.out) == (1, "")
    assert json.loads(missing.err) == {
        "reason": "No file named 'nope'.",
        "suggested_remedy": "Check the name.",
    }
    assert unreachable.code == 1
    assert "Connection refused" in json.loads(unreachable.err)["reason"]
    assert usage.code == 2
    assert set(json.loads(usage.err)) == {"reason", "suggested_remedy"}


@pytest.mark.parametrize(
    "relative",
    ["../etc/passwd", "a/../../x", "/etc/passwd", "a//b", "./a", "a\\..\\b", "a/\x00b", ""],
)
def test_hostile_names_are_refused(relative: str) -> None:
    with pytest.raises(UnsafeName):
        safe_relative("p/" + relative, relative)


def test_safe_names_are_kept() -> None:
    assert safe_relative("p/a b/ü.txt", "a b/ü.txt") == ["a b", "ü.txt"]


@pytest.mark.usefixtures("configured")
def test_a_hostile_listing_writes_nothing(run: Run, tmp_path: Path) -> None:
    """A server (or a proxy) listing '../' names cannot make the CLI write outside DIR."""
    fake = FakeLibrarian()
    fake.add_file("p/ok.txt", b"fine")
    fake.add_file("p/../../escaped.txt", b"hostile")  # the real server refuses such names

    result = run("download", "p/", str(tmp_path / "dir"), transport=fake.transport)

    assert result.code == 1
    assert "not a safe local path" in result.err
    assert not (tmp_path / "escaped.txt").exists()
    assert not (tmp_path / "dir").exists()


@pytest.mark.usefixtures("configured")
def test_download_never_overwrites_without_force(
    run: Run, fake: FakeLibrarian, tmp_path: Path
) -> None:
    fake.add_file("f", b"server bytes")
    (tmp_path / "f").write_bytes(b"local bytes")

    refused = run("download", "f", str(tmp_path))
    forced = run("download", "f", str(tmp_path), "--force")
    again = run("download", "f", str(tmp_path))

    assert refused.code == 1 and "--force" in refused.err
    assert forced.code == 0 and (tmp_path / "f").read_bytes() == b"server bytes"
    assert again.code == 0 and again.out.startswith("skipped ")
    assert md5_of(b"server bytes") == fake.files["f"].checksum


def test_progress_says_committing_once_every_byte_is_sent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with Progress(2 << 20, 2, "upload", enabled=True) as bar:
        bar(1 << 20, 0)
        bar(1 << 20, 0)  # every byte sent, nothing committed yet
        bar(0, 2)
    drawn = capsys.readouterr().err.split("\r")

    assert any(s.startswith("committing: 100%") and "0/2 files" in s for s in drawn)
    assert drawn[-1].startswith("upload: 100%") and "2/2 files" in drawn[-1]
    assert "2.0 MiB/2.0 MiB" in drawn[-1] and "MiB/s" in drawn[-1]


def test_progress_bar_is_cleared_after_ctrl_c(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(KeyboardInterrupt), Progress(100, 1, "upload", enabled=True) as bar:
        time.sleep(0.15)  # bars redraw at most ten times a second
        bar(50, 0)
        raise KeyboardInterrupt
    drawn = capsys.readouterr().err

    assert "upload:  50%" in drawn
    assert drawn.split("\r")[-1].strip() == ""  # the last thing drawn blanks the line
    assert not drawn.endswith("\n")


@pytest.mark.usefixtures("configured")
def test_ctrl_c_during_an_upload_leaves_one_line(
    run: Run, fake: FakeLibrarian, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)

    def interrupt_on_bytes(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/bundle") or request.method == "PUT":
            raise KeyboardInterrupt
        return fake.handle(request)

    result = run("upload", str(tree), "x/", transport=httpx.MockTransport(interrupt_on_bytes))

    assert result.code == 130
    last = result.err.split("\r")[-1]
    assert last.lstrip() == "librarian: error: interrupted\n"
    assert fake.files == {}
