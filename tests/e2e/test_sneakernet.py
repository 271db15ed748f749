"""Disks carried by hand, between two live sites that do not push over the network.

The mountain exports what ucsd lacks onto a "disk" (a directory on this machine),
ucsd ingests it, and the mountain learns of the copies through ucsd's check-ins.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import shutil
import signal
import struct
import subprocess
import termios
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import LIBRARIAN, LiveServer
from tests.e2e.sites import file_info, has_files, incoming, link, outgoing, site_env, wait_for
from tests.filesystems import small_filesystem

pytestmark = pytest.mark.e2e
DISK_ENV = {
    "LIBRARIAN_SERVER_SNEAKERNET__CHUNK_FILES": "8",
    "LIBRARIAN_SERVER_SNEAKERNET__OVERDUE_DAYS": "0.00002",  # about two seconds
}


@pytest.fixture(scope="module")
def sites(
    start_server: Callable[..., LiveServer],
    database_url: str | None,
    new_database: Callable[[], str | None],
) -> tuple[LiveServer, LiveServer]:
    mountain = start_server(database_url, env=site_env("mountain", **DISK_ENV))
    ucsd = start_server(new_database(), env=site_env("ucsd", **DISK_ENV))
    link(mountain, ucsd, "--no-push")  # the radio link is too thin: files go by disk
    link(ucsd, mountain, "--no-push")  # ucsd reaches the mountain only to confirm
    return mountain, ucsd


def _upload(server: LiveServer, tmp_path: Path, prefix: str, files: dict[str, bytes]) -> list[str]:
    local = tmp_path / prefix
    local.mkdir(parents=True)
    for name, data in files.items():
        (local / name).write_bytes(data)
    assert server.cli("upload", str(local), f"{prefix}/").returncode == 0
    return [f"{prefix}/{n}" for n in files]


def _export(server: LiveServer, disk: Path, *extra: str) -> dict[str, Any]:
    disk.mkdir(exist_ok=True)
    summary: dict[str, Any] = server.cli(
        "sneakernet", "export", "--peer", "ucsd", "--to", str(disk), *extra, "--json",
        user="admin",
    ).json()  # fmt: skip
    return summary


def _ingest(server: LiveServer, disk: Path) -> tuple[int, dict[str, Any]]:
    result = server.cli("sneakernet", "ingest", str(disk), "--json", user="admin")
    return result.returncode, json.loads(result.stdout)


def _disk(server: LiveServer, label: str) -> dict[str, Any]:
    disks = server.cli("sneakernet", "status", "--json", user="admin").json()
    (disk,) = [d for d in disks if d["label"] == label]
    found: dict[str, Any] = disk
    return found


def test_export_ingest_and_the_source_learns_of_the_copies(
    sites: tuple[LiveServer, LiveServer], tmp_path: Path
) -> None:
    mountain, ucsd = sites
    files = {f"f{i:02d}.g3": os.urandom(3000 + i) for i in range(20)}
    files["big.g3"] = os.urandom(3 * 1024 * 1024 + 1)
    names = _upload(mountain, tmp_path, "night1", files)
    summary = _export(mountain, tmp_path / "disk1")
    assert (summary["files"], summary["stopped"], summary["left"]) == (21, "complete", 0)
    export_dir = Path(summary["path"])
    lines = (export_dir / "manifest.jsonl").read_text().splitlines()
    header, end = json.loads(lines[0]), json.loads(lines[-1])
    assert (header["format"], header["version"]) == ("librarian-disk", 1)
    assert (header["source"], header["destination"]) == ("mountain", "ucsd")
    assert end["end"] is True and end["files"] == 21 and end["stopped"] == "complete"
    assert {json.loads(line)["name"] for line in lines[1:-1]} == set(names)
    disk = _disk(mountain, summary["label"])
    assert (disk["files"], disk["confirmed"], disk["unconfirmed"]) == (21, 0, 21)
    # Exported files are on their way: a second export has nothing to add.
    assert _export(mountain, tmp_path / "disk1b")["stopped"] == "nothing_to_send"

    code, ingested = _ingest(ucsd, tmp_path / "disk1")
    assert code == 0, ingested
    assert (ingested["committed"], ingested["already_present"], ingested["bad"]) == (21, 0, [])
    for name, data in zip(names, files.values(), strict=True):
        back = tmp_path / f"back-{name.replace('/', '_')}"  # never overwritten
        assert ucsd.cli("download", name, str(back)).returncode == 0
        assert back.read_bytes() == data
        info = file_info(ucsd, name)
        assert info is not None and info["source"] == "mountain"
        assert [r["site"] for r in info["remote_instances"]] == ["mountain"]

    wait_for(lambda: _disk(mountain, summary["label"])["confirmed"] == 21, what="check-ins")
    sent = [t for t in outgoing(mountain) if t["name"] in names]
    assert {(t["status"], t["transfer_manager"], t["external_id"]) for t in sent} == {
        ("COMPLETED", "sneakernet", summary["label"])
    }
    assert all(
        [r["site"] for r in (file_info(mountain, n) or {})["remote_instances"]] == ["ucsd"]
        for n in names
    )
    shown = mountain.cli("info", "night1/big.g3")
    assert "ucsd" in shown.stdout


def test_the_source_offline_during_ingest_hears_later(
    sites: tuple[LiveServer, LiveServer], tmp_path: Path
) -> None:
    mountain, ucsd = sites
    names = _upload(mountain, tmp_path, "night2", {f"g{i}": os.urandom(500) for i in range(6)})
    summary = _export(mountain, tmp_path / "disk2")
    assert summary["files"] == 6
    mountain.kill()  # the mountain is out of reach while the disk is ingested
    try:
        code, ingested = _ingest(ucsd, tmp_path / "disk2")
        assert code == 0 and ingested["committed"] == 6
        assert has_files(ucsd, names)
    finally:
        mountain.start()
    wait_for(lambda: _disk(mountain, summary["label"])["confirmed"] == 6, what="late check-ins")
    assert {t["status"] for t in outgoing(mountain) if t["name"] in names} == {"COMPLETED"}


def test_bad_and_missing_files_are_reported_and_sent_again(
    sites: tuple[LiveServer, LiveServer], tmp_path: Path
) -> None:
    mountain, ucsd = sites
    names = _upload(mountain, tmp_path, "night3", {f"h{i}": os.urandom(800) for i in range(10)})
    summary = _export(mountain, tmp_path / "disk3")
    export_dir = Path(summary["path"])
    entries = {
        json.loads(line)["name"]: json.loads(line)
        for line in (export_dir / "manifest.jsonl").read_text().splitlines()[1:-1]
    }
    damaged = export_dir / entries["night3/h3"]["path"]
    data = bytearray(damaged.read_bytes())
    data[100] ^= 0xFF
    damaged.write_bytes(bytes(data))
    (export_dir / entries["night3/h7"]["path"]).unlink()
    # A damaged (or hostile) manifest line: a name that is not a catalogue name, a path
    # that leaves the disk. Neither is read or written.
    manifest = export_dir / "manifest.jsonl"
    lines = manifest.read_text().splitlines(keepends=True)
    evil = dict(entries["night3/h0"], name="../escape", path="../../../../etc/hostname")
    manifest.write_text("".join([*lines[:-1], json.dumps(evil) + "\n", lines[-1]]))
    # The added line is not signed by the mountain: the disk is refused whole...
    result = ucsd.cli("sneakernet", "ingest", str(tmp_path / "disk3"), user="admin")
    assert result.returncode == 1 and "mis-signed" in result.error(), result
    assert "'../escape'" in result.error() and "--accept-unsigned" in result.error()
    assert not has_files(ucsd, names)
    # ...unless an administrator accepts it, and then each line is still checked.
    result = ucsd.cli(
        "sneakernet", "ingest", str(tmp_path / "disk3"), "--accept-unsigned", "--json",
        user="admin",
    )  # fmt: skip
    ingested = json.loads(result.stdout)
    assert "mis-signed" in ingested["unverified"][0]["reason"]
    assert result.returncode == 1 and "3 of 11 files" in result.stderr
    assert ingested["committed"] == 8
    bad = {p["name"]: p["reason"] for p in ingested["bad"]}
    assert set(bad) == {"night3/h3", "../escape"}
    assert "hashes to" in bad["night3/h3"] and "'..'" in bad["../escape"]
    assert [p["name"] for p in ingested["missing"]] == ["night3/h7"]
    assert has_files(ucsd, [n for n in names if n not in ("night3/h3", "night3/h7")])
    assert not has_files(ucsd, ["night3/h3"]) and not has_files(ucsd, ["night3/h7"])
    assert ucsd.staging_entries() == []  # the bad copy left nothing behind

    wait_for(lambda: _disk(mountain, summary["label"])["confirmed"] == 8, what="check-ins")
    disk = _disk(mountain, summary["label"])
    assert (disk["unconfirmed"], disk["returned"]) == (0, 2)
    back = {t["name"]: t for t in outgoing(mountain) if t["name"] in ("night3/h3", "night3/h7")}
    assert {t["status"] for t in back.values()} == {"INITIATED"}  # waiting to be sent again
    assert (
        "hashes to" in back["night3/h3"]["error"]
        and "not on the disk" in back["night3/h7"]["error"]
    )
    # The next disk takes them.
    again = _export(mountain, tmp_path / "disk3b")
    assert again["files"] == 2
    code, second = _ingest(ucsd, tmp_path / "disk3b")
    assert code == 0 and second["committed"] == 2
    assert has_files(ucsd, names)


def test_ingesting_a_disk_twice_adds_nothing(
    sites: tuple[LiveServer, LiveServer], tmp_path: Path
) -> None:
    mountain, ucsd = sites
    names = _upload(mountain, tmp_path, "night4", {f"k{i}": os.urandom(600) for i in range(5)})
    _export(mountain, tmp_path / "disk4")
    assert _ingest(ucsd, tmp_path / "disk4")[1]["committed"] == 5
    code, again = _ingest(ucsd, tmp_path / "disk4")
    assert code == 0 and (again["committed"], again["already_present"]) == (0, 5)
    arrivals = Counter(t["name"] for t in incoming(ucsd) if t["name"] in names)
    assert arrivals == Counter(names)  # one transfer each: the second pass staged nothing
    for name in names:
        info = file_info(ucsd, name)
        assert info is not None and len(info["instances"]) == 1


def test_an_export_killed_half_way_leaves_a_disk_that_ingests(
    sites: tuple[LiveServer, LiveServer], tmp_path: Path
) -> None:
    mountain, ucsd = sites
    names = _upload(
        mountain, tmp_path, "night5", {f"m{i:03d}": os.urandom(200_000) for i in range(150)}
    )
    disk = tmp_path / "disk5"
    disk.mkdir()
    command = [*LIBRARIAN, "--url", mountain.url, "--username", "admin", "--password-file",
               str(mountain.password_file("admin")), "--no-progress",
               "sneakernet", "export", "--peer", "ucsd", "--to", str(disk)]  # fmt: skip
    export = subprocess.Popen(command, env=mountain.env, stdout=subprocess.DEVNULL)

    def listed() -> int:
        manifests = list(disk.glob("librarian-*/manifest.jsonl"))
        return len(manifests[0].read_text().splitlines()) - 1 if manifests else 0

    try:
        wait_for(lambda: listed() >= 24, timeout=60, what="the export to be under way")
        mountain.kill()  # the server dies in the middle of writing the disk
    finally:
        export.wait(30)
    lines = next(disk.glob("librarian-*/manifest.jsonl")).read_text().splitlines()
    assert not json.loads(lines[-1]).get("end"), "the export should not have finished"
    on_disk = [json.loads(line)["name"] for line in lines[1:] if line.endswith("}")]
    assert 24 <= len(on_disk) < len(names)

    code, ingested = _ingest(ucsd, disk)
    assert code == 0, ingested
    assert ingested["committed"] == len(on_disk) and not ingested["bad"]
    assert has_files(ucsd, on_disk)

    mountain.start()
    label = json.loads(lines[0])["label"]
    wait_for(lambda: _disk(mountain, label)["confirmed"] == len(on_disk), what="check-ins")
    # Files claimed for the disk but never written wait as overdue, then go another way.
    wait_for(lambda: _disk(mountain, label)["overdue"] or not _disk(mountain, label)["unconfirmed"],
             what="the disk to be overdue")  # fmt: skip
    unconfirmed = _disk(mountain, label)["unconfirmed"]
    requeued = mountain.cli("sneakernet", "requeue", label, "--json", user="admin").json()
    assert requeued["requeued"] == unconfirmed
    rest = _export(mountain, tmp_path / "disk5b")
    assert rest["files"] == len(names) - len(on_disk)
    assert _ingest(ucsd, tmp_path / "disk5b")[0] == 0
    assert has_files(ucsd, names)


def test_max_bytes_and_a_full_disk_stop_cleanly_and_the_next_disk_continues(
    sites: tuple[LiveServer, LiveServer], tmp_path: Path
) -> None:
    mountain, ucsd = sites
    names = _upload(
        mountain, tmp_path, "night6", {f"n{i:02d}": os.urandom(1_000_000) for i in range(12)}
    )
    first = _export(mountain, tmp_path / "disk6a", "--max-bytes", "3500000")
    assert (first["files"], first["stopped"], first["left"]) == (3, "max_bytes", 9)
    # A disk of its own with room for about three files beyond what the server keeps free,
    # whatever else the machine is writing.
    with small_filesystem(tmp_path / "disk6b", 6_000_000) as disk:
        mountain.env["LIBRARIAN_SERVER_SNEAKERNET__RESERVE_BYTES"] = "2500000"
        mountain.restart()
        try:
            second = _export(mountain, disk)
        finally:
            del mountain.env["LIBRARIAN_SERVER_SNEAKERNET__RESERVE_BYTES"]
            mountain.restart()
        shutil.copytree(disk, tmp_path / "disk6b-copy")  # the disk, carried off the mountain
    assert second["stopped"] == "disk_full" and 1 <= second["files"] <= 4
    assert second["left"] == 9 - second["files"]
    third = _export(mountain, tmp_path / "disk6c")
    assert (third["stopped"], third["files"]) == ("complete", second["left"])
    for carried in ("disk6a", "disk6b-copy", "disk6c"):
        assert _ingest(ucsd, tmp_path / carried)[0] == 0
    assert has_files(ucsd, names)
    arrivals = Counter(t["name"] for t in incoming(ucsd) if t["name"] in names)
    assert arrivals == Counter(names)  # each file on exactly one disk


def test_ctrl_c_stops_an_export_cleanly(
    sites: tuple[LiveServer, LiveServer], tmp_path: Path
) -> None:
    mountain, _ = sites
    # Enough to take seconds to write (a disk takes ~100 MB/s here), so Ctrl-C lands mid-way
    # even when a busy machine is slow to notice that the export is under way.
    _upload(mountain, tmp_path, "night7", {f"p{i:03d}": os.urandom(3 << 20) for i in range(200)})
    disk = tmp_path / "disk7"
    disk.mkdir()
    command = [*LIBRARIAN, "--url", mountain.url, "--username", "admin", "--password-file",
               str(mountain.password_file("admin")), "--no-progress",
               "sneakernet", "export", "--peer", "ucsd", "--to", str(disk)]  # fmt: skip
    export = subprocess.Popen(command, env=mountain.env, stderr=subprocess.PIPE)

    def manifest() -> list[str]:
        found = list(disk.glob("librarian-*/manifest.jsonl"))
        return found[0].read_text().splitlines() if found else []

    try:
        wait_for(lambda: len(manifest()) > 9, timeout=60, what="the export to be under way")
        export.send_signal(signal.SIGINT)
        _, stderr = export.communicate(timeout=30)
    finally:
        if export.poll() is None:
            export.kill()
    assert export.returncode == 130 and b"interrupted" in stderr
    wait_for(lambda: json.loads(manifest()[-1]).get("end"), what="the server to close the disk")
    lines = manifest()
    end = json.loads(lines[-1])
    assert end["stopped"] == "interrupted" and end["files"] == len(lines) - 2 < 200
    disk_info = _disk(mountain, json.loads(lines[0])["label"])
    # Only what is on the disk is claimed by it; the rest went back to the pool.
    assert disk_info["files"] == disk_info["unconfirmed"] == end["files"]


def _run_on_a_terminal(command: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Run with stderr on a pseudo-terminal (so progress bars are drawn); return what it drew."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 160, 0, 0))  # 160 columns
    try:
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=slave)
    finally:
        os.close(slave)
    drawn = bytearray()
    try:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the process closed the terminal
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(master)
        out, _ = process.communicate(timeout=60)
    return process.returncode, out.decode(), drawn.decode(errors="replace")


def test_the_export_progress_bar_moves(
    sites: tuple[LiveServer, LiveServer], tmp_path: Path
) -> None:
    mountain, _ = sites
    _upload(mountain, tmp_path, "night8", {f"q{i:03d}": os.urandom(1 << 20) for i in range(120)})
    disk = tmp_path / "disk8"
    disk.mkdir()
    command = [*LIBRARIAN, "--url", mountain.url, "--username", "admin", "--password-file",
               str(mountain.password_file("admin")),
               "sneakernet", "export", "--peer", "ucsd", "--to", str(disk)]  # fmt: skip

    returncode, out, drawn = _run_on_a_terminal(command, mountain.env)

    assert returncode == 0, drawn
    percentages = [int(p) for p in re.findall(r"(\d+)%\|", drawn)]
    assert any(0 < p < 100 for p in percentages), drawn  # it moved while the disk was written
    assert percentages[-1] == 100
    # Earlier tests may have left files for ucsd too: the total is whatever the export found.
    counts = [(int(done), int(total)) for done, total in re.findall(r"(\d+)/(\d+) files", drawn)]
    total = counts[0][1]
    assert total >= 120 and {t for _, t in counts} == {total}
    done = [d for d, _ in counts]
    assert done == sorted(done) and done[-1] == total and any(0 < d < total for d in done)
    assert f": {total} files, " in out
    assert "MiB/s" in drawn and "MB/s" not in drawn.replace("MiB/s", "")


def test_a_name_that_is_a_directory_here_is_refused_alone(
    sites: tuple[LiveServer, LiveServer], tmp_path: Path
) -> None:
    """ucsd holds files under night9/clash; the mountain's file of that name cannot land."""
    mountain, ucsd = sites
    inner = tmp_path / "inner"
    inner.write_bytes(b"already here")
    assert ucsd.cli("upload", str(inner), "night9/clash/inner").returncode == 0
    _upload(mountain, tmp_path, "night9", {"clash": os.urandom(700), "ok": os.urandom(700)})
    _export(mountain, tmp_path / "disk9")
    result = ucsd.cli("sneakernet", "ingest", str(tmp_path / "disk9"), "--json", user="admin")
    ingested = json.loads(result.stdout)
    bad = {p["name"]: p["reason"] for p in ingested["bad"]}
    assert "night9/clash" in bad and "'night9/clash' is a directory" in bad["night9/clash"]
    assert has_files(ucsd, ["night9/ok", "night9/clash/inner"])
    assert not has_files(ucsd, ["night9/clash"])
    assert ucsd.staging_entries() == []
