"""``librarian webhooks``: add, list, show, enable, disable, test and remove subscriptions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from librarian_server.transfer.notify import verify_signature
from tests.integration.cli.conftest import Run
from tests.integration.conftest import Site
from tests.integration.test_webhooks import HookReceiver, deliver


@pytest.fixture
def receiver() -> Iterator[HookReceiver]:
    r = HookReceiver().start()
    yield r
    r.stop()


def test_add_list_show_test_and_remove(
    cli: Run, site: Site, receiver: HookReceiver, add_files: Callable[..., None]
) -> None:
    added = cli(
        "webhooks", "add", "ingest", receiver.url(), "--kinds", "file.committed", user="admin"
    )
    assert added.code == 0, added
    secret = added.out.strip()
    assert len(secret) >= 32 and "shown this once" in added.err
    assert f"posts file.committed to {receiver.url()}" in added.err

    add_files({"obs/a": b"a", "obs/b": b"bb"})
    deliver(site)
    assert len(receiver.posts) == 1
    post = receiver.posts[0]
    assert verify_signature(secret, post.body, post.headers["x-librarian-signature"])
    assert [e["subject"] for e in post.json()["events"]] == ["obs/a", "obs/b"]

    listed = cli("webhooks", "list", user="admin")
    assert listed.code == 0, listed
    header, row = listed.out.splitlines()
    assert header.split()[:3] == ["NAME", "STATE", "BACKLOG"]
    assert row.split()[:4] == ["ingest", "ok", "0", "2"] and row.endswith(receiver.url())
    assert cli("webhooks", user="admin").out == listed.out  # the list, without an action
    as_json = cli("--json", "webhooks", "list", user="admin").json()
    assert [h["name"] for h in as_json] == ["ingest"] and "secret" not in as_json[0]

    shown = cli("webhooks", "show", "ingest", user="admin")
    assert shown.code == 0 and secret not in shown.out
    fields = dict(
        (k, v.strip()) for k, v in (line.split(":", 1) for line in shown.out.splitlines())
    )
    assert fields["kinds"] == "file.committed" and fields["delivered"] == "2 event(s)"
    assert fields["state"] == "ok" and fields["backlog"] == "0" and "last error" not in fields

    assert cli("webhooks", "disable", "ingest", user="admin").out == "webhook ingest disabled\n"
    assert "disabled" in cli("webhooks", "list", user="admin").out
    assert cli("webhooks", "enable", "ingest", user="admin").out == "webhook ingest enabled\n"

    tested = cli("webhooks", "test", "ingest", user="admin")
    assert tested.code == 0 and tested.out.startswith("delivered (ingest:test-")
    assert receiver.posts[-1].json()["test"] is True
    receiver.status = 500
    failed = cli("webhooks", "test", "ingest", user="admin")
    assert failed.code == 1 and "not delivered" in failed.out and "answered 500" in failed.out

    removed = cli("webhooks", "remove", "ingest", user="admin")
    assert removed.code == 0 and "webhook ingest removed" in removed.out
    assert cli("webhooks", "list", user="admin").err == "no webhooks\n"
    missing = cli("webhooks", "show", "ingest", user="admin")
    assert missing.code == 1 and missing.err.rstrip().endswith("[not_found]")


def test_a_secret_from_a_file_is_used_and_never_printed(
    cli: Run, site: Site, receiver: HookReceiver, tmp_path: Path
) -> None:
    path = tmp_path / "hook.secret"
    path.write_text("the operator's own secret\n")
    added = cli(
        "--json",
        "webhooks",
        "add",
        "mine",
        receiver.url(),
        "--secret-file",
        str(path),
        user="admin",
    )
    assert added.json()["secret"] is None
    assert cli("webhooks", "test", "mine", user="admin").code == 0
    post = receiver.posts[-1]
    assert verify_signature(
        "the operator's own secret", post.body, post.headers["x-librarian-signature"]
    )


def test_errors_are_one_line(cli: Run, receiver: HookReceiver) -> None:
    bad_url = cli("webhooks", "add", "x", "ftp://example.org/", user="admin")
    assert bad_url.code == 1 and "not valid" in bad_url.err and bad_url.err.count("\n") == 1
    bad_kind = cli("webhooks", "add", "x", receiver.url(), "--kinds", "Nope", user="admin")
    assert bad_kind.code == 1 and "kinds" in bad_kind.err
    assert cli("webhooks", "add", "x", receiver.url(), user="admin").code == 0
    again = cli("webhooks", "add", "x", receiver.url(), user="admin")
    assert again.code == 1 and again.err.rstrip().endswith("[conflict]")
    writer = cli("webhooks", "list")
    assert writer.code == 1 and writer.err.rstrip().endswith("[permission_denied]")
    usage = cli("webhooks", "show", user="admin")
    assert usage.code == 2
