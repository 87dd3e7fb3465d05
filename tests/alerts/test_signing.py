"""Webhook signatures as documented in docs/alerts.md."""

from __future__ import annotations

import hashlib
import hmac

from tracker.alerts.signing import sign, verify

BODY = b'{"id":1,"kind":"overdue"}'


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(b"s3cret", b"1767225600." + BODY, hashlib.sha256).hexdigest()
    assert sign("s3cret", 1767225600, BODY) == expected


def test_verify_accepts_ours_and_rejects_tampering_and_replay() -> None:
    ts = 1767225600
    good = sign("s3cret", ts, BODY)
    assert verify("s3cret", ts, BODY, good, now=ts + 10)
    assert verify("s3cret", str(ts), BODY, good.upper(), now=ts)
    assert not verify("s3cret", ts, BODY + b" ", good, now=ts)
    assert not verify("other", ts, BODY, good, now=ts)
    assert not verify("s3cret", ts + 1, BODY, good, now=ts)
    assert not verify("s3cret", ts, BODY, good, now=ts + 301)
    assert not verify("s3cret", "not-a-number", BODY, good, now=ts)
