"""The `librarian` CLI against one live server per backend: upload, list, search, download.

The server offers no local paths, so every upload sends its bytes over HTTP (PUT or bundle)
as from another machine. Each test uses its own name prefix.
"""

from __future__ import annotations

import json
import os
import random
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.e2e.conftest import CLIResult, LiveServer, md5

pytestmark = pytest.mark.e2e

MiB = 1 << 20


@pytest.fixture(scope="module")
def server(start_server: Callable[..., LiveServer], database_url: str | None) -> LiveServer:
    return start_server(
        database_url,
        env={"LIBRARIAN_SERVER_OFFER_LOCAL_PATHS": "false"},
        run_args=["--access-log"],
    )


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for relative, data in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def observation_tree() -> dict[str, bytes]:
    """50 files, 0 B to 4 MiB, up to five directories deep, some with awkward names."""
    rng = random.Random(1718574200)  # noqa: S311 - reproducible test data, not secrets
    sizes = [0, 0, 1, 2, 7, 511, 4095, 4096, 4097, 65535, 65536, 65537, MiB + 1, 4 * MiB + 17]
    sizes += [rng.randrange(1, 200_000) for _ in range(32)]
    names = [f"d{i % 4}/sub{i % 3}/f{i:02d}.dat" for i in range(len(sizes))]
    names[5] = "top.dat"
    names[6] = "a/b/c/d/e/deep.bin"
    files = {name: rng.randbytes(size) for name, size in zip(names, sizes, strict=True)}
    files["odd names/space and ümlaut.txt"] = b"unicode\n"
    files["odd names/hash#question?percent%25.txt"] = b"url-special\n"
    files["odd names/plus+equals=amp&semi;.txt"] = b"query-special\n"
    files["odd names/.hidden"] = b"dotfile\n"
    assert len(files) == 50
    return files


def listing(result: CLIResult) -> dict[str, tuple[int, str]]:
    return {f["name"]: (f["size"], f["checksum"]) for f in result.json()}


def catalogue(server: LiveServer) -> list[str]:
    return sorted(f["name"] for f in server.cli("ls", "-R", "--json").json())


def test_directory_upload_lists_searches_and_downloads_identically(
    server: LiveServer, tmp_path: Path
) -> None:
    files = observation_tree()
    src = write_tree(tmp_path / "run1", files)
    expected = {f"obs/run1/{rel}": (len(data), md5(data)) for rel, data in files.items()}
    # Neighbours that a sloppy prefix or glob would pick up.
    (tmp_path / "decoy").write_bytes(b"decoy")
    for decoy in ("obs/run10/decoy.dat", "obs/run1.dat", "obs/run1x/decoy.dat"):
        assert server.cli("upload", str(tmp_path / "decoy"), decoy).returncode == 0

    uploaded = server.cli("upload", str(src), "obs/run1/", "--json").json()
    assert {r["name"]: (r["size"], r["checksum"]) for r in uploaded} == expected
    assert not any(r["already_present"] for r in uploaded)
    # The bytes went over HTTP (a PUT each, or bundles of small files), as from afar.
    log = server.log_text()
    assert "PUT /api/v2/upload/" in log or "POST /api/v2/upload/bundle" in log

    assert listing(server.cli("ls", "-R", "obs/run1/", "--json")) == expected
    assert listing(server.cli("search", "--name", "obs/run1/*", "--json")) == expected
    assert listing(server.cli("search", "--prefix", "obs/run1/", "--json")) == expected
    small = listing(server.cli("search", "--name", "obs/run1/*", "--max-size", "0", "--json"))
    assert small == {n: v for n, v in expected.items() if v[0] == 0}
    assert len(small) == 2

    big = "obs/run1/" + next(rel for rel, data in files.items() if len(data) == 4 * MiB + 17)
    info = server.cli("info", big, "--json").json()
    assert (info["name"], info["size"], info["checksum"]) == (big, *expected[big])
    assert info["uploader"] == "writer"
    available = [i for i in info["instances"] if i["available"]]
    assert [i["store"] for i in available] == ["local"]
    assert (server.store_dir / "files" / available[0]["path"]).read_bytes() == files[
        big.removeprefix("obs/run1/")
    ]

    # A sample: both empty files, the two largest, the odd names, the deepest.
    sample = sorted(expected, key=lambda n: expected[n][0])[:2]
    sample += sorted(expected, key=lambda n: expected[n][0])[-2:]
    sample += [n for n in expected if "odd names/" in n or "deep" in n]
    out = tmp_path / "out"
    out.mkdir()

    def download(index_name: tuple[int, str]) -> tuple[str, CLIResult, Path]:
        index, name = index_name
        target = out / f"{index:02d}"
        return name, server.cli("download", name, str(target)), target

    with ThreadPoolExecutor(4) as pool:
        for name, result, target in pool.map(download, enumerate(sample)):
            assert result.returncode == 0, result
            assert target.read_bytes() == files[name.removeprefix("obs/run1/")], name

    # Into an existing directory: the file keeps its base name.
    name = "obs/run1/odd names/hash#question?percent%25.txt"
    assert server.cli("download", name, str(out)).returncode == 0
    assert (out / "hash#question?percent%25.txt").read_bytes() == b"url-special\n"
    assert server.staging_entries() == []


