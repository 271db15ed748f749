"""Dark files: list them, and register, quarantine or delete one (the audit never does)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from librarian_client.cli.output import format_time, print_table
from librarian_server.cli.common import open_catalogue, settings_from


def cmd_dark_list(args: argparse.Namespace) -> int:
    from librarian_client.models import MAX_DAMAGE_PAGE, DamageQuery, Finding
    from librarian_server.services.integrity.damage import list_damage

    engine, factory = open_catalogue(settings_from(args))
    try:
        records = []
        after: int | None = None
        with factory() as session:
            while True:
                query = DamageQuery(
                    kind=Finding.DARK,
                    active=None if args.all else True,
                    after=after,
                    limit=MAX_DAMAGE_PAGE,
                )
                page = list_damage(session, query)
                records.extend(page.damage)
                if page.next is None:
                    break
                after = page.next
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps([r.model_dump(mode="json") for r in records], indent=2))
        return 0
    if not records:
        print("no dark files" if not args.all else "no dark files were ever found")
        return 0
    rows = [
        [str(r.id), str(r.state), r.store, r.path, format_time(r.found_time), r.detail]
        for r in records
    ]
    print_table(["id", "state", "store", "path", "found", "detail"], rows)
    return 0


def cmd_dark_act(args: argparse.Namespace) -> int:
    from librarian_server.services.integrity import dark

    settings = settings_from(args)
    engine, factory = open_catalogue(settings)
    by = f"operator ({args.by})"
    try:
        if args.action == "register":
            info = dark.register_dark(factory, args.id, args.name, by=by, site=settings.site_name)
        elif args.action == "quarantine":
            info = dark.quarantine_dark(factory, args.id, by=by)
        else:
            info = dark.delete_dark(factory, args.id, by=by)
    finally:
        engine.dispose()
    print(f"dark file {info.id} ({info.store}: {info.path}): {info.resolution}")
    return 0


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    dark = sub.add_parser(
        "dark",
        parents=[common],
        help="dark files: bytes on a store that no catalogue row names",
        description="The audit reports dark files and never touches them. list: those still "
        "awaiting a decision (--all: every one ever found); register ID NAME: catalogue "
        "the bytes as NAME (hashed first; if NAME exists with the same contents they become "
        "another copy of it); quarantine ID: move them to the store's quarantine/ "
        "directory; delete ID: remove them.",
    )
    actions = dark.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", parents=[common], help="dark files found")
    listing.add_argument("--all", action="store_true", help="also those already handled")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_dark_list)
    for action, what in (
        ("register", "catalogue a dark file under a name"),
        ("quarantine", "move a dark file aside"),
        ("delete", "delete a dark file"),
    ):
        act = actions.add_parser(action, parents=[common], help=what)
        act.add_argument("id", type=int, help="the dark file's damage id (`dark list`)")
        if action == "register":
            act.add_argument("name", help="the name to catalogue it under")
        act.add_argument(
            "--by", default="admin", help="who decided, for the record (default: admin)"
        )
        act.set_defaults(func=cmd_dark_act)
