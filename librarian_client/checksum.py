"""Self-describing checksums (``<algorithm>:<hex>``), shared by client and server.

Both ends must agree byte for byte on how a checksum is spelled, so the one
implementation lives here and the server imports it.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable
from typing import BinaryIO, Protocol

DEFAULT_ALGORITHM = "md5"


class Hasher(Protocol):
    def update(self, data: bytes | bytearray | memoryview, /) -> None: ...

    def hexdigest(self) -> str: ...


def _xxh3_128() -> Hasher:
    # Optional dependency (``pip install xxhash``), imported by name so that type
    # checking does not need it installed.
    xxhash = importlib.import_module("xxhash")
    hasher: Hasher = xxhash.xxh3_128()
    return hasher


_FACTORIES: dict[str, Callable[[], Hasher]] = {
    "md5": lambda: hashlib.md5(usedforsecurity=False),
    "sha1": lambda: hashlib.sha1(usedforsecurity=False),
    "sha256": hashlib.sha256,
    "blake2b": hashlib.blake2b,
    "xxh3-128": _xxh3_128,
}


class ChecksumError(ValueError):
    """A checksum string is malformed or names an unknown algorithm."""


def supported_algorithms() -> list[str]:
    return sorted(_FACTORIES)


def new_hasher(algorithm: str = DEFAULT_ALGORITHM) -> Hasher:
    try:
        factory = _FACTORIES[algorithm]
    except KeyError:
        raise ChecksumError(
            f"unknown checksum algorithm {algorithm!r}; known: {', '.join(supported_algorithms())}"
        ) from None
    try:
        return factory()
    except ImportError as exc:
        raise ChecksumError(
            f"checksum algorithm {algorithm!r} needs {exc.name} installed"
        ) from None


def format_checksum(algorithm: str, hexdigest: str) -> str:
    return f"{algorithm}:{hexdigest.lower()}"


def parse_checksum(value: str) -> tuple[str, str]:
    """Split and normalise ``algo:hex``; a bare 32-digit hex string is taken as MD5."""
    text = value.strip()
    if ":" in text:
        algorithm, _, digest = text.partition(":")
        algorithm = algorithm.lower()
    elif len(text) == 32:
        algorithm, digest = "md5", text
    else:
        raise ChecksumError(f"checksum {value!r} is not of the form '<algorithm>:<hex>'")
    digest = digest.lower()
    if algorithm not in _FACTORIES:
        raise ChecksumError(
            f"unknown checksum algorithm {algorithm!r}; known: {', '.join(supported_algorithms())}"
        )
    if not digest or any(c not in "0123456789abcdef" for c in digest):
        raise ChecksumError(f"checksum {value!r} has a digest that is not hexadecimal")
    return algorithm, digest


def normalise_checksum(value: str) -> str:
    return format_checksum(*parse_checksum(value))


def checksum_file(path: str, algorithm: str = DEFAULT_ALGORITHM, chunk_size: int = 1 << 20) -> str:
    """Hash a file in constant memory."""
    with open(path, "rb") as handle:
        return checksum_stream(handle, algorithm, chunk_size)


def checksum_stream(
    handle: BinaryIO, algorithm: str = DEFAULT_ALGORITHM, chunk_size: int = 1 << 20
) -> str:
    """Hash what is left to read in an open file, in constant memory."""
    hasher = new_hasher(algorithm)
    while chunk := handle.read(chunk_size):
        hasher.update(chunk)
    return format_checksum(algorithm, hasher.hexdigest())
