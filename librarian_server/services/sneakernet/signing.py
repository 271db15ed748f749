"""Signed manifests: a disk proves which site wrote it, line by line.

The two sites of a disk already share one secret: the password the destination
uses to call the source (the source keeps its scrypt hash as the peer account's
password; the destination keeps the password itself, sealed). The source takes
the scrypt digest from that hash and writes the salt and cost parameters into the
manifest header; the destination recomputes the same digest from the password.
Neither the password nor the digest is ever written to the disk.

From the digest comes a per-disk key, HMAC-SHA256(digest, scheme|source|
destination|label), and every manifest line (header, file lines, end line) carries
``sig`` = HMAC-SHA256(key, the line's canonical JSON without ``sig``). Each line
is signed on its own, so an append-only manifest stays verifiable however an
export stops, and a line copied from another disk does not verify on this one.
Nothing here touches the database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any, Literal

from pydantic import BaseModel

SCHEME: Literal["hmac-sha256+scrypt-v1"] = "hmac-sha256+scrypt-v1"
SIG = "sig"
_MAXMEM = 64 * 1024 * 1024  # as for passwords: a hostile header cannot ask for more


class DiskKeySpec(BaseModel):
    """In the header: how the destination rebuilds the key (nothing secret)."""

    scheme: Literal["hmac-sha256+scrypt-v1"] = SCHEME
    account: str  # the source's account for the destination, whose password is shared
    n: int
    r: int
    p: int
    salt: str  # base64, as in the stored hash
    dklen: int = 64


class SigningError(ValueError):
    """The key cannot be derived: a hash of another kind, or parameters out of bounds."""


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def from_stored_hash(account: str, encoded: str) -> tuple[DiskKeySpec, bytes]:
    """At the source: the header's key spec and the digest, from the account's hash."""
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        secret = _unb64(digest)
        spec = DiskKeySpec(
            account=account, n=int(n), r=int(r), p=int(p), salt=salt, dklen=len(secret)
        )
    except ValueError:
        raise SigningError(f"the password of account {account!r} is not a scrypt hash") from None
    if scheme != "scrypt" or not secret:
        raise SigningError(f"the password of account {account!r} is not a scrypt hash")
    return spec, secret


def from_password(password: str, spec: DiskKeySpec) -> bytes:
    """At the destination: the same digest, recomputed from the password it holds."""
    if not (1 < spec.n <= 2**20 and 0 < spec.r <= 32 and 0 < spec.p <= 16 and spec.dklen <= 256):
        raise SigningError("the header asks for scrypt parameters out of bounds")
    try:
        return hashlib.scrypt(
            password.encode(),
            salt=_unb64(spec.salt),
            n=spec.n,
            r=spec.r,
            p=spec.p,
            maxmem=_MAXMEM,
            dklen=spec.dklen,
        )
    except ValueError as exc:  # n not a power of two, memory over the cap, bad base64
        raise SigningError(f"the header's scrypt parameters are unusable: {exc}") from None


def disk_key(secret: bytes, *, source: str, destination: str, label: str) -> bytes:
    info = f"{SCHEME}|{source}|{destination}|{label}".encode()
    return hmac.new(secret, info, hashlib.sha256).digest()


def _canonical(record: dict[str, Any]) -> bytes:
    body = {k: v for k, v in record.items() if k != SIG}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def sign(key: bytes, record: dict[str, Any]) -> dict[str, Any]:
    """The record with its ``sig``."""
    return {**record, SIG: hmac.new(key, _canonical(record), hashlib.sha256).hexdigest()}


def verifies(key: bytes, record: dict[str, Any]) -> bool:
    given = record.get(SIG)
    if not isinstance(given, str):
        return False
    expected = hmac.new(key, _canonical(record), hashlib.sha256).hexdigest()
    return hmac.compare_digest(given, expected)
