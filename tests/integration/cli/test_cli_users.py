"""``librarian users``, ``token list/revoke`` and ``audit`` against the in-process server,
and the password prompts through a real terminal (a pty) against the same app served live.
"""

from __future__ import annotations

import json
import os
import pty
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from tests.integration.cli.conftest import Run
from tests.integration.conftest import PASSWORD, Site

NEW = "a much longer secret phrase"


def _secret_file(tmp_path: Path, name: str, value: str) -> str:
    path = tmp_path / name
    path.write_text(value + "\n")
    return str(path)


def _can_log_in(site: Site, user: str, password: str) -> bool:
    return site.http.get("/api/v2/tokens", auth=(user, password)).status_code == 200


def test_users_lists_accounts_for_admins_only(cli: Run) -> None:
    listed = cli("users", user="admin")
    assert listed.code == 0, listed
    assert listed.out.splitlines()[0].split() == [
        "NAME", "LEVEL", "DISABLED", "TOKENS", "CREATED", "NEWEST", "TOKEN",
    ]  # fmt: skip
    assert [line.split()[0] for line in listed.out.splitlines()[1:]] == [
        "admin",
        "reader",
        "writer",
    ]
    as_json = cli("users", "list", "--json", user="admin").json()
    assert {u["name"]: u["permission"] for u in as_json} == {
        "admin": "admin",
        "reader": "read-only",
        "writer": "read-append",
    }
    refused = cli("users", user="reader")
    assert refused.code == 1 and "[permission_denied]" in refused.err


def test_users_add_update_delete(cli: Run, site: Site, tmp_path: Path) -> None:
    pw = _secret_file(tmp_path, "bob.pw", NEW)
    added = cli(
        "users", "add", "bob", "--level", "read-append", "--password-file", pw, user="admin"
    )
    assert added.code == 0, added
    assert added.out.strip() == "created user 'bob': read-append, enabled"
    assert NEW not in added.out + added.err
    assert _can_log_in(site, "bob", NEW)

    taken = cli("users", "add", "bob", "--level", "admin", "--password-file", pw, user="admin")
    assert taken.code == 1 and "[conflict]" in taken.err

    down = cli("users", "update", "bob", "--level", "read-only", "--disable", user="admin")
    assert down.out.strip() == "updated user 'bob': read-only, disabled"
    assert not _can_log_in(site, "bob", NEW)
    up = cli("--json", "users", "update", "bob", "--enable", user="admin").json()
    assert up["disabled"] is False and up["permission"] == "read-only"
    assert _can_log_in(site, "bob", NEW)
    nothing = cli("users", "update", "bob", user="admin")
    assert nothing.code == 1 and "Nothing to change" in nothing.err

    gone = cli("users", "delete", "bob", user="admin")
    assert gone.out.strip() == "deleted user 'bob' and 0 token(s)"
    assert not _can_log_in(site, "bob", NEW)
    last = cli("users", "delete", "admin", user="admin")
    assert last.code == 1 and "[last_admin]" in last.err


def test_add_without_a_file_or_a_terminal_says_what_to_do(cli: Run, site: Site) -> None:
    done = cli("users", "add", "bob", "--level", "read-only", user="admin")
    assert done.code == 1
    assert "no terminal" in done.err and "--password-file" in done.err
    assert "bob" not in {u["name"] for u in cli("--json", "users", user="admin").json()}


def test_users_password_changes_your_own(cli: Run, site: Site, tmp_path: Path) -> None:
    current = _secret_file(tmp_path, "old.pw", PASSWORD)
    new = _secret_file(tmp_path, "new.pw", NEW)
    wrong = cli("users", "password", "--current-file", new, "--password-file", new, user="reader")
    assert wrong.code == 1 and "[permission_denied]" in wrong.err
    done = cli("users", "password", "--current-file", current, "--password-file", new,
               user="reader")  # fmt: skip
    assert done.code == 0, done
    assert done.out.strip() == "changed the password of 'reader'"
    assert _can_log_in(site, "reader", NEW) and not _can_log_in(site, "reader", PASSWORD)
    # The saved connection still holds the old password: it is refused now.
    assert cli("users", "password", user="reader").code == 1


