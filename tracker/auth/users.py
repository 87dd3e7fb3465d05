"""Accounts: create users, check passwords, and turn a user into the Scope every query applies."""

from __future__ import annotations

from sqlmodel import Session, select

from tracker.auth.passwords import hash_password, needs_rehash, verify_password
from tracker.auth.scope import ROLES, Scope
from tracker.store import audit
from tracker.store.models import Provider, User


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
