"""Password hashing with scrypt (memory-hard KDF from the standard library)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

# n=2**15, r=8 costs ~32 MiB and ~50 ms: fine because verified credentials are cached.
_N, _R, _P = 2**15, 8, 1
_MAXMEM = 64 * 1024 * 1024
_MIN_TEST_N = 2**4


def set_work_factor_for_tests(n: int) -> None:
    """Lower the cost of new hashes; only test suites call this, no setting reaches it.

    Verification always uses the parameters stored in the hash, so hashes made at any
    cost keep verifying.
    """
    global _N
    if n < _MIN_TEST_N or n & (n - 1):
        raise ValueError("n must be a power of two of at least 16")
    _N = n


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, maxmem=_MAXMEM)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    expected = _unb64(digest)
    actual = hashlib.scrypt(
        password.encode(),
        salt=_unb64(salt),
        n=int(n),
        r=int(r),
        p=int(p),
        maxmem=_MAXMEM,
        dklen=len(expected),
    )
    return hmac.compare_digest(actual, expected)


def new_token() -> str:
    return "lib_" + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """Tokens are random and long, so a plain SHA-256 is enough to store them safely."""
    return hashlib.sha256(token.encode()).hexdigest()
