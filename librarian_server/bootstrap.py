"""First start of a site: tell the operator how to log in without logging a secret."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session, sessionmaker

from .services.maintenance import ensure_first_admin
from .settings import ServerSettings

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
    saved = _save_client_connection(settings, admin.name, admin.token)
    if saved:
        lines.append(f"Saved a client connection {settings.site_name!r} with a token to {saved}:")
        lines.append("  the `librarian` command works as it is.")
    lines.append(
        f"Elsewhere: export LIBRARIAN_URL={settings.base_url} "
        f"LIBRARIAN_USERNAME={admin.name} LIBRARIAN_PASSWORD=$(cat {admin.password_file})"
    )
    return lines


def _save_client_connection(settings: ServerSettings, username: str, token: str) -> str | None:
    """Only on a machine with no client connections yet: never overwrite a user's config."""
    if not settings.write_client_config or not settings.is_embedded:
        return None
    from librarian_client.config import Connection, config_path, load_config, save_connection

    if load_config().connections:
        return None
    save_connection(
        settings.site_name,
        Connection(url=settings.base_url, username=username, token=token),
        make_default=True,
    )
    return str(config_path())
