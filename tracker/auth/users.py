"""Accounts: create users, check passwords, and turn a user into the Scope every query applies."""

from __future__ import annotations

from sqlmodel import Session, col, select

from tracker.auth import sessions
from tracker.auth.passwords import hash_password, needs_rehash, verify_password
from tracker.auth.scope import ROLES, Scope
from tracker.auth.tokens import UNUSABLE_PASSWORD
from tracker.store import audit
from tracker.store.models import ApiToken, Provider, User
from tracker.store.types import utcnow


class UserError(ValueError):
    """A request to create or change an account that cannot be honoured; the message says why."""


def create_user(session: Session, *, username: str, role: str, password: str,
                provider_slug: str | None = None, actor: str = "cli") -> User:
    """Add one account (audited). Provider accounts belong to exactly one provider; others to none."""
    username = username.strip()
    if not username or len(username) > 120:
        raise UserError("a username needs 1 to 120 characters")
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    provider_id: int | None = None
    if role == "provider":
        if not provider_slug:
            raise UserError("a provider account needs --provider SLUG")
        provider = session.exec(select(Provider).where(Provider.slug == provider_slug)).first()
        if provider is None:
            raise UserError(f"no provider with slug {provider_slug!r}")
        provider_id = provider.id
    elif provider_slug:
        raise UserError(f"a {role} account is not tied to a provider; leave out --provider")
    if session.exec(select(User).where(User.username == username)).first() is not None:
        raise UserError(f"user {username!r} already exists")
    user = User(username=username, role=role, provider_id=provider_id,
                password_hash=hash_password(password))
    session.add(user)
    session.flush()
    audit.record(session, actor=actor, action="user.create", entity="user", entity_id=user.id or 0,
                 details={"username": username, "role": role, "provider": provider_slug})
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The enabled user whose password matches, else None (same cost whether or not it exists)."""
    user = session.exec(select(User).where(User.username == username.strip())).first()
    if not verify_password(user.password_hash if user else None, password):
        return None
    if user is None or user.disabled:
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        session.add(user)
    return user


def scope_for(user: User) -> Scope:
    return Scope(actor=user.username, role=user.role, provider_id=user.provider_id)


def list_users(session: Session, scope: Scope) -> list[dict[str, object]]:
    """Every account, for administrators only."""
    if scope.role != "admin":
        raise PermissionError("only administrators manage accounts")
    rows = session.exec(select(User, Provider.slug).join(Provider, isouter=True)
                        .order_by(User.username)).all()
    return [{"id": u.id, "username": u.username, "role": u.role, "provider": slug,
             "disabled": u.disabled, "created_at": u.created_at} for u, slug in rows]


def _named(session: Session, username: str) -> User:
    user = session.exec(select(User).where(User.username == username.strip())).first()
    if user is None:
        raise UserError(f"no account named {username.strip()!r}")
    return user


def _provider_id(session: Session, role: str, provider_slug: str | None) -> int | None:
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    if role != "provider":
        if provider_slug:
            raise UserError(f"a {role} account is not tied to a provider; leave out the provider")
        return None
    if not provider_slug:
        raise UserError("a provider account needs a provider (--provider SLUG)")
    provider = session.exec(select(Provider).where(Provider.slug == provider_slug)).first()
    if provider is None:
        raise UserError(f"no provider with slug {provider_slug!r}")
    return provider.id


def _keep_one_admin(session: Session, user: User) -> None:
    """Refuse to disable or demote the last enabled administrator: nobody could undo it."""
    if user.role != "admin" or user.disabled:
        return
    admins = session.exec(select(User.id).where(User.role == "admin", col(User.disabled).is_(False))).all()
    if len(admins) <= 1:
        raise UserError(f"{user.username!r} is the last enabled administrator; add another first")


def _end_sessions(session: Session, user: User, reason: str, keep_token: str | None = None) -> int:
    return sessions.end_all(session, user_id=user.id or 0, reason=reason, now=utcnow(), keep_token=keep_token)


def set_disabled(session: Session, *, username: str, disabled: bool, actor: str) -> User:
    """Disable (ending every session; its API tokens stop working) or enable an account (audited)."""
    user = _named(session, username)
    if disabled:
        _keep_one_admin(session, user)
    user.disabled = disabled
    session.add(user)
    ended = _end_sessions(session, user, "account disabled" if disabled else "account enabled")
    audit.record(session, actor=actor, action="user.disable" if disabled else "user.enable", entity="user",
                 entity_id=user.id or 0, details={"username": user.username, "sessions_ended": ended})
    return user


def set_role(session: Session, *, username: str, role: str, provider_slug: str | None, actor: str) -> User:
    """Change an account's role (and provider), ending its sessions and, when the provider it
    acted for changes, revoking the API tokens it created for the old one (audited)."""
    user = _named(session, username)
    provider_id = _provider_id(session, role, provider_slug)
    if user.password_hash == UNUSABLE_PASSWORD:
        raise UserError(f"{user.username!r} is a provider's service account; its role cannot change")
    if role != "admin":
        _keep_one_admin(session, user)
    before = {"role": user.role, "provider_id": user.provider_id}
    user.role, user.provider_id = role, provider_id
    session.add(user)
    revoked = 0
    if before["provider_id"] != provider_id:
        now = utcnow()
        for token in session.exec(select(ApiToken).where(ApiToken.user_id == user.id,
                                                         col(ApiToken.revoked_at).is_(None))).all():
            token.revoked_at = now
            session.add(token)
            revoked += 1
    ended = _end_sessions(session, user, "role changed")
    audit.record(session, actor=actor, action="user.set_role", entity="user", entity_id=user.id or 0,
                 details={"username": user.username, "from": before["role"], "to": role,
                          "provider": provider_slug, "sessions_ended": ended, "tokens_revoked": revoked})
    return user


def reset_password(session: Session, *, username: str, password: str, actor: str) -> User:
    """An administrator sets a new password; every session of the account ends (audited)."""
    user = _named(session, username)
    if user.password_hash == UNUSABLE_PASSWORD:
        raise UserError(f"{user.username!r} is a provider's service account and cannot sign in")
    user.password_hash = hash_password(password)
    session.add(user)
    ended = _end_sessions(session, user, "password reset")
    audit.record(session, actor=actor, action="user.reset_password", entity="user", entity_id=user.id or 0,
                 details={"username": user.username, "sessions_ended": ended})
    return user


def change_own_password(session: Session, *, user_id: int, current_password: str, new_password: str,
                        keep_token: str | None) -> User:
    """The signed-in user changes their password; their other sessions end (audited)."""
    user = session.get(User, user_id)
    if user is None or user.disabled or not verify_password(user.password_hash, current_password):
        raise UserError("the current password is not right")
    if new_password == current_password:
        raise UserError("the new password must differ from the current one")
    user.password_hash = hash_password(new_password)
    session.add(user)
    ended = _end_sessions(session, user, "password changed", keep_token=keep_token)
    audit.record(session, actor=user.username, action="user.change_password", entity="user",
                 entity_id=user.id or 0, details={"other_sessions_ended": ended})
    return user
