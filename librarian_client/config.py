"""Named client connections, kept in a small JSON file with owner-only permissions.

The file holds credentials, so it is always written atomically with mode 0600;
the server writes its first admin connection here too (``save_connection``).
Precedence when resolving: explicit arguments > ``LIBRARIAN_*`` environment
variables > the named (or default) connection in the file.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_serializer,
    field_validator,
)

from librarian_client._connections import ENV_CONFIG as ENV_CONFIG
from librarian_client._connections import ENV_CONNECTION as ENV_CONNECTION
from librarian_client._connections import ENV_PASSWORD as ENV_PASSWORD
from librarian_client._connections import ENV_TOKEN as ENV_TOKEN
from librarian_client._connections import ENV_URL as ENV_URL
from librarian_client._connections import ENV_USERNAME as ENV_USERNAME
from librarian_client._connections import config_path, resolve
from librarian_client.exceptions import ConfigError

__all__ = [
    "ClientConfig",
    "Connection",
    "config_path",
    "load_config",
    "remove_connection",
    "resolve_connection",
    "save_connection",
]


class Connection(BaseModel):
    """Where a server is and how to authenticate to it (token wins over password)."""

    model_config = ConfigDict(extra="forbid")

    url: str
    username: str | None = None
    password: SecretStr | None = None
    token: SecretStr | None = None

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("the URL must start with http:// or https://")
        return value.rstrip("/")

    @field_serializer("password", "token", when_used="json")
    def _reveal(self, value: SecretStr | None) -> str | None:
        # Only the config file is written as JSON; repr()/str() keep secrets masked.
        return None if value is None else value.get_secret_value()

    @property
    def auth_kind(self) -> str:
        """``token``, ``password`` or ``none``: safe to show, unlike the secrets."""
        if self.token is not None:
            return "token"
        if self.username is not None and self.password is not None:
            return "password"
        return "none"


class ClientConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default: str | None = None
    connections: dict[str, Connection] = Field(default_factory=dict)


def load_config(path: Path | str | None = None) -> ClientConfig:
    """Read the config file; a missing file is an empty config, a broken one a ConfigError."""
    target = config_path() if path is None else Path(path)
    try:
        text = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ClientConfig()
    except OSError as exc:
        raise ConfigError(
            f"Cannot read the client config {target}: {exc.strerror}.",
            "Check the file's permissions, or point LIBRARIAN_CLIENT_CONFIG elsewhere.",
        ) from exc
    try:
        return ClientConfig.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(
            f"The client config {target} is invalid: {where or 'file'}: {first['msg']}.",
            "Fix or delete the file; `librarian connections add` rewrites it.",
        ) from exc


def _write_config(config: ClientConfig, target: Path) -> None:
    try:
        _write_atomically(config, target)
    except OSError as exc:
        raise ConfigError(
            f"Cannot write the client config {target}: {exc.strerror}.",
            "Check the directory's permissions, or set LIBRARIAN_CLIENT_CONFIG.",
        ) from exc


def _write_atomically(config: ClientConfig, target: Path) -> None:
    """A private temp file in the same directory, fsync, rename: never a torn file."""
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    data = json.dumps(config.model_dump(mode="json"), indent=2) + "\n"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o600)  # O_CREAT's mode is filtered by the umask; be sure.
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def save_connection(
    name: str,
    conn: Connection,
    make_default: bool = False,
    *,
    path: Path | str | None = None,
) -> Path:
    """Add or replace connection ``name``; return the file written.

    The first connection saved becomes the default even without ``make_default``,
    so that a fresh install works with no further flags.
    """
    if not name or name.strip() != name:
        raise ConfigError(f"Invalid connection name {name!r}.", "Use a short name without spaces.")
    target = config_path() if path is None else Path(path)
    config = load_config(target)
    config.connections[name] = conn
    if make_default or config.default not in config.connections:
        config.default = name
    _write_config(config, target)
    return target


def remove_connection(name: str, *, path: Path | str | None = None) -> Path:
    target = config_path() if path is None else Path(path)
    config = load_config(target)
    if name not in config.connections:
        raise ConfigError(
            f"No connection named {name!r} in {target}.", "`librarian connections` lists them."
        )
    del config.connections[name]
    if config.default == name:
        config.default = next(iter(config.connections), None)
    _write_config(config, target)
    return target


def resolve_connection(
    name: str | None = None,
    url: str | None = None,
    username: str | None = None,
    password: str | None = None,
    token: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    path: Path | str | None = None,
) -> Connection:
    """Merge explicit arguments, environment variables and the config file.

    Credentials are taken as a unit from the highest layer that supplies a
    password or token (and does not name a different user), so an explicit
    password is never overridden by a stored token. The default connection is
    not used when a different URL was given, so its credentials are never sent
    to another server.
    """
    found = resolve(name, url, username, password, token, env=env, path=path)
    return Connection(
        url=found.url,
        username=found.username,
        password=SecretStr(found.password) if found.password else None,
        token=SecretStr(found.token) if found.token else None,
    )
