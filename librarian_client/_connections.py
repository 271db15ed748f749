"""Reading the client config file and resolving a connection, without pydantic.

Every command that talks to a server resolves its connection first, and pydantic
costs a CLI run tens of milliseconds to load: more than ``librarian ping`` itself.
A file of the shape ``config.ClientConfig`` describes is checked here by hand;
anything else (bad JSON, a wrong type, an unknown key, an unreadable file) goes to
``config.load_config``, whose models decide and word the error, so a broken file
reads the same whichever path a command takes. Writing stays with the models.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple, TypeGuard

from librarian_client.exceptions import ConfigError

ENV_CONFIG = "LIBRARIAN_CLIENT_CONFIG"
ENV_URL = "LIBRARIAN_URL"
ENV_USERNAME = "LIBRARIAN_USERNAME"
ENV_PASSWORD = "LIBRARIAN_PASSWORD"  # noqa: S105 - an environment variable name
ENV_TOKEN = "LIBRARIAN_TOKEN"  # noqa: S105 - an environment variable name
ENV_CONNECTION = "LIBRARIAN_CONNECTION"

_CONFIG_KEYS = frozenset({"default", "connections"})
_CONNECTION_KEYS = frozenset({"url", "username", "password", "token"})
_SCHEMES = ("http://", "https://")


class Credentials(NamedTuple):
    """A ``config.Connection``'s fields as plain text (the secrets unmasked)."""

    url: str
    username: str | None = None
    password: str | None = None
    token: str | None = None


Connections = tuple[str | None, dict[str, Credentials]]
"""The default connection's name, and every connection by name."""


def config_path(env: Mapping[str, str] | None = None) -> Path:
    """``$LIBRARIAN_CLIENT_CONFIG``, else ``$XDG_CONFIG_HOME/librarian/client.json``."""
    env = os.environ if env is None else env
    explicit = env.get(ENV_CONFIG)
    if explicit:
        return Path(explicit).expanduser()
    xdg = env.get("XDG_CONFIG_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".config"
    return base / "librarian" / "client.json"


def _text(value: object) -> TypeGuard[str]:
    """A JSON string pydantic takes as it is (a lone surrogate it would refuse)."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _optional_text(value: object) -> bool:
    return value is None or _text(value)


def _credentials(value: object) -> Credentials | None:
    """What ``Connection`` would make of ``value``; None when it might object."""
    if not isinstance(value, dict) or not value.keys() <= _CONNECTION_KEYS:
        return None
    url = value.get("url")
    if not _text(url) or not url.startswith(_SCHEMES):
        return None
    username, password, token = (value.get(key) for key in ("username", "password", "token"))
    if not all(_optional_text(part) for part in (username, password, token)):
        return None
    return Credentials(url.rstrip("/"), username, password, token)


def _checked(text: str) -> Connections | None:
    """The file's connections when its shape is plainly right, else None."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # the models word the error
        return None
    if not isinstance(data, dict) or not data.keys() <= _CONFIG_KEYS:
        return None
    default, entries = data.get("default"), data.get("connections", {})
    if not _optional_text(default) or not isinstance(entries, dict):
        return None
    found: dict[str, Credentials] = {}
    for name, entry in entries.items():
        credentials = _credentials(entry)
        if credentials is None or not _text(name):
            return None
        found[name] = credentials
    return default, found


def _validated(target: Path) -> Connections:
    """The models' reading of the file: they accept it, or raise its ``ConfigError``."""
    from librarian_client.config import load_config

    config = load_config(target)
    return config.default, {
        name: Credentials(
            conn.url,
            conn.username,
            conn.password.get_secret_value() if conn.password is not None else None,
            conn.token.get_secret_value() if conn.token is not None else None,
        )
        for name, conn in config.connections.items()
    }


def read_connections(target: Path) -> Connections:
    """As ``config.load_config``: a missing file has none, a broken one is a ConfigError."""
    try:
        text = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, {}
    except OSError:
        return _validated(target)
    checked = _checked(text)
    return checked if checked is not None else _validated(target)


def resolve(
    name: str | None = None,
    url: str | None = None,
    username: str | None = None,
    password: str | None = None,
    token: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    path: Path | str | None = None,
) -> Credentials:
    """``config.resolve_connection``'s answer as plain text; it documents the rules."""
    env = os.environ if env is None else env
    conn_name = name or env.get(ENV_CONNECTION) or None
    default_name, connections = read_connections(
        Path(path) if path is not None else config_path(env)
    )
    base: Credentials | None = None
    if conn_name is not None:
        if conn_name not in connections:
            known = ", ".join(sorted(connections)) or "none configured"
            raise ConfigError(
                f"No connection named {conn_name!r} (known: {known}).",
                "`librarian connections add NAME URL ...` creates one.",
            )
        base = connections[conn_name]

    explicit_url = url or env.get(ENV_URL) or None
    if base is None and default_name in connections:
        default = connections[default_name]
        if explicit_url is None or explicit_url.rstrip("/") == default.url.rstrip("/"):
            base = default

    layers: list[tuple[str | None, str | None, str | None]] = [
        (username, password, token),
        (
            env.get(ENV_USERNAME) or None,
            env.get(ENV_PASSWORD) or None,
            env.get(ENV_TOKEN) or None,
        ),
    ]
    if base is not None:
        layers.append((base.username, base.password, base.token))
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
    if not final_url.startswith(_SCHEMES):
        raise ConfigError(
            f"The server URL {final_url!r} is not an http(s) URL.",
            "Give the full URL, e.g. http://localhost:21108.",
        )
    return Credentials(
        final_url.rstrip("/"), final_user, final_password or None, final_token or None
    )
