"""What people call a regime and where its sources live: ``data/regime_labels.yaml``.

Regime ids (``eu-aia-gpaisr-presumption``) are stable keys for machines; pages, filters and alert
lists show the regime's name instead. The shipped regimes are named in the labels file; a custom
regime (not in the file) is called by its jurisdiction and instrument (``regime_name``), so every
regime has a name without anyone having to write one. Source keys (``S-EU-51``) resolve to
their web addresses from the same file; a key without an address is shown unlinked.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
import yaml
from sqlmodel import Session

from tracker.store.queries.common import R

LABELS_PATH = Path(__file__).resolve().parents[3] / "data" / "regime_labels.yaml"
_NAME_CHARS = 64  # a filter or legend line; the regimes page shows the whole instrument


@dataclass(frozen=True)
class Labels:
    names: dict[str, str]
    sources: dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class SourceLink:
    key: str
    url: str | None  # None: no address recorded for the key


@functools.lru_cache(maxsize=4)
def load_labels(path: Path = LABELS_PATH) -> Labels:
    """The labels file, read once per process (it ships with the code). A missing or malformed
    file leaves every regime with its derived name rather than failing the pages."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return Labels({}, {})
    if not isinstance(document, dict):
        return Labels({}, {})
    names = document.get("names") if isinstance(document.get("names"), dict) else {}
    sources = document.get("sources") if isinstance(document.get("sources"), dict) else {}
    return Labels({str(k): str(v) for k, v in (names or {}).items() if v},
                  {str(k): tuple(str(u) for u in v) for k, v in (sources or {}).items() if isinstance(v, list)})


def regime_name(regime_id: str, jurisdiction: str | None = None, instrument: str | None = None) -> str:
    """The name shown for ``regime_id``: the labels file's; else its jurisdiction and instrument,
    shortened to fit a legend or a filter (the full instrument is on the regimes page); else the id."""
    if named := load_labels().names.get(regime_id):
        return named
    text = (instrument or "").split(";")[0].strip()
    if len(text) > _NAME_CHARS:
        text = text[:_NAME_CHARS].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    if not text:
        return regime_id
    return f"{jurisdiction} · {text}" if jurisdiction else text


def regime_names(session: Session, regime_ids: Iterable[str] | None = None) -> dict[str, str]:
    """``{id: name}`` for the stored regimes (``regime_ids`` of them, or all). Regimes sharing a
    name (the EU modification rules of one guideline section) are told apart by their id, among
    all stored regimes so a name does not change with the subset asked for. Regimes carry no
    provider data, so no scope applies."""
    rows = session.execute(sa.select(R.id, R.jurisdiction, R.instrument)).all()
    names = {rid: regime_name(rid, jurisdiction, instrument) for rid, jurisdiction, instrument in rows}
    counts: dict[str, int] = {}
    for name in names.values():
        counts[name] = counts.get(name, 0) + 1
    wanted = None if regime_ids is None else {str(i) for i in regime_ids if i}
    return {rid: f"{name} ({rid})" if counts[name] > 1 else name
            for rid, name in names.items() if wanted is None or rid in wanted}


def source_links(keys: Iterable[object]) -> list[SourceLink]:
    """Each source key with the address it is linked to (the first recorded one)."""
    sources = load_labels().sources
    links = []
    for key in keys:
        text = str(key)
        urls = sources.get(text) or ()
        links.append(SourceLink(text, urls[0] if urls and urls[0].startswith(("https://", "http://")) else None))
    return links
