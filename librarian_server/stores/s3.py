"""A store in an S3 bucket (Amazon S3, OpenStack Swift's s3api, Ceph RGW, MinIO...).

Layout in the bucket::

    files/<store path>          committed objects (``path_for`` as on POSIX: a random part
                                per transfer, so two uploads never share a key)
    quarantine/<label>-<name>   objects an audit found bad, kept until a replacement is in

Staging is a local spool directory (``spool`` in the store's options): the upload
pipeline hashes bytes there as they arrive, can resume at any offset and verifies them
before commit, exactly as on POSIX. Committing sends each spooled file to its final key
(``send_ahead``, before the catalogue's transaction, so no lock is held while bytes
travel), refusing a key that already holds an object: a small file in one PUT, a large
one as a multipart upload whose parts each carry their MD5, so the object store itself
refuses a part that arrived changed. The object becomes visible only when the last step
(the PUT, or CompleteMultipartUpload) succeeds, and only then is the catalogue written.
A crash before that leaves an incomplete multipart upload (clean-up aborts it) or
nothing; a crash after it leaves an object whose transfer is still open (clean-up
deletes it, as it deletes a POSIX store's uncatalogued bytes).

Memory stays bounded by ``concurrency`` x ``part_size`` whatever the file's size.
"""

from __future__ import annotations

import base64
import configparser
import contextlib
import errno
import hashlib
import io
import os
import secrets
import shutil
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from pydantic import BaseModel, ConfigDict, Field

from librarian_server.errors import ConfigurationError, FileAlreadyExists
from librarian_server.stores.base import StoreBackend
from librarian_server.stores.posix import MAX_BASENAME, bucketed_path

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

FILES = "files/"
QUARANTINE = "quarantine/"
MIN_PART = 5 * 1024 * 1024  # S3's smallest part but the last
MAX_PARTS = 10_000
COPY_IN_ONE = 5 * 1024**3  # CopyObject's largest source
TINY = 1024 * 1024


class S3Options(BaseModel):
    """What a store row keeps about its bucket. Credentials stay in their file."""

    model_config = ConfigDict(extra="forbid")

    endpoint: str
    bucket: str
    region: str = "us-east-1"
    credentials_file: str
    profile: str = "default"
    part_size: int = Field(default=16 * 1024 * 1024, ge=MIN_PART, le=5 * 1024**3)
    concurrency: int = Field(default=4, ge=1, le=64)
    spool: str
    verify_tls: bool = True


def read_credentials(path: str, profile: str) -> tuple[str, str]:
    """The access key pair from an AWS shared-credentials style file, never echoed."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
    except OSError as exc:
        raise ConfigurationError(
            f"Cannot read the S3 credentials file {path}: {exc.strerror}.",
            "Give a readable file with aws_access_key_id and aws_secret_access_key.",
        ) from exc
    except configparser.Error as exc:
        raise ConfigurationError(
            f"The S3 credentials file {path} is not an INI file ({type(exc).__name__}).",
            "Write it as [default] with aws_access_key_id = ... and aws_secret_access_key = ...",
        ) from None
    if not parser.has_section(profile):
        raise ConfigurationError(
            f"The S3 credentials file {path} has no [{profile}] section.",
            f"Add [{profile}] with aws_access_key_id and aws_secret_access_key.",
        )
    section = parser[profile]
    key, secret = section.get("aws_access_key_id"), section.get("aws_secret_access_key")
    if not key or not secret:
        raise ConfigurationError(
            f"[{profile}] in {path} lacks aws_access_key_id or aws_secret_access_key.",
            "Add both keys.",
        )
    return key.strip(), secret.strip()


def make_client(options: S3Options) -> S3Client:
    import boto3
    from botocore.config import Config

    key, secret = read_credentials(options.credentials_file, options.profile)
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=10,
        read_timeout=120,
        max_pool_connections=max(10, options.concurrency * 2),
        # Object stores other than AWS (Swift's s3api among them) refuse the newer
        # flexible checksums; integrity is held by Content-MD5 and our own hashes.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    session = boto3.session.Session(
        aws_access_key_id=key, aws_secret_access_key=secret, region_name=options.region
    )
    client: S3Client = session.client(
        "s3", endpoint_url=options.endpoint, config=config, verify=options.verify_tls
    )
    return client


def _error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def _status(exc: BaseException) -> int:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return 0


def _missing(exc: BaseException) -> bool:
    return _status(exc) == 404 or _error_code(exc) in ("NoSuchKey", "404", "NotFound")


def as_os_error(exc: BaseException, what: str) -> OSError:
    """An object store's failure as the OSError the callers of any store expect."""
    if isinstance(exc, OSError):
        return exc
    if _missing(exc):
        return FileNotFoundError(errno.ENOENT, f"{what} does not exist")
    code = _error_code(exc) or type(exc).__name__
    return OSError(errno.EIO, f"{what}: object store error {code}")


