"""Release and tiering policies, draining a store and retiring it."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from librarian_client.cli.output import format_size, print_table
from librarian_server.cli.common import CLIError, open_catalogue, settings_from


def cmd_policy_set(args: argparse.Namespace) -> int:
    from librarian_server.services.catalogue.stores import policy_info
    from librarian_server.services.integrity.policies import set_policy

    if args.move_to is None and not args.delete:
        raise CLIError("give --move-to STORE or --delete (with --copies and --proof-age-days)")
    if args.move_to is not None and args.delete:
        raise CLIError("--move-to and --delete exclude each other")
    engine, factory = open_catalogue(settings_from(args))
    try:
        with factory.begin() as session:
            policy = set_policy(
                session,
                args.store,
                after_days=args.after_days,
                move_to=args.move_to,
                min_copies=args.copies,
                proof_age_days=args.proof_age_days,
                allow_remote_only=args.allow_remote_only,
            )
            print(f"store {args.store!r}: {policy_info(policy).describe()}")
    finally:
        engine.dispose()
    return 0


def cmd_policy_clear(args: argparse.Namespace) -> int:
    from librarian_server.services.integrity.policies import clear_policy

    engine, factory = open_catalogue(settings_from(args))
    try:
        with factory.begin() as session:
            had = clear_policy(session, args.store)
    finally:
        engine.dispose()
    print(f"store {args.store!r}: " + ("policy cleared" if had else "had no policy"))
    return 0


def cmd_policy_show(args: argparse.Namespace) -> int:
    from librarian_server.services.catalogue.stores import policy_info
    from librarian_server.services.integrity.policies import policies

    engine, factory = open_catalogue(settings_from(args))
    try:
        with factory() as session:
            infos = [policy_info(p) for p in policies(session)]
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps([i.model_dump(mode="json") for i in infos], indent=2))
        return 0
    if not infos:
        print("no store has a release policy; set one with `librarian-server store-policy set`")
        return 0
    print_table(["store", "policy"], [[i.store, i.describe()] for i in infos])
    return 0


def cmd_drain(args: argparse.Namespace) -> int:
    from librarian_client.cli.progress import Progress
    from librarian_server.services.integrity.drain import drain_store, start_drain
    from librarian_server.services.integrity.tiering import MoveOutcome

    settings = settings_from(args)
    engine, factory = open_catalogue(settings)
    try:
        planned = start_drain(factory, args.store, to=args.to)
        with Progress(
            planned.total_bytes,
            planned.total,
            f"draining {args.store}",
            enabled=sys.stderr.isatty() and not args.quiet,
        ) as bar:

            def told(name: str, size: int, outcome: MoveOutcome) -> None:
                bar(size, 1)

            result = drain_store(
                factory,
                args.store,
                to=args.to,
                min_free_bytes=settings.min_free_bytes,
                progress=told,
            )
    finally:
        engine.dispose()
    for name, why in list(result.failed.items())[:20]:
        print(f"not moved: {name}: {why}", file=sys.stderr)
    print(
        f"store {args.store!r}: moved {result.moved} copies ({format_size(result.moved_bytes)}); "
        f"{len(result.failed)} not moved"
    )
    if result.failed:
        print("run drain-store again once the reasons above are dealt with", file=sys.stderr)
        return 1
    print(f"it is empty now: `librarian-server retire-store {args.store}` takes it out of service")
    return 0


def cmd_retire(args: argparse.Namespace) -> int:
    from librarian_server.services.catalogue.stores import retire_store

    engine, factory = open_catalogue(settings_from(args))
    try:
        with factory.begin() as session:
            retire_store(session, args.store)
    finally:
        engine.dispose()
    print(f"store {args.store!r} retired: never used again; kept in the catalogue")
    return 0


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    policy = sub.add_parser(
        "store-policy",
        parents=[common],
        help="a store's release or tiering policy: set, clear, show",
        description="What a store does with copies older than some days: move them to "
        "another store of this site, or delete them once enough other sites prove theirs. "
        "The `release` background task and `librarian release` apply it.",
    )
    actions = policy.add_subparsers(dest="policy_action", required=True)
    put = actions.add_parser("set", parents=[common], help="set (or replace) a store's policy")
    put.add_argument("store")
    put.add_argument("--after-days", type=int, required=True, metavar="D", help="copies older")
    put.add_argument("--move-to", metavar="STORE", help="tiering: move copies to STORE")
    put.add_argument("--delete", action="store_true", help="delete copies proven elsewhere")
    put.add_argument(
        "--copies", type=int, metavar="N", help="delete: verified copies at N other sites"
    )
    put.add_argument(
        "--proof-age-days", type=int, metavar="V", help="delete: each re-hashed within V days"
    )
    put.add_argument(
        "--allow-remote-only",
        action="store_true",
        help="delete: may release this site's last copy (default: one stays here)",
    )
    put.set_defaults(func=cmd_policy_set)
    clear = actions.add_parser("clear", parents=[common], help="remove a store's policy")
    clear.add_argument("store")
    clear.set_defaults(func=cmd_policy_clear)
    show = actions.add_parser("show", parents=[common], help="every store's policy")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_policy_show)

    drain = sub.add_parser(
        "drain-store",
        parents=[common],
        help="move every copy off a store (verified); resumable",
        description="Disable the store and move each copy on it to another store (--to, "
        "else one that has a copy already, else the first with room), verified against "
        "the catalogue checksum. Stopped half way, run it again: it carries on.",
    )
    drain.add_argument("store")
    drain.add_argument("--to", metavar="STORE", help="the store to move copies to")
    drain.add_argument("--quiet", action="store_true", help="no progress bar")
    drain.set_defaults(func=cmd_drain)

    retire = sub.add_parser(
        "retire-store",
        parents=[common],
        help="take an empty store out of service for good",
        description="Refused while the store holds any copy (drain-store first). A retired "
        "store stays in the catalogue, disabled, and is never chosen for uploads again.",
    )
    retire.add_argument("store")
    retire.set_defaults(func=cmd_retire)
