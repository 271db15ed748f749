"""Peer credentials at rest: encrypted with a key that lives outside the database.

A site must present its peers' passwords when it calls them, so they cannot be
hashed like user passwords; instead they are sealed with Fernet (AES-128-CBC +
HMAC-SHA256, from the ``cryptography`` package) under a key kept in a 0600 file.
A database dump alone therefore reveals no peer password.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from librarian_server.errors import ConfigurationError
from librarian_server.settings import ServerSettings


def _load_or_create_key(path: Path) -> bytes:
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as handle:
        handle.write(key + b"\n")
    return key


class CredentialBox:
    """Seals and opens peer secrets with the site's key."""

    def __init__(self, key_path: Path) -> None:
        self.key_path = key_path
        try:
            self._key = _load_or_create_key(key_path)
            self._fernet = Fernet(self._key)
        except ValueError:
            raise ConfigurationError(
                f"{key_path} does not hold a valid key.",
                "Restore the site's secret key file, or remove it and add the peers again.",
            ) from None

    @classmethod
    def for_settings(cls, settings: ServerSettings) -> CredentialBox:
        return cls(settings.secret_key_path)

    def derive(self, label: str) -> str:
        """A secret of this site's for ``label`` (a staging job's signing key): the same in
        every process and after a restart, never stored, useless without the key file."""
        return hmac.new(
            self._key, b"librarian-derived:" + label.encode(), hashlib.sha256
        ).hexdigest()

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise ConfigurationError(
                f"A stored peer credential cannot be decrypted with {self.key_path}.",
                "Use the same secret key file in every process of this site, or set the "
                "peer's password again with `librarian-server update-peer`.",
            ) from None
