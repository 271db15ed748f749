"""``ping``'s answer read without pydantic, for a CLI whose start-up it would double.

The body is checked by hand against ``models.PingResponse`` (a ``WireModel``: no
unknown keys, no NUL in text); an answer the check doubts goes to the model, which
accepts it or raises the usual ``ProtocolError``, so the result is the same either way.
"""

from __future__ import annotations

import json

from librarian_client.limits import PermissionLevel

FIELDS = ("name", "version", "checksum_algorithm", "user", "permission")
"""``PingResponse``'s fields, in its order (a test holds the two together)."""
REQUIRED = frozenset(FIELDS[:3])
PERMISSIONS = frozenset(level.value for level in PermissionLevel)


def _text(value: object) -> bool:
    if not isinstance(value, str) or "\x00" in value:
        return False
    try:
        value.encode("utf-8")  # a lone surrogate: leave it to the model
    except UnicodeEncodeError:
        return False
    return True


def checked(content: bytes) -> dict[str, str | None] | None:
    """``PingResponse.model_dump(mode="json")`` of ``content``; None when in doubt."""
    try:
        data = json.loads(content.decode("utf-8"))
    except (ValueError, RecursionError):  # also a UnicodeDecodeError
        return None
    if not isinstance(data, dict) or not REQUIRED <= data.keys() <= set(FIELDS):
        return None
    fields = {name: data.get(name) for name in FIELDS}
    if not all(_text(fields[name]) for name in REQUIRED):
        return None
    user, permission = fields["user"], fields["permission"]
    if user is not None and not _text(user):
        return None
    if permission is not None and permission not in PERMISSIONS:
        return None
    return fields
