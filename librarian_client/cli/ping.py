"""``librarian ping``: the server's name, version and checksum, and who we are to it.

The first thing a user runs, so it loads no more than it needs: the answer is read
as plain JSON (``LibrarianClient.ping_fields``), and pydantic stays unloaded.
"""

from __future__ import annotations

from librarian_client.cli.context import Context
from librarian_client.cli.output import print_json


def cmd_ping(ctx: Context) -> int:
    with ctx.client() as client:
        pong = client.ping_fields()
        url = client.url
    if ctx.json:
        print_json(pong)
        return 0
    user, permission = pong["user"], pong["permission"]
    who = f"as {user} ({permission or 'unknown permission'})" if user else "anonymous"
    name, version, checksum = pong["name"], pong["version"], pong["checksum_algorithm"]
    print(f"{url}: {name} {version}, checksums {checksum}, {who}")
    return 0