def explain(exc: BaseException, options: S3Options) -> ConfigurationError:
    """One clear line for what went wrong reaching the bucket."""
    where = f"{options.endpoint}/{options.bucket}"
    name = type(exc).__name__
    if name in ("EndpointConnectionError", "ConnectTimeoutError", "ConnectionClosedError"):
        return ConfigurationError(
            f"Cannot reach the object store at {options.endpoint}.",
            "Check the endpoint URL and that the service is up and reachable from here.",
        )
    status, code = _status(exc), _error_code(exc)
    if status == 404 or code in ("NoSuchBucket", "404"):
        return ConfigurationError(
            f"The bucket {options.bucket!r} does not exist at {options.endpoint}.",
            "Create the bucket first (the Librarian never creates buckets), or fix its name.",
        )
    if status in (401, 403) or code in (
        "AccessDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
    ):
        return ConfigurationError(
            f"The object store at {options.endpoint} refused the credentials for {where} "
            f"({code or status}).",
            f"Check the keys in {options.credentials_file} and their rights on the bucket.",
        )
    return ConfigurationError(
        f"The object store at {where} failed: {code or name} (HTTP {status or '?'}).",
        "Check the endpoint, bucket and credentials; the server log has details.",
    )


class S3Reader(io.RawIOBase):
    """A committed object read as a seekable file: one streamed GET from the position
    asked for, reopened with a Range after a seek, so a whole read is one request."""

    def __init__(
        self, client: S3Client, bucket: str, key: str, label: str, start: int, end: int | None
    ) -> None:
        super().__init__()
        self._client, self._bucket, self._key, self._label = client, bucket, key, label
        self._body: Any = None
        self._body_stop = 0
        try:
            head = client.head_object(Bucket=bucket, Key=key)
        except Exception as exc:
            raise as_os_error(exc, label) from None
        self.size = int(head["ContentLength"])
        self._pos = start
        # Past ``end`` nothing is asked for: a ranged read costs only its range.
        self._stop = self.size if end is None else min(end + 1, self.size)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        target = {os.SEEK_SET: offset, os.SEEK_CUR: self._pos + offset}.get(
            whence, self.size + offset
        )
        if target < 0:
            raise OSError(errno.EINVAL, "negative seek")
        if target != self._pos:
            self._drop_body()
            self._pos = target
            if target >= self._stop:
                self._stop = self.size
        return self._pos

    def _drop_body(self) -> None:
        if self._body is not None:
            with contextlib.suppress(Exception):
                self._body.close()
            self._body = None

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._body is not None and self._pos >= self._body_stop:
            self._drop_body()  # that range is read; a read past ``end`` asks again
        stop = self._stop if self._pos < self._stop else self.size
        if self._body is not None:
            stop = self._body_stop
        if self._pos >= stop or not len(view):
            return 0
        if self._body is None:
            try:
                answer = self._client.get_object(
                    Bucket=self._bucket, Key=self._key, Range=f"bytes={self._pos}-{stop - 1}"
                )
            except Exception as exc:
                raise as_os_error(exc, self._label) from None
            self._body, self._body_stop = answer["Body"], stop
        try:
            chunk = self._body.read(min(len(view), stop - self._pos))
        except Exception as exc:
            self._drop_body()
            raise as_os_error(exc, f"reading {self._label}") from None
        n = len(chunk)
        if n == 0:
            self._drop_body()
            raise OSError(errno.EIO, f"{self._label} ended at byte {self._pos} of {self.size}")
        view[:n] = chunk
        self._pos += n
        return n

    def close(self) -> None:
        self._drop_body()
        super().close()


