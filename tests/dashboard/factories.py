"""Test data written straight through the models: providers, systems, estimates, flags, alerts.

Each function adds rows to the session and flushes, so ids are known; the caller commits.
``seed_world`` builds the small two-provider registry the dashboard and query tests share.
Rows written by hand bypass the evaluation, so whoever writes estimates or flags directly calls
``summarise`` afterwards, as the evaluation does (the views read the summaries, not the flags).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import count
from typing import Any

from sqlmodel import Session

from tracker.auth.users import create_user
from tracker.registry.status import refresh_system_status
from tracker.store.models import (
    AISystem,
    Alert,
    Estimate,
    Filing,
    Flag,
    FlagEvent,
    Provider,
    Regime,
    TrainingRun,
)

PASSWORD = "correct horse battery staple"
_seq = count(1)


def provider(session: Session, slug: str, name: str | None = None) -> Provider:
    row = Provider(slug=slug, name=name or slug.title())
    session.add(row)
    session.flush()
    return row


def regime(session: Session, regime_id: str, threshold: float, *, metric: str = "training_flop_cumulative",
           state: str = "in_force", obligation: str | None = "notify", deadline: str | None = "P14D") -> Regime:
    definition = {"id": regime_id, "status": {"state": state, "effective": "2025-08-02"},
                  "threshold": threshold, "sources": ["S-TEST-1"], "obligation": obligation}
    row = Regime(id=regime_id, jurisdiction=regime_id.split("-")[0].upper(), instrument=f"{regime_id} act",
                 metric=metric, comparator="gt", threshold=threshold, state=state, obligation=obligation,
                 deadline=deadline, definition_json=json.dumps(definition))
    session.add(row)
    session.flush()
    return row


def system(session: Session, owner: Provider, name: str, *, version: str = "",
           base: AISystem | None = None, published: date | None = None) -> AISystem:
    row = AISystem(provider_id=owner.id, name=name, version=version, publication_date=published,
                   base_system_id=base.id if base else None)
    session.add(row)
    session.flush()
    return row


def estimate(session: Session, subject: AISystem, central: float, *, kind: str = "training",
             spread: float = 1.5, methods: str = "hardware,reported", confidence: str = "likely",
             per_method: dict[str, tuple[float, float, float]] | None = None,
             computed_at: datetime | None = None,
             period: tuple[date, date] | None = None) -> Estimate:
    inputs = {"methods": {m: {"central": c, "low": lo, "high": hi}
                          for m, (c, lo, hi) in (per_method or {}).items()}}
    row = Estimate(system_id=subject.id, kind=kind, central_flop=central, low_flop=central / spread,
                   high_flop=central * spread, methods=methods, confidence=confidence,
                   inputs_json=json.dumps(inputs), methodology_version="test-1",
                   computed_at=computed_at or datetime.now(UTC),
                   period_start=period[0] if period else None, period_end=period[1] if period else None)
    session.add(row)
    session.flush()
    return row


def flag(session: Session, subject: AISystem, regime_row: Regime, status: str, *,
         projected: bool = False, deadline: date | None = None, notified: bool = False,
         value: float | None = None) -> Flag:
    row = Flag(subject_kind="system", subject_id=subject.id, regime_id=regime_row.id, status=status,
               projected=projected, value_central=value, threshold=regime_row.threshold,
               deadline=deadline, crossed_on=date(2026, 1, 5) if status in ("above", "likely_above") else None,
               notified_at=datetime.now(UTC) if notified else None)
    session.add(row)
    session.add(FlagEvent(subject_kind="system", subject_id=subject.id, regime_id=regime_row.id,
                          old_status="below", new_status=status, new_projected=projected,
                          value_central=value, changed_on=date(2026, 1, 5)))
    session.flush()
    return row


def summarise(session: Session) -> None:
    """Rebuild the views' per-system summaries from the rows written so far."""
    session.flush()
    refresh_system_status(session)


def filing(session: Session, owner: Provider, *, status: str = "accepted", kind: str = "training_runs",
           errors: list[dict[str, Any]] | None = None) -> Filing:
    n = next(_seq)
    row = Filing(accession=f"T-{n:06d}", provider_id=owner.id, kind=kind, status=status,
                 sha256=f"{n:064x}", filename=f"runs-{n}.csv", file_format="csv", size_bytes=100,
                 channel="portal", filed_by="factory", record_count=1,
                 errors_json=json.dumps(errors) if errors else None)
    session.add(row)
    session.flush()
    return row


def run(session: Session, filed: Filing, subject: AISystem, run_id: str, *,
        reported_flop: float | None = None) -> TrainingRun:
    row = TrainingRun(filing_id=filed.id, provider_id=subject.provider_id, system_id=subject.id,
                      run_id=run_id, accelerator="H100 SXM5", accelerator_count=16384, training_hours=1300,
                      reported_flop=reported_flop, end_date=date(2024, 7, 1))
    session.add(row)
    session.flush()
    return row


def alert(session: Session, owner: Provider | None, subject: AISystem | None, *, kind: str = "flag_change",
          regime_id: str | None = None, acknowledged: bool = False) -> Alert:
    payload = {"status": "above", "deadline": "2026-03-01", "regime": regime_id}
    row = Alert(idempotency_key=f"test-{next(_seq)}", kind=kind, provider_id=owner.id if owner else None,
                system_id=subject.id if subject else None, regime_id=regime_id,
                payload_json=json.dumps(payload),
                acknowledged_at=datetime.now(UTC) if acknowledged else None,
                acknowledged_by="someone" if acknowledged else None)
    session.add(row)
    session.flush()
    return row


