"""Posting a signed notification to a receiver outside the site (the outbox's sender).

The signature is HMAC-SHA256 over ``"<unix time>.<body>"``, sent as
``t=<time>,v1=<hex>``: the time inside the signed text lets a receiver refuse a
replayed old message, and the delivery id lets it drop a repeat.
"""

from __future__ import annotations

import hashlib
import hmac
import time

import httpx

from librarian_client.models import DELIVERY_HEADER, SIGNATURE_HEADER


def signature(secret: str, body: str, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(secret: str, body: str, header: str, *, tolerance: float = 300) -> bool:
    """What a receiver checks (the tests do; a receiver in Python may call it)."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
    except (ValueError, KeyError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, body, timestamp), header)


def post_signed(
    client: httpx.Client, url: str, body: str, *, secret: str, delivery: str
) -> str | None:
    """None when the receiver took it (2xx); else what went wrong, for the log."""
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature(secret, body, int(time.time())),
        DELIVERY_HEADER: delivery,
        "User-Agent": "librarian-outbox",
    }
    try:
        response = client.post(url, content=body.encode(), headers=headers)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    if 200 <= response.status_code < 300:
        return None
    return f"answered {response.status_code}"
