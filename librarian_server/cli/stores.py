"""Stores: add, list, disable, enable and remove them."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from librarian_client.cli.output import format_size, parse_size, print_table
from librarian_server.cli.common import CLIError, open_catalogue, settings_from


def _s3_options(args: argparse.Namespace, data_dir: Path) -> Any:
    from librarian_server.stores.s3 import S3Options

    endpoint, _, bucket = str(args.s3).rstrip("/").rpartition("/")
    if "://" not in endpoint or not bucket:
        raise CLIError(
            f"--s3 wants ENDPOINT/BUCKET, e.g. https://s3.example.org/librarian; got {args.s3!r}"
        )
    if args.credentials_file is None:
        raise CLIError(
            "an S3 store needs --credentials-file FILE ([default] with aws_access_key_id "
            "and aws_secret_access_key); keys are never taken on the command line"
        )
    spool = args.spool or data_dir / "spool" / args.name
    return S3Options(
        endpoint=endpoint,
        bucket=bucket,
        region=args.region,
        credentials_file=str(Path(args.credentials_file).expanduser().resolve()),
        profile=args.profile,
        part_size=args.part_size,
        concurrency=args.concurrency,
        spool=str(Path(spool).expanduser().resolve()),
        verify_tls=not args.no_verify_tls,
    )


def _cold_options(args: argparse.Namespace) -> Any:
    from librarian_server.stores.cold import ColdOptions

    if "://" not in str(args.cold):
        raise CLIError(
            f"--cold wants the tape system's URL, e.g. https://tape:8080; got {args.cold!r}"
        )
    if args.credentials_file is None:
        raise CLIError(
            "a cold store needs --credentials-file FILE ([tape] with account and password); "
            "passwords are never taken on the command line"
        )
    return ColdOptions(
        url=str(args.cold).rstrip("/"),
        credentials_file=str(Path(args.credentials_file).expanduser().resolve()),
        namespace=args.namespace,
        verify_tls=not args.no_verify_tls,
    )


def cmd_add_store(args: argparse.Namespace) -> int:
    from librarian_server.services.catalogue.stores import (
        add_cold_store,
        add_s3_store,
        add_store,
        get_stores,
    )

    if (args.path is None) == (args.s3 is None):
        raise CLIError("give either PATH (a directory) or --s3 ENDPOINT/BUCKET, not both")
    if args.cold is not None and args.path is None:
        raise CLIError("a cold store needs PATH: its directory on the tape system's filesystem")
    settings = settings_from(args)
    options = _s3_options(args, settings.data_dir) if args.s3 is not None else None
    cold = _cold_options(args) if args.cold is not None else None
    engine, factory = open_catalogue(settings)
    try:
        with factory.begin() as session:
            if args.if_none and get_stores(session):
                print("the catalogue has a store already; none added")
                return 0
            if cold is not None:
                store = add_cold_store(
                    session,
                    args.name,
                    Path(args.path),
                    cold,
                    capacity_bytes=args.capacity,
                    accepts_ingest=not args.no_ingest,
                )
            elif options is not None:
                store = add_s3_store(
                    session,
                    args.name,
                    options,
                    capacity_bytes=args.capacity,
                    accepts_ingest=not args.no_ingest,
                )
            else:
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
    add = sub.add_parser(
        "add-store",
        parents=[common],
        help="register a store: a directory, an S3 bucket or a cold (tape) directory",
    )
    add.add_argument("name")
    add.add_argument("path", nargs="?", help="the store's directory (a POSIX store)")
    add.add_argument("--capacity", type=parse_size, help="e.g. 500G; default: the disk")
    s3 = add.add_argument_group("an S3 store (Amazon S3, Swift's s3api, Ceph, MinIO...)")
    s3.add_argument("--s3", metavar="ENDPOINT/BUCKET", help="e.g. https://s3.example.org/data")
    s3.add_argument(
        "--credentials-file",
        help="INI file: [default] aws_access_key_id, ... (S3); [tape] account, password (cold)",
    )
    s3.add_argument("--profile", default="default", help="section of the credentials file")
    s3.add_argument("--region", default="us-east-1")
    s3.add_argument(
        "--part-size", type=parse_size, default=16 * 1024 * 1024, help="multipart part size"
    )
    s3.add_argument("--concurrency", type=int, default=4, help="parts or files sent at once")
    s3.add_argument("--spool", type=Path, help="local staging directory (DATA_DIR/spool/NAME)")
    s3.add_argument("--no-verify-tls", action="store_true", help="accept any TLS certificate")
    cold = add.add_argument_group("a cold store (PATH on a tape system's filesystem)")
    cold.add_argument("--cold", metavar="TAPE_URL", help="the tape system's REST API")
    cold.add_argument(
        "--namespace", help="PATH as the tape system names it (default: the same path)"
    )
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