def test_reupload_is_idempotent_and_different_bytes_are_refused(
    server: LiveServer, tmp_path: Path
) -> None:
    files = {"a.dat": b"alpha" * 1000, "empty": b"", "sub/b.dat": b"beta" * 3000}
    src = write_tree(tmp_path / "idem", files)
    first = server.cli("upload", str(src), "idem/")
    assert first.returncode == 0, first
    assert first.stdout.startswith("uploaded 3 files")

    again = server.cli("upload", str(src), "idem/")
    assert again.returncode == 0, again
    assert again.stdout.strip() == "uploaded 0 files; 3 already present, skipped"
    as_json = server.cli("upload", str(src), "idem/", "--json").json()
    assert {r["name"]: r["already_present"] for r in as_json} == {
        "idem/a.dat": True,
        "idem/empty": True,
        "idem/sub/b.dat": True,
    }
    assert {r["name"]: r["checksum"] for r in as_json} == {
        f"idem/{rel}": md5(data) for rel, data in files.items()
    }

    same_size = tmp_path / "same-size"
    same_size.write_bytes(b"ALPHA" * 1000)
    other_size = tmp_path / "other-size"
    other_size.write_bytes(b"alpha" * 1001)
    for local in (same_size, other_size):
        line = server.cli("upload", str(local), "idem/a.dat").error()
        assert "idem/a.dat" in line
        assert "already exists" in line
    before = catalogue(server)

    # Re-sending the tree with one file changed and one new fails as a whole
    # (test_store_full checks that it leaves nothing staged).
    (src / "sub" / "b.dat").write_bytes(b"changed")
    (src / "new.dat").write_bytes(b"new")
    line = server.cli("upload", str(src), "idem/").error()
    assert "idem/sub/b.dat" in line

    assert catalogue(server) == before
    assert "idem/new.dat" not in before
    for i, (rel, data) in enumerate(files.items()):
        target = tmp_path / f"check{i}"  # downloads never overwrite a differing file
        assert server.cli("download", f"idem/{rel}", str(target)).returncode == 0
        assert target.read_bytes() == data


BAD_NAMES = ["../x", "/abs", "a//b", "a/./b", "a/../../etc/passwd", "..", "", "c\x07c", "b\\s"]
BAD_NAMES += [
    " ",
    "sp/ /x",
    "lead/ x",
    "a\u2215b",
    "x/\u2024\u2024/y",
    "x/\uff0e\uff0e",
    "bidi\u202e",
]


def test_bad_names_are_refused(server: LiveServer, tmp_path: Path) -> None:
    local = tmp_path / "f"
    local.write_bytes(b"payload")
    before, staged = catalogue(server), server.staging_entries()
    for bad_name in BAD_NAMES:
        result = server.cli("upload", str(local), bad_name)
        assert result.returncode == 1, (bad_name, result)
        assert "name" in result.error().lower(), (bad_name, result)
    assert catalogue(server) == before
    assert server.staging_entries() == staged


def test_a_directory_of_nfd_names_uploads_as_nfc(server: LiveServer, tmp_path: Path) -> None:
    """macOS writes file names in NFD; the catalogue holds NFC, found by either spelling."""
    nfc = "caf\u00e9-r\u00e9sum\u00e9.txt"
    nfd = unicodedata.normalize("NFD", nfc)
    src = tmp_path / "nfd"
    src.mkdir()
    (src / nfd).write_bytes(b"accented")
    assert server.cli("upload", str(src), "unicode/").returncode == 0
    assert f"unicode/{nfc}" in catalogue(server) and f"unicode/{nfd}" not in catalogue(server)
    back = tmp_path / "back"
    assert server.cli("download", f"unicode/{nfd}", str(back)).returncode == 0
    assert back.read_bytes() == b"accented"


