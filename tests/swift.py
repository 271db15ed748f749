"""A single-node OpenStack Swift on loopback (Debian's packages), reached through s3api.

One replica, tempauth (S3 access key ``test:tester``, secret ``testing``), ports chosen
free at start. The servers are child processes in their own process group, so a test
run that dies does not leave them behind (an ``atexit`` hook kills the group too).
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import hashlib
import os
import pickle
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SERVERS = ("account", "container", "object")
BINARIES = (
    "swift-ring-builder",
    "swift-proxy-server",
    "swift-account-server",
    "swift-container-server",
    "swift-object-server",
    "memcached",
)


def installed() -> bool:
    return all(shutil.which(b) for b in BINARIES)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _user() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


class SwiftNode:
    access_key = "test:tester"
    secret_key = "testing"
    region = "us-east-1"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.etc = root / "etc"
        self.devices = root / "node"
        self.logs = root / "log"
        self.ports = {name: free_port() for name in (*SERVERS, "proxy", "memcached")}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.startup_seconds = 0.0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['proxy']}"

    @property
    def proxy_pid(self) -> int:
        return self.processes["proxy"].pid

    # -- configuration -----------------------------------------------------------------

    def _configure(self) -> None:
        for d in (self.etc, self.devices / "sdb1", self.logs, self.root / "cache"):
            d.mkdir(parents=True, exist_ok=True)
        (self.etc / "swift.conf").write_text(
            "[swift-hash]\n"
            f"swift_hash_path_suffix = {secrets.token_hex(8)}\n"
            f"swift_hash_path_prefix = {secrets.token_hex(8)}\n"
            "[storage-policy:0]\nname = Policy-0\ndefault = yes\n"
        )
        for kind in SERVERS:
            builder = str(self.etc / f"{kind}.builder")
            for args in (
                ["create", "10", "1", "1"],
                ["add", f"r1z1-127.0.0.1:{self.ports[kind]}/sdb1", "1"],
                ["rebalance"],
            ):
                done = subprocess.run(
                    ["swift-ring-builder", builder, *args], capture_output=True, check=False
                )
                if done.returncode not in (0, 1):  # 1: "warnings" from rebalance
                    raise RuntimeError(f"swift-ring-builder {args}: {done.stdout!r}")
            extra = "disable_fallocate = true\n" if kind == "object" else ""
            (self.etc / f"{kind}-server.conf").write_text(
                "[DEFAULT]\n"
                f"devices = {self.devices}\nmount_check = false\nbind_ip = 127.0.0.1\n"
                f"bind_port = {self.ports[kind]}\nworkers = 0\nswift_dir = {self.etc}\n"
                f"user = {_user()}\nlog_name = {kind}\n{extra}"
                f"[pipeline:main]\npipeline = healthcheck recon {kind}-server\n"
                f"[app:{kind}-server]\nuse = egg:swift#{kind}\n"
                "[filter:healthcheck]\nuse = egg:swift#healthcheck\n"
                f"[filter:recon]\nuse = egg:swift#recon\nrecon_cache_path = {self.root / 'cache'}\n"
            )
        filters = (
            "catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk "
            "tempurl s3api tempauth copy slo dlo versioned_writes"
        ).split()
        text = (
            "[DEFAULT]\n"
            f"bind_ip = 127.0.0.1\nbind_port = {self.ports['proxy']}\nworkers = 0\n"
            f"swift_dir = {self.etc}\nuser = {_user()}\nlog_name = proxy\n"
            "[pipeline:main]\n"
            f"pipeline = {' '.join(filters)} proxy-logging proxy-server\n"
            "[app:proxy-server]\nuse = egg:swift#proxy\n"
            "allow_account_management = true\naccount_autocreate = true\n"
        )
        for name in dict.fromkeys(filters):
            egg = {"cache": "memcache"}.get(name, name.replace("-", "_"))
            text += f"[filter:{name}]\nuse = egg:swift#{egg}\n"
            if name == "cache":
                text += f"memcache_servers = 127.0.0.1:{self.ports['memcached']}\n"
            if name == "tempauth":
                text += "user_test_tester = testing .admin\n"
        (self.etc / "proxy-server.conf").write_text(text)

    # -- processes -----------------------------------------------------------------------

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.logs / f"{name}.log", "ab")
        self.processes[name] = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()

    def start(self, timeout: float = 120) -> SwiftNode:
        began = time.monotonic()
        self._configure()
        atexit.register(self.stop)
        self._spawn(
            "memcached",
            ["memcached", "-l", "127.0.0.1", "-p", str(self.ports["memcached"]), "-u", _user()],
        )
        for kind in SERVERS:
            conf = str(self.etc / f"{kind}-server.conf")
            self._spawn(kind, [f"swift-{kind}-server", conf, "--verbose"])
        self._spawn("proxy", ["swift-proxy-server", str(self.etc / "proxy-server.conf")])
        deadline = time.monotonic() + timeout
        for name in (*SERVERS, "proxy"):
            url = f"http://127.0.0.1:{self.ports[name]}/healthcheck"
            while True:
                process = self.processes[name]
                if process.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"swift {name} exited: {self._tail(name)}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(url, timeout=2).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"swift {name} not ready: {self._tail(name)}")
                time.sleep(0.2)
        self._wait_for_s3(deadline)
        self.startup_seconds = time.monotonic() - began
        return self

    def _wait_for_s3(self, deadline: float) -> None:
        """tempauth answers once memcached does; the first S3 call proves the chain."""
        client = self.client()
        while True:
            try:
                client.list_buckets()
                return
            except Exception as exc:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"swift's S3 API does not answer: {exc}") from None
                time.sleep(0.3)

    def _tail(self, name: str) -> str:
        with contextlib.suppress(OSError):
            return (self.logs / f"{name}.log").read_text(errors="replace")[-2000:]
        return ""

    def stop(self) -> None:
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes.clear()

    def __enter__(self) -> SwiftNode:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- clients and data --------------------------------------------------------------

    def client(self) -> S3Client:
        import boto3
        from botocore.config import Config

        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"max_attempts": 2, "mode": "standard"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        client: S3Client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=config,
        )
        client.meta.events.register("before-call.s3.DeleteObjects", _content_md5)
        return client

    def make_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    def empty_bucket(self, name: str) -> None:
        client = self.client()
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
            for entry in page.get("Contents", []):
                client.delete_object(Bucket=name, Key=entry["Key"])
        uploads = client.list_multipart_uploads(Bucket=name).get("Uploads", [])
        for upload in uploads:
            client.abort_multipart_upload(
                Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"]
            )
        client.delete_bucket(Bucket=name)

    def write_credentials_file(self, path: Path) -> Path:
        path.write_text(
            f"[default]\naws_access_key_id = {self.access_key}\n"
            f"aws_secret_access_key = {self.secret_key}\n"
        )
        path.chmod(0o600)
        return path

    def data_files(self, bucket: str, key: str) -> list[Path]:
        """The object's ``.data`` files on the node's disk (the name is in their xattrs)."""
        want = f"/AUTH_test/{bucket}/{key}"
        found = []
        for data in (self.devices / "sdb1").rglob("*.data"):
            if _object_name(data) == want:
                found.append(data)
        return found


def _object_name(path: Path) -> str | None:
    raw = b""
    for n in range(64):
        attr = "user.swift.metadata" + (str(n) if n else "")
        try:
            raw += os.getxattr(path, attr)
        except OSError:
            break
    if not raw:
        return None
    try:
        meta: dict[Any, Any] = pickle.loads(raw)  # noqa: S301 (Swift's own files, our node)
    except Exception:
        return None
    name = meta.get("name", meta.get(b"name"))
    return name.decode() if isinstance(name, bytes) else name


def _content_md5(params: dict[str, Any], **_: Any) -> None:
    """Swift's s3api wants Content-MD5 on DeleteObjects, which boto3 no longer sends."""
    body = params.get("body", b"")
    if isinstance(body, str):
        body = body.encode()
    digest = hashlib.md5(body, usedforsecurity=False).digest()
    params["headers"]["Content-MD5"] = base64.b64encode(digest).decode()
