"""API tokens and alert subscriptions."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from tracker.auth.scope import Scope
from tracker.store.models import (
    ApiToken,
    Subscription,
)
from tracker.store.queries.common import (
    P,
    Row,
)


def list_tokens(session: Session, scope: Scope) -> list[Row]:
    """API tokens (never their secret): a provider's own, or all for regulators and admins."""
    tok: Any = ApiToken
    q = (sa.select(tok.id, tok.name, tok.token_prefix, tok.created_at, tok.revoked_at, tok.last_used_at,
                   P.slug.label("provider"))
         .join(P, P.id == tok.provider_id, isouter=True).order_by(tok.created_at.desc(), tok.id.desc()))
    return [dict(r._mapping) for r in session.execute(scope.restrict(q, tok.provider_id))]

def list_subscriptions(session: Session, scope: Scope) -> list[Row]:
    """Alert sinks configured in the dashboard (administrators only)."""
    if scope.role != "admin":
        raise PermissionError("only administrators manage alert sinks")
    sub: Any = Subscription
    return [dict(r._mapping) for r in session.execute(
        sa.select(sub.id, sub.sink, sub.scope_kind, sub.scope_value, sub.created_at).order_by(sub.id))]
