"""Services return plain data: URLs, Range and Digest belong to the HTTP layer (api/)."""

from __future__ import annotations

import re
from pathlib import Path

import librarian_server.services

HTTP_DETAILS = re.compile(r"/api/v\d|\b(Range|Digest|Content-\w+|Request|Response)\b")


def test_no_service_builds_urls_or_http_headers() -> None:
    root = Path(librarian_server.services.__file__).parent
    found = [
        f"{path.relative_to(root)}:{number}: {line.strip()}"
        for path in sorted(root.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if HTTP_DETAILS.search(line)
    ]
    assert found == []
