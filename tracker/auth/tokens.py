"""Per-provider API tokens: shown once, stored as a SHA-256 hash, revocable.

Tokens carry 256 bits of randomness, so a plain SHA-256 (not a slow password hash) is enough:
nobody can guess a preimage, and looking the hash up by index means the comparison never
touches the secret byte by byte. The first characters are kept as ``token_prefix`` so people can
tell their tokens apart in listings.

Every token belongs to a user (``api_token.user_id`` is NOT NULL): when none is given, the
provider's service user ``svc-<slug>`` (role ``provider``, password hash ``!`` so it can never log
in) is created on first use and owns the token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlmodel import Session, select

from tracker.auth.scope import Scope
from tracker.store import audit
from tracker.store.models import ApiToken, Provider, User
from tracker.store.types import utcnow

TOKEN_PREFIX = "ctt_"  # noqa: S105 - a public marker, not a secret
PREFIX_CHARS = 12  # "ctt_" + 8 characters shown in listings
UNUSABLE_PASSWORD = "!"  # noqa: S105 - matches no password hash format: login is impossible


def hash_token(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def service_user(session: Session, provider: Provider) -> User:
    username = f"svc-{provider.slug}"
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        user = User(username=username, password_hash=UNUSABLE_PASSWORD, role="provider", provider_id=provider.id)
        session.add(user)
        session.flush()
    return user


def create_token(session: Session, *, user_id: int | None, provider_id: int, name: str,
                 actor: str = "system") -> tuple[str, ApiToken]:
    """A new token for the provider; the plaintext is returned here and never again."""
    provider = session.get(Provider, provider_id)
    if provider is None:
        raise LookupError(f"no provider with id {provider_id}")
    if user_id is None:
        user_id = service_user(session, provider).id
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user_id, provider_id=provider_id, name=name[:120],  # type: ignore[arg-type]
                     token_prefix=plaintext[:PREFIX_CHARS], token_hash=hash_token(plaintext))
    session.add(token)
    session.flush()
    audit.record(session, actor=actor, action="token.created", entity="api_token", entity_id=token.id or 0,
                 details={"provider": provider.slug, "name": token.name, "prefix": token.token_prefix})
    return plaintext, token


def revoke_token(session: Session, token_id: int, *, scope: Scope) -> ApiToken:
    """Revoke (idempotently); a provider may revoke only its own tokens."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise LookupError(f"no token with id {token_id}")
    if not (scope.role == "admin" or (token.provider_id is not None and scope.can_file_for(token.provider_id))):
        raise PermissionError("this token belongs to another provider")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record(session, actor=scope.actor, action="token.revoked", entity="api_token", entity_id=token_id,
                     details={"prefix": token.token_prefix})
    session.flush()
    return token


def authenticate_token(session: Session, plaintext: str) -> ApiToken | None:
    """The live token for this plaintext, or None (unknown, revoked, or its user disabled)."""
    if not plaintext or not plaintext.startswith(TOKEN_PREFIX) or len(plaintext) > 200:
        return None
    digest = hash_token(plaintext)
    token = session.exec(select(ApiToken).where(ApiToken.token_hash == digest)).first()
    if token is None or not hmac.compare_digest(token.token_hash, digest) or token.revoked_at is not None:
        return None
    user = session.get(User, token.user_id)
    if user is None or user.disabled or token.provider_id is None:
        return None
    token.last_used_at = utcnow()
    session.flush()
    return token
