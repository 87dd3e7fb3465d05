"""Webhook signatures (contract §4): hex HMAC-SHA256 of ``"<timestamp>.<raw body>"``.

The timestamp is inside the signed text so a captured request cannot be replayed later with a
fresh timestamp; receivers reject timestamps outside a tolerance window.
"""

from __future__ import annotations

import hashlib
import hmac
import time


def sign(secret: str, timestamp: int, body: bytes) -> str:
    message = str(int(timestamp)).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(secret: str, timestamp: int | str, body: bytes, signature: str,
           tolerance_s: int = 300, now: float | None = None) -> bool:
    """True when ``signature`` is ours for this body and the timestamp is recent enough."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance_s:
        return False
    # Constant-time comparison: a timing side channel must not reveal the expected signature.
    return hmac.compare_digest(sign(secret, ts, body), signature.strip().lower())
