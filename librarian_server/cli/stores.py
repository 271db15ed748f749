"""Stores: add, list, disable, enable and remove them."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from librarian_client.cli.output import format_size, parse_size, print_table
from librarian_server.cli.common import open_catalogue, settings_from


def cmd_add_store(args: argparse.Namespace) -> int:
    from librarian_server.services.catalogue.stores import add_store, get_stores

    engine, factory = open_catalogue(settings_from(args))
    try:
        with factory.begin() as session:
            if args.if_none and get_stores(session):
                print("the catalogue has a store already; none added")
                return 0
            store = add_store(
                session,
                args.name,
                Path(args.path),
                capacity_bytes=args.capacity,
                accepts_ingest=not args.no_ingest,
            )
            print(f"added store {store.name!r} at {store.root}")
    finally:
        engine.dispose()
    return 0


def cmd_stores(args: argparse.Namespace) -> int:
    from librarian_server.services.catalogue.stores import get_stores, store_info

    settings = settings_from(args)
    engine, factory = open_catalogue(settings)
    try:
        with factory() as session:
            infos = [
                store_info(session, s, min_free_bytes=settings.min_free_bytes)
                for s in get_stores(session)
            ]
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps([i.model_dump() for i in infos], indent=2))
        return 0
    if not infos:
        print("no stores; add one with `librarian-server add-store NAME PATH`")
        return 0
    rows = []
    for i in infos:
        state = "enabled" if i.enabled else "DISABLED"
        if i.enabled and not i.accepts_ingest:
            state = "no-ingest"
        if i.retired:
            state = "retired"
        cap = "disk" if i.capacity_bytes is None else format_size(i.capacity_bytes)
        used, room = format_size(i.used_bytes), format_size(i.free_bytes)
        policy = i.policy.describe() if i.policy is not None else "-"
        rows.append([i.name, i.kind, state, used, room, cap, policy, i.root])
    print_table(["name", "kind", "state", "used", "room", "capacity", "policy", "root"], rows)
    return 0


def cmd_store_state(args: argparse.Namespace) -> int:
    from librarian_server.services.catalogue.stores import remove_store, set_store_enabled

    settings = settings_from(args)
    engine, factory = open_catalogue(settings)
    try:
        with factory.begin() as session:
            if args.action == "remove":
                forgotten = remove_store(
                    session, args.name, may_remove_last=not settings.is_embedded
                )
                print(
                    f"removed store {args.name!r} ({forgotten} finished upload record(s) "
                    "forgotten); its directory is left on disk"
                )
            else:
                store = set_store_enabled(session, args.name, args.action == "enable")
                print(
                    f"store {store.name!r} enabled"
                    if store.enabled
                    else f"store {store.name!r} disabled: no new uploads; its files are "
                    "still served"
                )
    finally:
        engine.dispose()
    return 0


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    add = sub.add_parser("add-store", parents=[common], help="register a POSIX store")
    add.add_argument("name")
    add.add_argument("path")
    add.add_argument("--capacity", type=parse_size, help="e.g. 500G; default: the disk")
    add.add_argument("--no-ingest", action="store_true", help="do not take new uploads")
    add.add_argument(
        "--if-none",
        action="store_true",
        help="add it only when the catalogue has no store yet (for first-start scripts)",
    )
    add.set_defaults(func=cmd_add_store)

    stores = sub.add_parser("stores", parents=[common], help="list stores")
    stores.add_argument("--json", action="store_true", help="exact bytes, machine-readable")
    stores.set_defaults(func=cmd_stores)

    store = sub.add_parser(
        "store",
        parents=[common],
        help="disable, enable or remove a store",
        description="disable: no new uploads, reads still served; enable: take uploads again; "
        "remove: forget a store that holds no file (its directory stays on disk)",
    )
    store.add_argument("action", choices=["disable", "enable", "remove"])
    store.add_argument("name")
    store.set_defaults(func=cmd_store_state)
