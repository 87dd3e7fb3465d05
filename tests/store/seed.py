"""The day and the regulator's scope the query-layer tests read the seeded world with."""

from __future__ import annotations

from datetime import date

from tracker.auth.scope import Scope

TODAY = date(2026, 6, 1)
REGULATOR = Scope(actor="reg", role="regulator")
