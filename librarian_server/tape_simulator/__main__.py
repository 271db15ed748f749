"""``python -m librarian_server.tape_simulator``: serve one simulated tape system.

Prints ``tape simulator listening on http://HOST:PORT`` once it accepts requests (with
``--port 0`` the port is the one the system chose); SIGTERM or SIGINT stop it cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
import sys
from pathlib import Path
from types import FrameType

import uvicorn

from librarian_server.tape_simulator.app import create_app
from librarian_server.tape_simulator.engine import Simulator
from librarian_server.tape_simulator.events import EventPublisher
from librarian_server.tape_simulator.files import Layout


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m librarian_server.tape_simulator",
        description="A simulated ScoutAM tape system (REST API, staging, JetStream events).",
    )
    p.add_argument("--root", type=Path, required=True, help="the disk cache it manages")
    p.add_argument("--tape", type=Path, required=True, help="where archived copies live")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True, help="0 picks a free one")
    p.add_argument("--account", required=True)
    p.add_argument("--password-file", type=Path, required=True, help="holds the password")
    p.add_argument("--token-ttl", type=_non_negative, default=3600.0, help="seconds")
    p.add_argument("--stage-delay", type=_non_negative, default=0.0, help="seconds per file")
    p.add_argument(
        "--bandwidth-mib", type=_non_negative, default=0.0, help="MiB/s shared; 0: unlimited"
    )
    p.add_argument("--loss", type=_fraction, default=0.0, help="share of stage requests lost")
    p.add_argument("--cache-capacity", type=int, default=1 << 40, help="bytes")
    p.add_argument("--workers", type=int, default=16, help="files staged at once")
    p.add_argument("--nats-url", help="publish stage events here (none: no events)")
    p.add_argument("--subject-prefix", default="tape.events")
    p.add_argument("--stream", default="TAPE_EVENTS")
    p.add_argument("--seed", type=int, help="for the loss's random choices")
    args = p.parse_args(argv)
    for name in ("root", "tape"):
        if not getattr(args, name).is_dir():
            p.error(f"--{name} {getattr(args, name)} is not a directory")
    if not args.password_file.is_file():
        p.error(f"--password-file {args.password_file} is not a readable file")
    if args.workers < 1:
        p.error("--workers must be at least 1")
    return args


async def serve(args: argparse.Namespace) -> None:
    publisher = (
        EventPublisher(args.nats_url, args.subject_prefix, args.stream) if args.nats_url else None
    )
    sim = Simulator(
        Layout(str(args.root), str(args.tape)),
        account=args.account,
        password_file=args.password_file,
        token_ttl=args.token_ttl,
        stage_delay=args.stage_delay,
        bandwidth_mib=args.bandwidth_mib,
        loss=args.loss,
        cache_capacity=args.cache_capacity,
        workers=args.workers,
        seed=args.seed,
        publisher=publisher,
    )
    # IPPROTO_TCP spelt out: asyncio sets TCP_NODELAY only on sockets that say so, and
    # without it each keep-alive answer waits out the peer's delayed ACK (40 ms).
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    config = uvicorn.Config(
        create_app(sim), log_level="warning", lifespan="on", timeout_graceful_shutdown=3
    )
    server = uvicorn.Server(config)

    def stop(signum: int, frame: FrameType | None) -> None:
        # Until uvicorn installs its own handlers (and after, when it passes the signal on).
        server.should_exit = True

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.02)
    if server.started:
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        print(f"tape simulator listening on http://{shown}:{port}", flush=True)  # noqa: T201
    await task


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
