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

ENV_CONFIG = "LIBRARIAN_CLIENT_CONFIG"
ENV_URL = "LIBRARIAN_URL"
ENV_USERNAME = "LIBRARIAN_USERNAME"
ENV_PASSWORD = "LIBRARIAN_PASSWORD"  # noqa: S105 - an environment variable name
ENV_TOKEN = "LIBRARIAN_TOKEN"  # noqa: S105 - an environment variable name
ENV_CONNECTION = "LIBRARIAN_CONNECTION"


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


def config_path(env: Mapping[str, str] | None = None) -> Path:
    """``$LIBRARIAN_CLIENT_CONFIG``, else ``$XDG_CONFIG_HOME/librarian/client.json``."""
    env = os.environ if env is None else env
    explicit = env.get(ENV_CONFIG)
    if explicit:
        return Path(explicit).expanduser()
    xdg = env.get("XDG_CONFIG_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".config"
    return base / "librarian" / "client.json"


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


def _env_secret(env: Mapping[str, str], key: str) -> str | None:
    value = env.get(key)
    return value if value else None


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
    env = os.environ if env is None else env
    conn_name = name or env.get(ENV_CONNECTION) or None
    config = load_config(path if path is not None else config_path(env))
    base: Connection | None = None
    if conn_name is not None:
        if conn_name not in config.connections:
            known = ", ".join(sorted(config.connections)) or "none configured"
            raise ConfigError(
                f"No connection named {conn_name!r} (known: {known}).",
                "`librarian connections add NAME URL ...` creates one.",
            )
        base = config.connections[conn_name]

    explicit_url = url or env.get(ENV_URL) or None
    if base is None and config.default in config.connections:
        default = config.connections[config.default]
        if explicit_url is None or explicit_url.rstrip("/") == default.url.rstrip("/"):
            base = default

    layers: list[tuple[str | None, str | None, str | None]] = [
        (username, password, token),
        (
            env.get(ENV_USERNAME) or None,
            _env_secret(env, ENV_PASSWORD),
            _env_secret(env, ENV_TOKEN),
        ),
    ]
    if base is not None:
        layers.append(
            (
                base.username,
                base.password.get_secret_value() if base.password else None,
                base.token.get_secret_value() if base.token else None,
            )
        )
    final_user = next((layer[0] for layer in layers if layer[0]), None)
    final_password, final_token = next(
        (
            (layer_password, layer_token)
            for layer_user, layer_password, layer_token in layers
            # Another user's stored secret must not stand in for the one asked for.
            if (layer_password or layer_token) and layer_user in (None, final_user)
        ),
        (None, None),
    )
    final_url = explicit_url or (base.url if base is not None else None)
    if not final_url:
        raise ConfigError("No librarian server is configured.")
    try:
        return Connection(
            url=final_url,
            username=final_user,
            password=SecretStr(final_password) if final_password else None,
            token=SecretStr(final_token) if final_token else None,
        )
    except ValidationError:
        raise ConfigError(
            f"The server URL {final_url!r} is not an http(s) URL.",
            "Give the full URL, e.g. http://localhost:21108.",
        ) from None
