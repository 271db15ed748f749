"""The admin commands of ``librarian-server`` against a real catalogue (SQLite and PostgreSQL).

Each command runs in-process through ``main(argv)`` on the same data directory and database
as an in-process server, so its effect is checked where users meet it: over HTTP.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from librarian_server import migrate
from librarian_server.cli import main
from librarian_server.orm import User
from librarian_server.services.accounts.passwords import verify_password
from librarian_server.settings import ServerSettings
from tests.integration.conftest import PASSWORD, Site
from tests.integration.helpers import stage, upload
from tests.integration.server_cli import ServerCommand, server_command

SERVER = [sys.executable, "-c", "from librarian_server.cli import entrypoint; entrypoint()"]


Admin = ServerCommand


@pytest.fixture
def site(make_site: Callable[..., Site]) -> Site:
    return make_site()


@pytest.fixture
def admin(
    site: Site,
    database_url: str | None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Admin:
    return server_command(site, database_url, monkeypatch, capsys)


def _password_hash(site: Site, name: str) -> str:
    with site.session() as session:
        user = session.scalar(select(User).where(User.name == name))
        assert user is not None
        return user.password_hash


def _server_env(site: Site, database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIBRARIAN_")}
    env["LIBRARIAN_SERVER_DATA_DIR"] = str(site.settings.data_dir)
    if database_url is not None:
        env["LIBRARIAN_SERVER_DATABASE_URL"] = database_url
    return env


def test_a_schema_behind_head_says_to_migrate(
    make_settings: Callable[..., ServerSettings],
    database_url: str | None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # An explicit URL (even to SQLite) is "production": nothing migrates by itself.
    url = database_url or f"sqlite:///{tmp_path / 'prod.sqlite3'}"
    monkeypatch.setenv("LIBRARIAN_SERVER_DATABASE_URL", url)
    assert main(["users", "--data-dir", str(tmp_path / "d")]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    head = migrate.head_revision(make_settings(database_url=url))
    assert line == (
        f"librarian-server: error: The database schema is at nothing, this server needs "
        f"{head}. Run `librarian-server migrate` first."
    )
    assert main(["migrate", "--data-dir", str(tmp_path / "d")]) == 0
    assert main(["users", "--data-dir", str(tmp_path / "d")]) == 0
    assert "no users" in capsys.readouterr().out


def test_users_lists_name_permission_and_admin(admin: Admin) -> None:
    ran = admin("users")
    assert ran.code == 0, ran
    header, *rows = ran.out.splitlines()
    assert header.split() == ["name", "permission", "admin", "disabled", "tokens", "created"]
    table = {row.split()[0]: row.split()[1:5] for row in rows}
    assert table == {
        "admin": ["admin", "yes", "no", "0"],
        "reader": ["read-only", "no", "no", "0"],
        "writer": ["read-append", "no", "no", "0"],
    }
    assert admin("disable-user", "reader").code == 0
    listing = json.loads(admin("users", "--json").out)
    assert [(u["name"], u["admin"], u["disabled"]) for u in listing] == [
        ("admin", True, False),
        ("reader", False, True),
        ("writer", False, False),
    ]


def test_create_user_on_an_existing_name_offers_set_password(
    admin: Admin, site: Site, tmp_path: Path
) -> None:
    pw = tmp_path / "pw"
    pw.write_text("another secret\n")
    before = _password_hash(site, "writer")
    line = admin("create-user", "writer", "--level", "admin", "--password-file", str(pw)).error()
    assert line == (
        "User 'writer' already exists. To change its password: librarian-server set-password writer"
    )
    assert _password_hash(site, "writer") == before  # nothing changed

    ran = admin("set-password", "writer", "--password-file", str(pw))
    assert ran.code == 0 and ran.out == "changed the password of 'writer'\n", ran
    assert verify_password("another secret", _password_hash(site, "writer"))
    # Over HTTP, with a fresh credential cache: the new password works, the old one not.
    site.http.app.state.authenticator.cache_seconds = 0  # type: ignore[attr-defined]
    assert site.http.get("/api/v2/search", auth=("writer", "another secret")).status_code == 200
    assert site.http.get("/api/v2/search", auth=("writer", PASSWORD)).status_code == 401

    assert (
        "There is no user 'nobody'"
        in admin("set-password", "nobody", "--password-file", str(pw)).error()
    )
    pw.write_text("short\n")
    assert "too short" in admin("set-password", "writer", "--password-file", str(pw)).error()


def _run_on_a_terminal(argv: list[str], env: dict[str, str], typed: list[str]) -> str:
    """Run a command whose controlling terminal is a pseudo-terminal; answer its prompts."""
    master, slave = os.openpty()

    def take_terminal() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(
        argv,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
        preexec_fn=take_terminal,  # needed to own the terminal
    )
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 60
    try:
        for answer in typed:
            while b": " not in seen.rsplit(b"\n", 1)[-1] and time.monotonic() < deadline:
                seen += os.read(master, 4096)
            seen = b""
            os.write(master, answer.encode() + b"\n")
        output = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
        assert proc.wait(timeout=60) == 0, output
        return output.decode()
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()


def test_set_password_asks_at_the_terminal_and_never_echoes(
    site: Site, database_url: str | None
) -> None:
    env = _server_env(site, database_url)
    secret = "typed at a prompt"
    output = _run_on_a_terminal([*SERVER, "set-password", "reader"], env, [secret, secret])
    assert "changed the password of 'reader'" in output
    assert secret not in output  # the terminal did not echo it
    assert verify_password(secret, _password_hash(site, "reader"))

    # With no terminal and no --password-file, it refuses rather than read argv or stdin.
    done = subprocess.run(
        [*SERVER, "set-password", "reader"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr == (
        "librarian-server: error: no terminal to ask for the password: "
        "pass --password-file FILE (- = stdin)\n"
    )
    # A taken name is refused before anyone types a password for it.
    done = subprocess.run(
        [*SERVER, "create-user", "reader", "--level", "admin"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "To change its password: librarian-server set-password reader" in done.stderr


def test_stores_prints_sizes_for_people_and_exact_bytes_in_json(
    admin: Admin, tmp_path: Path
) -> None:
    ran = admin("add-store", "big", str(tmp_path / "big"), "--capacity", "2.5T")
    assert ran.code == 0, ran
    ran = admin("stores")
    assert ran.code == 0, ran
    header, *rows = ran.out.splitlines()
    assert header.split() == ["name", "kind", "state", "used", "room", "capacity", "policy", "root"]
    big = next(row for row in rows if row.startswith("big "))
    assert "2.5 TiB" in big and " 0 B " in big
    room = big.split()[5:7]  # "<n> <unit>"
    assert room[1] in ("KiB", "MiB", "GiB", "TiB"), big
    (info,) = [s for s in json.loads(admin("stores", "--json").out) if s["name"] == "big"]
    assert info["capacity_bytes"] == int(2.5 * (1 << 40))


def test_a_disabled_store_takes_no_uploads_but_still_serves(admin: Admin, site: Site) -> None:
    upload(site.http, site.auth(), "kept.bin", b"kept bytes")
    ran = admin("store", "disable", "local")
    assert ran.code == 0 and "disabled" in ran.out, ran
    assert "DISABLED" in admin("stores").out

    r = stage(site.http, site.auth(), [{"name": "new.bin", "size": 5}])
    assert r.status_code == 507, r.text
    assert r.json()["reason"] == "No enabled store accepts uploads."
    r = site.http.get("/api/v2/download/kept.bin", auth=site.auth("reader"))
    assert r.status_code == 200 and r.content == b"kept bytes"

    line = admin("store", "remove", "local").error()
    assert line.startswith("Store 'local' holds 1 file instance(s).")
    assert admin("store", "enable", "local").code == 0
    upload(site.http, site.auth(), "new.bin", b"again")
    assert "nosuch" in admin("store", "disable", "nosuch").error()


def test_only_an_empty_store_can_be_removed(admin: Admin, site: Site, tmp_path: Path) -> None:
    assert admin("add-store", "spare", str(tmp_path / "spare")).code == 0
    assert admin("store", "disable", "local").code == 0  # uploads now go to "spare"
    r = stage(site.http, site.auth(), [{"name": "inflight.bin", "size": 5}])
    assert r.status_code == 200, r.text
    line = admin("store", "remove", "spare").error()
    assert line.startswith("Store 'spare' has 1 upload(s) in flight.")

    transfer = r.json()["transfers"][0]
    assert site.http.put(transfer["put_path"], content=b"12345", auth=site.auth()).status_code
    # Once the upload is committed the store holds a file; once failed, it is empty.
    r = site.http.post(
        "/api/v2/upload/commit",
        json={"files": [{"transfer_id": transfer["transfer_id"], "checksum": "md5:" + "0" * 32}]},
        auth=site.auth(),
    )
    assert r.status_code == 422, r.text  # a wrong checksum fails the upload
    ran = admin("store", "remove", "spare")
    assert ran.code == 0, ran
    assert "1 finished upload record(s) forgotten" in ran.out
    assert (tmp_path / "spare").is_dir()  # the directory is left for the operator
    assert [s["name"] for s in json.loads(admin("stores", "--json").out)] == ["local"]


def test_the_last_store_can_go_only_where_nothing_recreates_it(
    admin: Admin, database_url: str | None
) -> None:
    ran = admin("store", "remove", "local")
    if database_url is None:  # the embedded default would make it again on the same directory
        assert ran.error().startswith("Store 'local' is the only store of the embedded default")
        assert admin("stores").code == 0
    else:
        assert ran.code == 0, ran
        assert "no stores; add one" in admin("stores").out


def test_add_store_if_none_adds_only_the_first(admin: Admin, tmp_path: Path) -> None:
    ran = admin("add-store", "other", str(tmp_path / "other"), "--if-none")
    assert ran.code == 0 and "none added" in ran.out, ran
    assert [s["name"] for s in json.loads(admin("stores", "--json").out)] == ["local"]


def test_dark_files_are_listed_and_handled_only_by_the_operator(admin: Admin, site: Site) -> None:
    from tests.integration.integrity.helpers import WALK_ONLY, audit, stray_file

    keep = stray_file(site, "0ab/keep-me", b"precious")
    junk = stray_file(site, "0ab/junk", b"junk")
    audit(site, WALK_ONLY)
    listed = json.loads(admin("dark", "list", "--json").out)
    ids = {r["path"]: r["id"] for r in listed}
    assert set(ids) == {"0ab/keep-me", "0ab/junk"}
    assert "0ab/junk" in admin("dark", "list").out

    ran = admin("dark", "register", str(ids["0ab/keep-me"]), "found/keep", "--by", "ana")
    assert ran.code == 0 and "registered as the new file 'found/keep'" in ran.out
    assert site.http.get("/api/v2/download/found/keep", auth=site.auth()).content == b"precious"
    ran = admin("dark", "delete", str(ids["0ab/junk"]))
    assert ran.code == 0 and not junk.exists() and keep.exists()
    assert "already deleted" in admin("dark", "delete", str(ids["0ab/junk"])).error()
    assert admin("dark", "list").out.strip() == "no dark files"
    assert len(json.loads(admin("dark", "list", "--all", "--json").out)) == 2
