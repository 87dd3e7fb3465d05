"""Server-side browser sessions: started at sign-in, checked on every request, revocable.

The cookie carries a random 256-bit token; the table ``web_session`` keeps only its SHA-256, so
whoever reads the database cannot sign in with what they read. A session ends at its absolute
expiry (activity never extends it), after ``session_idle_minutes`` without a request, when its
user signs out, changes or is given a new password, or is disabled or changes role. Every
process of a deployment reads the same rows: nothing here lives in one process's memory.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from tracker.store.models import User, WebSession

# Writing last_seen_at on every request would turn each page view into a write; a minute's
# resolution is plenty for an idle timeout counted in tens of minutes.
TOUCH_EVERY = timedelta(seconds=60)
# Ended sessions are kept this long (who was signed in when) and then deleted at the next sign-in.
KEEP_ENDED = timedelta(days=30)


@dataclass(frozen=True)
class SessionPolicy:
    lifetime: timedelta
    idle: timedelta


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start(session: Session, *, user_id: int, policy: SessionPolicy, now: datetime,
          user_agent: str | None = None, ip: str | None = None) -> str:
    """A new session for the user; returns the token for the cookie (never stored)."""
    token = secrets.token_urlsafe(32)
    session.exec(sa.delete(WebSession).where(
        col(WebSession.user_id) == user_id, col(WebSession.expires_at) < now - KEEP_ENDED))
    session.add(WebSession(id=token_hash(token), user_id=user_id, created_at=now, last_seen_at=now,
                           expires_at=now + policy.lifetime, user_agent=(user_agent or "")[:200] or None,
                           ip=(ip or "")[:64] or None))
    session.flush()
    return token


def refusal(row: WebSession | None, user: User | None, *, policy: SessionPolicy, now: datetime) -> str | None:
    """Why this signed-in session may not be used now, or None when it may."""
    if row is None or user is None:
        return "unknown session"
    if row.revoked_at is not None:
        return f"session ended ({row.revoked_reason or 'revoked'})"
    if now >= row.expires_at:
        return "session expired"
    if now - row.last_seen_at >= policy.idle:
        return "session idle too long"
    if user.disabled:
        return "account disabled"
    return None


def resolve(session: Session, token: str, *, policy: SessionPolicy, now: datetime) -> User | None:
    """The user of a live session, or None; marks the session seen (at most once a minute)."""
    if not token or len(token) > 200:
        return None
    found = session.exec(select(WebSession, User).join(User, col(User.id) == col(WebSession.user_id))
                         .where(WebSession.id == token_hash(token))).first()
    row, user = found if found is not None else (None, None)
    if refusal(row, user, policy=policy, now=now) is not None:
        return None
    assert row is not None and user is not None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
        session.add(row)
    return user


def end_all(session: Session, *, user_id: int, reason: str, now: datetime, keep_token: str | None = None) -> int:
    """End every live session of the user (except ``keep_token``'s); returns how many ended."""
    query = sa.update(WebSession).where(col(WebSession.user_id) == user_id, col(WebSession.revoked_at).is_(None))
    if keep_token is not None:
        query = query.where(col(WebSession.id) != token_hash(keep_token))
    result = session.exec(query.values(revoked_at=now, revoked_reason=reason[:64]))
    return int(result.rowcount or 0)


def end(session: Session, token: str, *, reason: str, now: datetime) -> None:
    session.exec(sa.update(WebSession)
                 .where(col(WebSession.id) == token_hash(token), col(WebSession.revoked_at).is_(None))
                 .values(revoked_at=now, revoked_reason=reason[:64]))
