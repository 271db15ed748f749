"""The background tasks as their own process: ``librarian-server background [--once]``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from librarian_server.cli.common import open_catalogue, settings_from


def cmd_background(args: argparse.Namespace) -> int:
    import signal

    from librarian_server.background import Runner
    from librarian_server.logs import configure_logging
    from librarian_server.metrics import registry as metrics_registry
    from librarian_server.services.core.processes import Heartbeat

    settings = settings_from(args)
    configure_logging(settings)
    if settings.metrics_enabled:  # its task runs and transfers show in the API's /metrics
        metrics_registry.configure(settings.metrics_dir)
    engine, factory = open_catalogue(settings)
    runner = Runner(factory, settings)
    try:
        if args.once:
            results = runner.run_once()
            for r in results:
                status = "ok" if r.ok else f"FAILED: {r.error}"
                print(f"{r.name}: {status} {json.dumps(r.summary)} ({r.seconds:.2f} s)")
            return 0 if all(r.ok for r in results) else 1
        signal.signal(signal.SIGTERM, lambda *_: runner.stop(timeout=0))
        # It commits clones too: an API process starting meanwhile must know it is not alone.
        heartbeat = Heartbeat(factory)
        heartbeat.start()
        print(f"background tasks running: {', '.join(runner.enabled())}", flush=True)
        try:
            runner.run_forever()
        except KeyboardInterrupt:
            pass
        finally:
            heartbeat.stop()
        return 0
    finally:
        engine.dispose()


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    bg = sub.add_parser("background", parents=[common], help="run the background tasks")
    bg.add_argument("--once", action="store_true", help="run every enabled task once and exit")
    bg.set_defaults(func=cmd_background)