def test_token_list_and_an_admins_revocation_is_audited(cli: Run) -> None:
    token = cli("token", "create", user="writer")
    assert token.code == 0 and token.out.startswith("lib_")
    mine = cli("--json", "token", "list", user="writer").json()
    assert [t["user"] for t in mine] == ["writer"]
    everyone = cli("--json", "token", "list", "--all", user="admin").json()
    assert {t["id"] for t in mine} <= {t["id"] for t in everyone}
    assert cli("token", "list", "--all", user="writer").code == 1

    revoked = cli("token", "revoke", str(mine[0]["id"]), user="admin")
    assert revoked.out.strip() == f"revoked token {mine[0]['id']}"
    assert cli("--json", "token", "list", user="writer").json() == []

    events = cli("--json", "audit", user="admin").json()
    assert [(e["kind"], e["actor"], e["subject"]) for e in events] == [
        ("admin.token_revoked", "admin", "writer")
    ]
    assert token.out.strip() not in json.dumps(events)
    table = cli("audit", user="admin")
    assert table.out.splitlines()[0].split() == ["ID", "TIME", "KIND", "ACTOR", "SUBJECT", "DETAIL"]
    assert "admin.token_revoked" in table.out.splitlines()[1]
    assert cli("audit", user="reader").code == 1


def test_audit_limit_follows_pages(cli: Run) -> None:
    for flag in ("--disable", "--enable", "--disable"):
        assert cli("users", "update", "reader", flag, user="admin").code == 0
    two = cli("--json", "audit", "--limit", "2", user="admin").json()
    every = cli("--json", "audit", user="admin").json()
    assert len(two) == 2 and len(every) == 3 and every[:2] == two
    assert [e["detail"]["disabled"]["new"] for e in every] == [True, False, True]


# -- the prompts, through a real terminal -----------------------------------------------


@pytest.fixture
def live_url(site: Site) -> Iterator[str]:
    """The site's app served over HTTP on a free port, for a CLI in another process."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(site.http.app, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(10)
    sock.close()


class Terminal:
    """A CLI process whose stdin, stdout and stderr are a pty, as at a keyboard."""

    def __init__(self, argv: list[str]) -> None:
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "librarian_client.cli", *argv],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,  # no controlling terminal: getpass uses the pty on stdin
        )
        os.close(slave)
        self.seen = b""

    def expect(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text.encode() not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"waited for {text!r}, saw {self.seen!r}"
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # the process ended and closed the pty
                    chunk = b""
                if not chunk:
                    assert text.encode() in self.seen, f"ended before {text!r}: {self.seen!r}"
                self.seen += chunk

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\n")

    def finish(self) -> int:
        code = self.process.wait(30)
        os.close(self.master)
        return code


def test_passwords_are_asked_at_the_terminal_and_not_echoed(
    site: Site, live_url: str, tmp_path: Path
) -> None:
    admin_pw = _secret_file(tmp_path, "admin.pw", PASSWORD)
    login = ["--url", live_url, "--username", "admin", "--password-file", admin_pw]
    term = Terminal([*login, "users", "add", "dave", "--level", "read-only"])
    term.expect("Password for dave: ")
    term.type(NEW)
    term.expect("Again: ")
    term.type(NEW)
    term.expect("created user 'dave'")
    assert term.finish() == 0
    assert NEW.encode() not in term.seen  # echo was off
    assert _can_log_in(site, "dave", NEW)

    mismatch = Terminal([*login, "users", "add", "erin", "--level", "read-only"])
    mismatch.expect("Password for erin: ")
    mismatch.type(NEW)
    mismatch.expect("Again: ")
    mismatch.type(NEW + "x")
    mismatch.expect("differ")
    assert mismatch.finish() == 1

    dave_login = ["--url", live_url, "--username", "dave", "--password-file"]
    own = Terminal([*dave_login, _secret_file(tmp_path, "dave.pw", NEW), "users", "password"])
    for prompt, answer in (("Current password: ", NEW), ("New password: ", "x" * 12),
                           ("Again: ", "x" * 12)):  # fmt: skip
        own.expect(prompt)
        own.type(answer)
    own.expect("changed the password of 'dave'")
    assert own.finish() == 0
    assert _can_log_in(site, "dave", "x" * 12)
