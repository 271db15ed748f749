"""Running a site: serve, migrate, users and stores."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from librarian_client.cli.output import parse_size  # one size syntax for both commands
from librarian_client.models import PermissionLevel

from .common import open_catalogue, read_secret, settings_from


def cmd_run(args: argparse.Namespace) -> int:
    import uvicorn

    from ..app import create_app
    from ..bootstrap import first_start
    from ..datadir_lock import lock_data_dir
    from ..logs import configure_logging

    settings = settings_from(args)
    lock_data_dir(settings)  # before anything: a second server gets one readable line
    configure_logging(settings)
    engine, factory = open_catalogue(settings)
    try:
        for line in first_start(factory, settings):
            print(line, flush=True)
    finally:
        engine.dispose()
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=args.access_log,
        timeout_keep_alive=30,
    )
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from .. import migrate

    settings = settings_from(args)
    if args.downgrade:
        migrate.downgrade(settings, args.downgrade)
    else:
        migrate.upgrade(settings, args.revision)
    print(f"database at revision {migrate.current_revision(settings)}")
    return 0


def cmd_create_user(args: argparse.Namespace) -> int:
    from ..services.auth import create_user

    password = read_secret(args.password_file)
    engine, factory = open_catalogue(settings_from(args))
    with factory.begin() as session:
        user = create_user(session, args.name, password, PermissionLevel(args.level))
        print(f"created user {user.name!r} with permission {user.permission.value}")
    engine.dispose()
    return 0


def cmd_add_store(args: argparse.Namespace) -> int:
    from ..services.stores import add_store

    engine, factory = open_catalogue(settings_from(args))
    with factory.begin() as session:
        store = add_store(
            session,
            args.name,
            Path(args.path),
            capacity_bytes=args.capacity,
            accepts_ingest=not args.no_ingest,
        )
        print(f"added store {store.name!r} at {store.root}")
    engine.dispose()
    return 0


def cmd_stores(args: argparse.Namespace) -> int:
    from ..services.stores import get_stores, store_info

    settings = settings_from(args)
    engine, factory = open_catalogue(settings)
    with factory() as session:
        infos = [
            store_info(session, s, min_free_bytes=settings.min_free_bytes)
            for s in get_stores(session)
        ]
    engine.dispose()
    if args.json:
        print(json.dumps([i.model_dump() for i in infos], indent=2))
        return 0
    print(f"{'name':<16} {'kind':<6} {'used':>12} {'room':>12} {'capacity':>12} ingest  root")
    for i in infos:
        cap = "-" if i.capacity_bytes is None else str(i.capacity_bytes)
        ingest = "yes" if i.accepts_ingest and i.enabled else "no"
        print(
            f"{i.name:<16} {i.kind:<6} {i.used_bytes:>12} {i.free_bytes:>12} {cap:>12} "
            f"{ingest:<7} {i.root}"
        )
    return 0


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    run = sub.add_parser("run", parents=[common], help="serve the API")
    run.add_argument("--host")
    run.add_argument("--port", type=int)
    run.add_argument("--access-log", action="store_true", help="log every request")
    run.set_defaults(func=cmd_run)

    mig = sub.add_parser("migrate", parents=[common], help="bring the database schema up to date")
    mig.add_argument("--revision", default="head")
    mig.add_argument("--downgrade", metavar="REVISION", help="downgrade to REVISION instead")
    mig.set_defaults(func=cmd_migrate)

    user = sub.add_parser("create-user", parents=[common], help="add a user")
    user.add_argument("name")
    user.add_argument("--level", choices=[p.value for p in PermissionLevel], required=True)
    user.add_argument("--password-file", required=True, help="file holding the password; - = stdin")
    user.set_defaults(func=cmd_create_user)

    store = sub.add_parser("add-store", parents=[common], help="register a POSIX store")
    store.add_argument("name")
    store.add_argument("path")
    store.add_argument("--capacity", type=parse_size, help="e.g. 500G; default: the disk")
    store.add_argument("--no-ingest", action="store_true", help="do not take new uploads")
    store.set_defaults(func=cmd_add_store)

    stores = sub.add_parser("stores", parents=[common], help="list stores")
    stores.add_argument("--json", action="store_true")
    stores.set_defaults(func=cmd_stores)