@dataclass
class _Part:
    number: int
    data: bytes

    @property
    def md5(self) -> str:
        return base64.b64encode(hashlib.md5(self.data, usedforsecurity=False).digest()).decode()


class S3Store(StoreBackend):
    def __init__(self, uuid: str, options: S3Options, client: S3Client) -> None:
        self.uuid = uuid
        self.options = options
        self.client = client
        self.bucket = options.bucket
        self.spool = Path(options.spool)
        self._sent: set[str] = set()  # keys ``send_ahead`` stored for a coming commit

    # -- checks and layout ---------------------------------------------------------------

    def check(self) -> None:
        """The bucket is reachable with these credentials; ConfigurationError if not."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
            self.client.list_objects_v2(Bucket=self.bucket, Prefix=FILES, MaxKeys=1)
        except ConfigurationError:
            raise
        except Exception as exc:
            raise explain(exc, self.options) from None

    def initialise(self) -> None:
        self.check()
        self.spool.mkdir(mode=0o700, parents=True, exist_ok=True)

    @property
    def marker_path(self) -> Path | None:
        return None

    def describe(self, store_path: str) -> str:
        return f"s3://{self.bucket}/{FILES}{store_path}"

    def path_for(self, name: str, unique: str = "") -> str:
        return bucketed_path(name, unique)

    def local_path(self, store_path: str) -> Path | None:
        return None

    # -- staging (a local spool) ---------------------------------------------------------

    def new_staging_path(self) -> Path:
        if not self.spool.is_dir():
            self.spool.mkdir(mode=0o700, parents=True, exist_ok=True)
        return self.spool / secrets.token_hex(12)

    def discard_staging(self, staging_path: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(staging_path)

    def staging_entries(self) -> list[Path]:
        if not self.spool.is_dir():
            return []
        return list(self.spool.iterdir())

    def free_bytes(self) -> int:
        """The spool's free space: every upload waits there whole before it is sent."""
        return shutil.disk_usage(self.spool if self.spool.is_dir() else self.spool.parent).free

    # -- commit ---------------------------------------------------------------------------

    sends_ahead = True

    def send_ahead(self, moves: list[tuple[Path, str]]) -> None:
        """Upload every staged file to its final key: large ones one after another (their
        parts in parallel), small ones several at once. All or nothing."""
        stored: list[str] = []
        failure: BaseException | None = None
        sizes = [_size(staging_path) for staging_path, _ in moves]  # one stat a file
        large = [(m, n) for m, n in zip(moves, sizes, strict=True) if n > self.options.part_size]
        tiny = [m for m, n in zip(moves, sizes, strict=True) if n <= TINY]
        rest = [m for m, n in zip(moves, sizes, strict=True) if TINY < n <= self.options.part_size]
        try:
            with ThreadPoolExecutor(self.options.concurrency) as pool:
                for (staging_path, store_path), size in large:
                    self._send_large(staging_path, FILES + store_path, size, pool)
                    stored.append(FILES + store_path)
            # Tiny files cost a round trip each, not bandwidth: more of them at once.
            for group, threads in (
                (tiny, max(16, self.options.concurrency)),
                (rest, self.options.concurrency),
            ):
                with ThreadPoolExecutor(threads) as pool:
                    for move, error in zip(
                        group, pool.map(self._send_small_safely, group), strict=True
                    ):
                        if error is None:
                            stored.append(FILES + move[1])
                        elif failure is None:
                            failure = error
            if failure is not None:
                raise failure
        except BaseException:
            for key in stored:  # only objects this call itself stored
                with contextlib.suppress(OSError):
                    self._delete_key(key)
            raise
        self._sent.update(stored)

    def commit_many(self, moves: list[tuple[Path, str]]) -> list[tuple[Path, str]]:
        """Sent ahead already (the upload pipeline), or sent now (repair, tiering). The
        staged bytes stay until ``release_staging``, so ``uncommit`` costs no download."""
        self.send_ahead([m for m in moves if FILES + m[1] not in self._sent])
        for _, store_path in moves:
            self._sent.discard(FILES + store_path)
        return list(moves)

    def release_staging(self, moves: list[tuple[Path, str]]) -> None:
        for staging_path, _ in moves:
            self.discard_staging(staging_path)

    def _refuse_existing(self, key: str) -> None:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            if _missing(exc):
                return
            raise as_os_error(exc, key) from None
        raise FileAlreadyExists(
            f"The store already holds an object at {key!r}.",
            "An earlier commit of this name did not finish; an administrator should "
            "check the store.",
        )

    def _send_small_safely(self, move: tuple[Path, str]) -> BaseException | None:
        try:
            self._send_small(move[0], FILES + move[1])
        except BaseException as exc:
            return exc
        return None

    def _send_small(self, source: Path, key: str) -> None:
        self._refuse_existing(key)
        with open(source, "rb") as handle:
            part = _Part(1, handle.read())
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=part.data, ContentMD5=part.md5)
        except Exception as exc:
            raise as_os_error(exc, f"storing {key}") from None

    def _send_large(self, source: Path, key: str, size: int, pool: ThreadPoolExecutor) -> None:
        self._refuse_existing(key)
        part_size = max(self.options.part_size, -(-size // MAX_PARTS))
        try:
            upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
        except Exception as exc:
            raise as_os_error(exc, f"storing {key}") from None
        try:
            etags = self._send_parts(source, key, upload_id, part_size, pool)
            self._refuse_existing(key)
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={
                    "Parts": [{"ETag": e, "PartNumber": n} for n, e in sorted(etags.items())]
                },
            )
        except BaseException as exc:
            with contextlib.suppress(Exception):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            if isinstance(exc, Exception) and not isinstance(exc, FileAlreadyExists):
                raise as_os_error(exc, f"storing {key}") from None
            raise
        stored = self._head_size(key)
        if stored != size:
            self._delete_key(key)
            raise OSError(errno.EIO, f"{key} holds {stored} bytes after its upload, not {size}")

    def _send_parts(
        self, source: Path, key: str, upload_id: str, part_size: int, pool: ThreadPoolExecutor
    ) -> dict[int, str]:
        """Read a part, hand it to the pool; never more than ``concurrency`` parts held."""
        etags: dict[int, str] = {}
        gate = threading.BoundedSemaphore(self.options.concurrency)
        futures = []

        def send(part: _Part) -> None:
            try:
                answer = self.client.upload_part(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=part.number,
                    Body=part.data,
                    ContentMD5=part.md5,
                )
                etags[part.number] = str(answer["ETag"])
            finally:
                gate.release()

        with open(source, "rb") as handle:
            number = 0
            while True:
                gate.acquire()
                data = handle.read(part_size)
                if not data:
                    gate.release()
                    break
                number += 1
                futures.append(pool.submit(send, _Part(number, data)))
                del data
                if any(f.done() and f.exception() for f in futures):
                    break
        for future in futures:
            future.result()
        return etags

    def uncommit(self, store_path: str, staging_path: Path) -> None:
        """The catalogue refused the file: remove the object. The staged bytes are still
        in the spool (only ``release_staging`` removes them); if they went anyway, they
        are fetched back first, so a retried commit finds them."""
        key = FILES + store_path
        self._sent.discard(key)
        if not staging_path.exists():
            try:
                with open(staging_path, "xb") as out:
                    self.client.download_fileobj(self.bucket, key, out)
            except Exception as exc:
                with contextlib.suppress(OSError):
                    staging_path.unlink()
                if not _missing(exc):
                    raise as_os_error(exc, key) from None
        self._delete_key(key)

    # -- reading and removing -------------------------------------------------------------

    def _head_size(self, key: str) -> int | None:
        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"])
        except Exception as exc:
            if _missing(exc):
                return None
            raise as_os_error(exc, key) from None

    def exists(self, store_path: str) -> bool:
        return self._head_size(FILES + store_path) is not None

    def size_of(self, store_path: str) -> int | None:
        return self._head_size(FILES + store_path)

    def open_read(self, store_path: str, start: int = 0, end: int | None = None) -> BinaryIO:
        key = FILES + store_path
        return _as_binary(
            S3Reader(self.client, self.bucket, key, self.describe(store_path), start, end)
        )

    def _delete_key(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            if not _missing(exc):
                raise as_os_error(exc, f"deleting {key}") from None

    def delete(self, store_path: str) -> None:
        self._delete_key(FILES + store_path)

    def walk(self, after: str | None = None) -> Iterator[tuple[str, float]]:
        """A paged listing in key order (1,000 keys a page): bounded memory, any size."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": FILES}
        if after is not None:
            kwargs["StartAfter"] = FILES + after
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(**kwargs):
                for entry in page.get("Contents", []):
                    yield entry["Key"][len(FILES) :], entry["LastModified"].timestamp()
        except Exception as exc:
            raise as_os_error(exc, f"listing {self.bucket}") from None

    def abandoned_uploads(self, started_before: datetime) -> int:
        """Abort multipart uploads begun before ``started_before``: only a commit starts
        one, and a commit finishes or aborts its own, so an old one is a crash's."""
        aborted = 0
        try:
            pages = self.client.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.bucket, Prefix=FILES
            )
            for page in pages:
                for upload in page.get("Uploads", []):
                    if upload["Initiated"].timestamp() < started_before.timestamp():
                        self.client.abort_multipart_upload(
                            Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                        )
                        aborted += 1
        except Exception as exc:
            raise as_os_error(exc, f"listing uploads in {self.bucket}") from None
        return aborted

    # -- quarantine -----------------------------------------------------------------------

    def _copy(self, source_key: str, target_key: str) -> None:
        self._refuse_existing(target_key)
        size = self._head_size(source_key)
        if size is None:
            raise FileNotFoundError(errno.ENOENT, f"{source_key} does not exist")
        try:
            if size <= COPY_IN_ONE:
                self.client.copy_object(
                    Bucket=self.bucket,
                    Key=target_key,
                    CopySource={"Bucket": self.bucket, "Key": source_key},
                )
            else:
                self._copy_in_parts(source_key, target_key, size)
        except Exception as exc:
            raise as_os_error(exc, f"copying {source_key}") from None
        if self._head_size(target_key) != size:
            self._delete_key(target_key)
            raise OSError(errno.EIO, f"copying {source_key} to {target_key} came out short")

    def _copy_in_parts(self, source_key: str, target_key: str, size: int) -> None:
        part = max(1024**3, -(-size // MAX_PARTS))
        upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=target_key)[
            "UploadId"
        ]
        try:
            parts = []
            for number, start in enumerate(range(0, size, part), start=1):
                end = min(start + part, size) - 1
                answer = self.client.upload_part_copy(
                    Bucket=self.bucket,
                    Key=target_key,
                    UploadId=upload_id,
                    PartNumber=number,
                    CopySource={"Bucket": self.bucket, "Key": source_key},
                    CopySourceRange=f"bytes={start}-{end}",
                )
                parts.append({"ETag": answer["CopyPartResult"]["ETag"], "PartNumber": number})
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=target_key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},  # type: ignore[typeddict-item]
            )
        except BaseException:
            with contextlib.suppress(Exception):
                self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=target_key, UploadId=upload_id
                )
            raise

    def quarantine(self, store_path: str, label: str) -> str:
        basename = store_path.rsplit("/", 1)[-1][:MAX_BASENAME]
        quarantine_path = f"{label}-{basename}"
        self._copy(FILES + store_path, QUARANTINE + quarantine_path)
        self._delete_key(FILES + store_path)
        return quarantine_path

    def open_quarantined(self, quarantine_path: str) -> BinaryIO:
        key = QUARANTINE + quarantine_path
        label = f"s3://{self.bucket}/{key}"
        return _as_binary(S3Reader(self.client, self.bucket, key, label, 0, None))

    def delete_quarantined(self, quarantine_path: str) -> None:
        self._delete_key(QUARANTINE + quarantine_path)

    def adopt(self, quarantine_path: str, store_path: str) -> None:
        self._copy(QUARANTINE + quarantine_path, FILES + store_path)
        self._delete_key(QUARANTINE + quarantine_path)


def _size(path: Path) -> int:
    return os.stat(path).st_size


def _as_binary(reader: S3Reader) -> BinaryIO:
    """Buffered like ``open(path, "rb")``, with the object's size kept beside it."""
    buffered = io.BufferedReader(reader, buffer_size=1 << 20)
    buffered.size = reader.size  # type: ignore[attr-defined]
    return buffered
