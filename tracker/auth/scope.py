"""Access scope: the single rule every query applies.

A regulator or admin sees every provider; a provider's user sees only its own provider. The
scope is derived on the server from the authenticated identity, never from request input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ROLES = ("regulator", "provider", "admin")


@dataclass(frozen=True)
class Scope:
    actor: str
    role: str
    provider_id: int | None = None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}; expected one of {', '.join(ROLES)}")
        if self.role == "provider" and self.provider_id is None:
            raise ValueError("a provider scope needs the provider it belongs to")

    @property
    def sees_everything(self) -> bool:
        return self.role in ("regulator", "admin")

    def can_file_for(self, provider_id: int) -> bool:
        return self.role == "admin" or (self.role == "provider" and self.provider_id == provider_id)

    def restrict(self, query: Any, provider_column: Any) -> Any:
        """Apply the scope inside a SQLAlchemy select: the only place rows are filtered by owner."""
        if self.sees_everything:
            return query
        return query.where(provider_column == self.provider_id)


SYSTEM_SCOPE = Scope(actor="system", role="admin")
