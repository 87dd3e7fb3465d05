"""Regimes as people name them: jurisdiction and instrument, not the registry's ids.

Ids (``eu-aia-gpaisr-presumption``) stay in JSON, URLs and filters' values; every label a person
reads (cards, filters, legends, hovers, the system page) uses these names.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session

from tracker.store.queries.common import R

_NAME_CHARS = 64  # a filter or legend line; the regimes page shows the whole instrument


def regime_name(regime_id: str, jurisdiction: str | None, instrument: str | None) -> str:
    """A regime as people name it: its jurisdiction and instrument, shortened to fit a legend or a
    filter (the full instrument is on the regimes page); the id when neither is known."""
    from tracker.store.queries.regime_labels import load_labels  # shipped regimes' names: data/regime_labels.yaml

    if named := load_labels().names.get(regime_id):
        return named
    text = (instrument or "").split(";")[0].strip()
    if len(text) > _NAME_CHARS:
        text = text[:_NAME_CHARS].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    if not text:
        return regime_id
    return f"{jurisdiction} · {text}" if jurisdiction else text


def regime_names(session: Session) -> dict[str, str]:
    """Every regime's name by id (regimes are public). Regimes sharing an instrument (the EU
    modification rules of one guideline section) are told apart by their id."""
    rows = session.execute(sa.select(R.id, R.jurisdiction, R.instrument)).all()
    names = {rid: regime_name(rid, jurisdiction, instrument) for rid, jurisdiction, instrument in rows}
    counts: dict[str, int] = {}
    for name in names.values():
        counts[name] = counts.get(name, 0) + 1
    return {rid: f"{name} ({rid})" if counts[name] > 1 else name for rid, name in names.items()}