def test_uploads_need_an_account_that_may_append(server: LiveServer, tmp_path: Path) -> None:
    local = tmp_path / "f"
    local.write_bytes(b"secret payload")
    bad_password = tmp_path / "wrong"
    bad_password.write_text("not-the-password\n")
    staged = server.staging_entries()

    anonymous = server.cli("upload", str(local), "auth/anonymous.dat", user=None).error()
    assert "authentication" in anonymous.lower()
    wrong = server.cli(
        "--username",
        "writer",
        "--password-file",
        str(bad_password),
        "upload",
        str(local),
        "auth/wrong.dat",
        user=None,
    ).error()
    assert "password" in wrong.lower()
    denied = server.cli("upload", str(local), "auth/reader.dat", user="reader").error()
    assert "permission" in denied.lower()
    assert "read-only" in denied

    # The reader can read, so the refusal above is about appending, not a broken account.
    assert server.cli("ls", "auth/", "--json", user="reader").json() == []
    assert server.cli("ls", "auth/", "--json").json() == []
    assert server.staging_entries() == staged


def test_token_from_the_cli_works_through_the_environment(
    server: LiveServer, tmp_path: Path
) -> None:
    created = server.cli("token", "create", "--description", "e2e")
    assert created.returncode == 0, created
    token = created.stdout.strip()
    assert token and len(created.stdout.splitlines()) == 1
    assert server.passwords["writer"] not in created.stdout

    env = {"LIBRARIAN_URL": server.url, "LIBRARIAN_TOKEN": token}
    pong = server.bare_cli("ping", "--json", env=env).json()
    assert (pong["user"], pong["permission"]) == ("writer", "read-append")

    local = tmp_path / "by-token"
    local.write_bytes(b"uploaded with a bearer token")
    assert (
        server.bare_cli("--no-progress", "upload", str(local), "token/f", env=env).returncode == 0
    )
    assert server.bare_cli("info", "token/f", "--json", env=env).json()["uploader"] == "writer"

    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    pong = server.bare_cli("--url", server.url, "--token-file", str(token_file), "ping", "--json")
    assert pong.json()["user"] == "writer"

    forged = server.bare_cli("ping", "--json", env=env | {"LIBRARIAN_TOKEN": token + "x"})
    assert forged.returncode == 1  # with --json the error is JSON on stderr
    assert "token" in json.loads(forged.stderr)["reason"].lower()
    anonymous = server.bare_cli("--url", server.url, "ping", "--json").json()
    assert anonymous["user"] is None


def test_prefix_and_glob_treat_like_wildcards_literally(server: LiveServer, tmp_path: Path) -> None:
    files = {"a_b/f": b"1", "aXb/f": b"2", "a%b/f": b"3", "a_bc/f": b"4"}
    src = write_tree(tmp_path / "like", files)
    assert server.cli("upload", str(src), "like/").returncode == 0
    assert list(listing(server.cli("ls", "like/a_b/", "--json"))) == ["like/a_b/f"]
    assert list(listing(server.cli("ls", "like/a%b/", "--json"))) == ["like/a%b/f"]
    found = listing(server.cli("search", "--name", "like/a_b*", "--json"))
    assert sorted(found) == ["like/a_b/f", "like/a_bc/f"]
    found = listing(server.cli("search", "--name", "like/a?b/f", "--json"))
    assert sorted(found) == ["like/a%b/f", "like/aXb/f", "like/a_b/f"]


def test_concurrent_identical_uploads_all_succeed(server: LiveServer, tmp_path: Path) -> None:
    staged = server.staging_entries()
    for round_ in range(3):
        files = {f"f{i:03d}": os.urandom(100 * i) for i in range(100)}
        src = write_tree(tmp_path / f"round{round_}", files)
        prefix = f"concurrent/{round_}/"
        command = ("upload", str(src), prefix)
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda args: server.cli(*args), [command] * 4))
        assert [r.stderr for r in results] == [""] * 4
        assert listing(server.cli("ls", "-R", prefix, "--json")) == {
            prefix + rel: (len(data), md5(data)) for rel, data in files.items()
        }
        assert server.staging_entries() == staged
