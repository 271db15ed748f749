"""First start of a site: tell the operator how to log in without logging a secret."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session, sessionmaker

from librarian_server.services.site.maintenance import ensure_first_admin
from librarian_server.settings import ServerSettings

log = logging.getLogger(__name__)


def first_start(factory: sessionmaker[Session], settings: ServerSettings) -> list[str]:
    """Create the first admin if there is no user; return lines for the console only."""
    with factory.begin() as session:
        admin = ensure_first_admin(session, settings)
    if admin is None:
        return []
    log.info("created the first admin user %r (password in %s)", admin.name, admin.password_file)
    lines = [
        f"Created the first admin user {admin.name!r}; its password is in "
        f"{admin.password_file} (readable only by you).",
    ]
    lines.extend(_save_client_connection(settings, admin.name, admin.token))
    lines.append(
        f"Elsewhere: export LIBRARIAN_URL={settings.base_url} "
        f"LIBRARIAN_USERNAME={admin.name} LIBRARIAN_PASSWORD=$(cat {admin.password_file})"
    )
    return lines


def _save_client_connection(settings: ServerSettings, username: str, token: str) -> list[str]:
    """Save a connection named after the site; never overwrite one a user already has.

    On a machine with no connections it becomes the default. Otherwise it is added beside
    them (the default stays), so a second site started on one machine is reachable as
    ``librarian --connection SITE`` and commands never silently go to the first one.
    """
    if not settings.write_client_config or not settings.is_embedded:
        return []
    from librarian_client.config import Connection, config_path, load_config, save_connection

    name = settings.site_name
    existing = load_config()
    if name in existing.connections:
        return [
            f"Saved no client connection: one named {name!r} exists already in {config_path()};",
            f"  to replace it: librarian connections add {name} {settings.base_url} "
            f"--username {username} --password-file FILE",
        ]
    default = not existing.connections
    path = save_connection(name, Connection(url=settings.base_url, username=username, token=token))
    if default:
        return [
            f"Saved a client connection {name!r} with a token to {path}:",
            "  the `librarian` command works as it is.",
        ]
    return [
        f"Saved a client connection {name!r} with a token to {path}; the default is still "
        f"{existing.default!r}:",
        f"  use `librarian --connection {name} ...` to reach this site.",
    ]
