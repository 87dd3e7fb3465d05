"""The sign-in attempt buckets (tracker/auth/attempts.py): counted in the database, refilled over
time, given back on success, swept when full, and exact under concurrent guesses."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from tests.reliability.helpers import scalar
from tracker.auth import attempts

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
RATE = attempts.attempt_rate(5)  # five in a row, then one every 12 seconds


def test_five_failures_then_one_every_twelve_seconds(engine: Engine) -> None:
    key = attempts.attempt_key("login", "reg", "10.0.0.1")
    assert [attempts.take(engine, key, RATE, T0) for _ in range(5)] == [0.0] * 5
    assert attempts.take(engine, key, RATE, T0) == pytest.approx(12.0)
    assert attempts.take(engine, key, RATE, T0 + timedelta(seconds=6)) == pytest.approx(6.0)
    assert attempts.take(engine, key, RATE, T0 + timedelta(seconds=12)) == 0.0  # one refilled, taken
    assert attempts.take(engine, key, RATE, T0 + timedelta(seconds=12)) > 0
    # Another account, or the same account from another address, has its own bucket.
    assert attempts.take(engine, attempts.attempt_key("login", "reg", "10.0.0.2"), RATE, T0) == 0.0
    assert attempts.take(engine, attempts.attempt_key("password", "reg", "10.0.0.1"), RATE, T0) == 0.0


def test_a_success_gives_the_bucket_back(engine: Engine) -> None:
    key = attempts.attempt_key("login", "reg", "10.0.0.1")
    for _ in range(5):
        attempts.take(engine, key, RATE, T0)
    attempts.give_back(engine, key)
    assert [attempts.take(engine, key, RATE, T0) for _ in range(5)] == [0.0] * 5


def test_full_buckets_are_swept_and_keys_are_hashes(engine: Engine) -> None:
    for n in range(20):  # a username-spraying attack: one failure on each of many names
        attempts.take(engine, attempts.attempt_key("login", f"user-{n}", "10.0.0.1"), RATE, T0)
    assert scalar(engine, "SELECT count(*) FROM attempt_bucket") == 20
    assert scalar(engine, "SELECT count(*) FROM attempt_bucket WHERE key LIKE '%user-%'") == 0
    later = T0 + attempts.full_after(RATE) + timedelta(seconds=1)  # every one of them full again
    attempts.take(engine, attempts.attempt_key("login", "reg", "10.0.0.9"), RATE, later)
    assert scalar(engine, "SELECT count(*) FROM attempt_bucket") == 1


def test_concurrent_guesses_never_exceed_the_burst(engine: Engine) -> None:
    key = attempts.attempt_key("login", "reg", "10.0.0.1")
    allowed: list[bool] = []
    start = threading.Barrier(12)

    def guess() -> None:
        start.wait(timeout=30)
        allowed.append(attempts.take(engine, key, RATE, T0) == 0.0)

    threads = [threading.Thread(target=guess) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(allowed) == 12 and allowed.count(True) == 5