@dataclass
class World:
    ids: dict[str, int] = field(default_factory=dict)
    accessions: dict[str, str] = field(default_factory=dict)


def seed_world(session: Session, *, today: date | None = None, users: bool = True, summaries: bool = True) -> World:
    """Two providers (acme, rival), two regimes (1e25, 1e26), lineage, flags, alerts, filings;
    ``summaries=False`` leaves the views' summaries unwritten (a database before migration 0004)."""
    today = today or date.today()
    w = World()
    acme, rival = provider(session, "acme", "Acme AI"), provider(session, "rival", "Rival <b>Labs</b>")
    eu = regime(session, "eu-test-presumption", 1e25)
    us = regime(session, "us-test-model", 1e26, metric="training_run_ops")
    big = system(session, acme, "acme-lm", version="2", published=date(2024, 7, 23))
    tuned = system(session, acme, "acme-lm-chat", base=big, published=date(2024, 9, 1))
    small = system(session, acme, "acme-mini", published=date(2023, 5, 1))
    secret = system(session, rival, "rival-secret", published=date(2025, 2, 1))
    xss = system(session, rival, "<img src=x onerror=alert(1)>", published=date(2025, 3, 1))
    estimate(session, big, 3.8e25, confidence="confident", methods="architecture,hardware,reported",
             per_method={"architecture": (3.6e25, 3.0e25, 4.3e25), "hardware": (4.4e25, 2.9e25, 6.6e25),
                         "reported": (3.8e25, 3.4e25, 4.2e25)})
    estimate(session, tuned, 3.9e25, methods="hardware")
    estimate(session, small, 2e23, methods="architecture", confidence="speculative")
    estimate(session, secret, 2e26, methods="hardware", confidence="likely")
    estimate(session, xss, 5e24, methods="reported")
    estimate(session, big, 1.1e24, kind="inference_30d", computed_at=datetime.now(UTC) - timedelta(days=30))
    estimate(session, secret, 3e24, kind="inference_30d")
    estimate(session, big, 9e23, kind="inference_period", period=(date(2026, 9, 1), date(2026, 9, 30)))
    estimate(session, big, 1.1e24, kind="inference_period", period=(date(2026, 10, 1), date(2026, 10, 31)))
    estimate(session, secret, 3e24, kind="inference_period", period=(date(2026, 10, 1), date(2026, 10, 31)))
    flag(session, big, eu, "above", deadline=today - timedelta(days=3), value=3.8e25)  # overdue
    flag(session, tuned, eu, "likely_above", deadline=today + timedelta(days=10), value=3.9e25)
    flag(session, small, eu, "below", value=2e23)
    flag(session, big, us, "below", value=3.8e25)
    flag(session, secret, eu, "above", deadline=today + timedelta(days=5), value=2e26)
    flag(session, secret, us, "likely_above", projected=True, deadline=today + timedelta(days=40), value=2e26)
    flag(session, xss, eu, "likely_below", value=5e24)
    if summaries:
        summarise(session)
    good = filing(session, acme)
    run(session, good, big, "acme-run-1", reported_flop=3.8e25)
    bad = filing(session, acme, status="rejected",
                 errors=[{"row": 2, "column": "training_hours", "message": "must be > 0"}])
    rival_filing = filing(session, rival)
    run(session, rival_filing, secret, "rival-run-1")
    a1 = alert(session, acme, big, regime_id=eu.id)
    a2 = alert(session, rival, secret, regime_id=eu.id)
    a3 = alert(session, acme, tuned, regime_id=eu.id, acknowledged=True)
    if users:
        create_user(session, username="reg", role="regulator", password=PASSWORD)
        create_user(session, username="acme-user", role="provider", password=PASSWORD, provider_slug="acme")
        create_user(session, username="rival-user", role="provider", password=PASSWORD, provider_slug="rival")
        create_user(session, username="admin", role="admin", password=PASSWORD)
    w.ids = {"acme": acme.id or 0, "rival": rival.id or 0, "big": big.id or 0, "tuned": tuned.id or 0,
             "small": small.id or 0, "secret": secret.id or 0, "xss": xss.id or 0, "good_filing": good.id or 0,
             "bad_filing": bad.id or 0, "rival_filing": rival_filing.id or 0, "alert_acme": a1.id or 0,
             "alert_rival": a2.id or 0, "alert_acked": a3.id or 0}
    w.accessions = {"good": good.accession, "bad": bad.accession, "rival": rival_filing.accession}
    return w


def bulk_systems(session: Session, owner: Provider, n: int, *, start: int = 0) -> None:
    """``n`` plain systems with a training estimate each (for paging and scale tests)."""
    systems = [AISystem(provider_id=owner.id, name=f"bulk-{start + i:06d}") for i in range(n)]
    session.add_all(systems)
    session.flush()
    session.add_all([Estimate(system_id=s.id, kind="training", central_flop=10.0 ** (20 + (i % 60) / 10),
                              low_flop=1e19, high_flop=1e27, methods="hardware", confidence="likely",
                              methodology_version="test-1") for i, s in enumerate(systems)])
    summarise(session)
