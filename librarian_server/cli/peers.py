"""Peer sites: add, change, remove and list them."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from librarian_client.cli.output import format_row
from librarian_server.cli.common import open_catalogue, read_secret, settings_from


def _peer_policy(args: argparse.Namespace) -> dict[str, object]:
    """The policy flags shared by add-peer and update-peer; only those given."""
    policy: dict[str, object] = {}
    if args.push is not None:
        policy["push"] = args.push
    if args.forward is not None:
        policy["forward"] = args.forward
    if args.name_glob is not None:
        policy["name_glob"] = args.name_glob or None
    if args.created_after is not None:
        policy["created_after"] = args.created_after or None
    if args.managers is not None:
        policy["managers"] = [m for m in args.managers.split(",") if m]
    return policy


def cmd_add_peer(args: argparse.Namespace) -> int:
    from librarian_server.services.core.credentials import CredentialBox
    from librarian_server.services.replication.peers import add_peer

    settings = settings_from(args)
    password = read_secret(args.password_file)
    engine, factory = open_catalogue(settings)
    with factory.begin() as session:
        peer = add_peer(
            session,
            name=args.name,
            url=args.url,
            username=args.username,
            password=password,
            box=CredentialBox.for_settings(settings),
            settings=settings,
            **_peer_policy(args),  # type: ignore[arg-type]
        )
        print(f"added peer {peer.name!r} at {peer.url} (push: {'yes' if peer.push else 'no'})")
    engine.dispose()
    return 0


def cmd_update_peer(args: argparse.Namespace) -> int:
    from librarian_server.services.core.credentials import CredentialBox
    from librarian_server.services.replication.peers import update_peer

    settings = settings_from(args)
    password = None if args.password_file is None else read_secret(args.password_file)
    engine, factory = open_catalogue(settings)
    with factory.begin() as session:
        peer = update_peer(
            session,
            args.name,
            box=CredentialBox.for_settings(settings),
            url=args.url,
            username=args.username,
            password=password,
            enabled=args.enabled,
            **_peer_policy(args),  # type: ignore[arg-type]
        )
        print(f"updated peer {peer.name!r}")
    engine.dispose()
    return 0


def cmd_remove_peer(args: argparse.Namespace) -> int:
    from librarian_server.services.replication.peers import remove_peer

    engine, factory = open_catalogue(settings_from(args))
    with factory.begin() as session:
        cancelled = remove_peer(session, args.name)
    engine.dispose()
    print(f"removed peer {args.name!r}; {cancelled} transfer(s) to it cancelled")
    return 0


def cmd_peers(args: argparse.Namespace) -> int:
    from librarian_server.services.replication.peers import list_peers, peer_info

    engine, factory = open_catalogue(settings_from(args))
    with factory() as session:
        infos = [peer_info(p) for p in list_peers(session)]
    engine.dispose()
    if args.json:
        print(json.dumps([i.model_dump(mode="json") for i in infos], indent=2))
        return 0
    if not infos:
        print("no peers; add one with `librarian-server add-peer NAME URL ...`")
        return 0
    widths = (16, 8, 12, 18, 20)
    headers = ("name", "push", "health", "managers", "last contact", "url / last error")
    print(format_row(headers, widths, sep=" "))
    for i in infos:
        push = ("fwd" if i.forward else "yes") if i.push else "no"
        push = push if i.enabled else "disabled"
        contact = i.last_contact.strftime("%Y-%m-%d %H:%M:%S") if i.last_contact else "never"
        managers = ",".join(i.transfer_managers) or "any"
        row = (i.name, push, i.health.value, managers, contact, i.url)
        print(format_row(row, widths, sep=" "))
        if i.consecutive_failures or i.next_attempt_after:
            when = i.next_attempt_after
            after = when.strftime("%Y-%m-%d %H:%M:%S") if when else "now"
            note = f"{i.consecutive_failures} failure(s) in a row; next attempt {after}"
            print(format_row(("", note), widths[:1], sep=" "))
        if i.last_error:
            print(format_row(("", f"last error: {i.last_error}"), widths[:1], sep=" "))
    return 0


def _time_or_empty(value: str) -> datetime | str:
    """An ISO time (UTC unless zoned), or '' to clear the filter."""
    if not value:
        return ""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO time: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    policy = argparse.ArgumentParser(add_help=False)
    policy.add_argument(
        "--push", dest="push", action="store_true", default=None, help="send new files (default)"
    )
    policy.add_argument("--no-push", dest="push", action="store_false", help="send nothing")
    policy.add_argument(
        "--forward",
        dest="forward",
        action="store_true",
        default=None,
        help="also send files that came here from other sites",
    )
    policy.add_argument("--no-forward", dest="forward", action="store_false")
    policy.add_argument("--name-glob", metavar="GLOB", help="send only names matching, e.g. obs/*")
    policy.add_argument(
        "--created-after", metavar="TIME", type=_time_or_empty, help="send only files created since"
    )
    policy.add_argument(
        "--managers", metavar="LIST", help="transfer managers it accepts, e.g. http,globus"
    )

    add = sub.add_parser("add-peer", parents=[common, policy], help="register a peer site")
    add.add_argument("name", help="the peer's site name (its LIBRARIAN_SERVER_SITE_NAME)")
    add.add_argument("url", help="its base URL, e.g. https://ucsd.example.org:21108")
    add.add_argument("--username", required=True, help="our account at the peer")
    add.add_argument("--password-file", required=True, help="file holding it; - = stdin")
    add.set_defaults(func=cmd_add_peer)

    upd = sub.add_parser("update-peer", parents=[common, policy], help="change a peer")
    upd.add_argument("name")
    upd.add_argument("--url")
    upd.add_argument("--username")
    upd.add_argument("--password-file")
    upd.add_argument("--enable", dest="enabled", action="store_true", default=None)
    upd.add_argument("--disable", dest="enabled", action="store_false")
    upd.set_defaults(func=cmd_update_peer)

    rm = sub.add_parser("remove-peer", parents=[common], help="forget a peer")
    rm.add_argument("name")
    rm.set_defaults(func=cmd_remove_peer)

    peers = sub.add_parser("peers", parents=[common], help="list peers")
    peers.add_argument("--json", action="store_true")
    peers.set_defaults(func=cmd_peers)
