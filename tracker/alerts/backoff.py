"""When to try a failed delivery again: exponential backoff with jitter, then give up loudly."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

BASE_DELAY_S = 30.0
MAX_DELAY_S = 3600.0
MAX_ATTEMPTS = 20  # about 14 hours of retrying before a delivery is marked dead
JITTER = 0.2  # +/- 20%, so deliveries that failed together do not retry in lockstep


def delay_seconds(attempts: int, rng: random.Random | None = None) -> float:
    """Delay after the ``attempts``-th failed attempt (1-based): 30 s, 60 s, 120 s ... 1 h."""
    exponent = max(attempts - 1, 0)
    base = MAX_DELAY_S if exponent >= 20 else min(BASE_DELAY_S * 2**exponent, MAX_DELAY_S)
    factor = 1.0 + JITTER * (2.0 * (rng or random).random() - 1.0)
    return min(base * factor, MAX_DELAY_S)


def next_attempt(now: datetime, attempts: int, rng: random.Random | None = None) -> datetime:
    return now + timedelta(seconds=delay_seconds(attempts, rng))


def exhausted(attempts: int) -> bool:
    return attempts >= MAX_ATTEMPTS
