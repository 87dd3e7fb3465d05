"""The seeded world plus what the systems, regimes and alert pages need to show: a system with only
planned compute, one whose usage is older than 30 days, the shipped regimes as stored, and alerts
of each kind with their deliveries. Shared by the page query tests and the page browser tests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlmodel import Session

from tests.dashboard import factories
from tracker.regimes.load import load_regimes
from tracker.store.models import Alert, AlertDelivery, Provider, Regime

SHIPPED = ("eu-aia-gpaisr-presumption", "cn-cac-algorithm-filing", "cn-tc260-registration",
           "cn-cac-anthropomorphic-draft", "us-bis-nprm-training-run")
PROJECTED_FLOP = 1.1e27
AGED_PERIOD = (date(2025, 1, 1), date(2025, 1, 31))
SECRET_WEBHOOK = "webhook:https://hooks.example.org/tracker?token=s3cret"


@dataclass
class PagesWorld:
    world: factories.World
    ids: dict[str, int]
    accession: str


def store_shipped_regimes(session: Session) -> None:
    """The shipped definitions of ``SHIPPED`` stored as the evaluation stores them."""
    for regime in load_regimes():
        if regime.id not in SHIPPED:
            continue
        session.add(Regime(id=regime.id, jurisdiction=regime.jurisdiction, instrument=regime.instrument,
                           metric=regime.effective_metric, comparator=regime.effective_comparator,
                           threshold=regime.effective_threshold, state=regime.status.state,
                           obligation=regime.obligation, addressee=regime.addressee, deadline=regime.deadline,
                           deadline_calendar=regime.deadline_calendar,
                           definition_json=regime.model_dump_json(by_alias=True)))
    session.flush()


def _alert(session: Session, kind: str, payload: dict[str, object], *, provider_id: int | None,
           system_id: int | None, regime_id: str | None = None) -> Alert:
    row = Alert(idempotency_key=f"pages-{kind}-{system_id}-{regime_id}", kind=kind, provider_id=provider_id,
                system_id=system_id, regime_id=regime_id, payload_json=json.dumps(payload))
    session.add(row)
    session.flush()
    return row


def seed_pages_world(session: Session, today: date | None = None) -> PagesWorld:
    w = factories.seed_world(session, today=today)
    store_shipped_regimes(session)
    acme = session.get(Provider, w.ids["acme"])
    assert acme is not None
    planned = factories.system(session, acme, "acme-next")
    factories.estimate(session, planned, PROJECTED_FLOP, kind="projected", methods="hardware")
    aged = factories.system(session, acme, "acme-aged")
    factories.estimate(session, aged, 2e24, methods="architecture")
    factories.estimate(session, aged, 4e23, kind="inference_period", period=AGED_PERIOD)
    eu = session.get(Regime, "eu-test-presumption")
    assert eu is not None
    factories.flag(session, planned, eu, "above", projected=True, value=PROJECTED_FLOP)
    factories.summarise(session)
    change = _alert(session, "flag_change", {
        "status": "above", "previous_status": "likely_above", "projected": False, "regime": eu.id,
        "training_flop": {"central": 3.8e25, "low": 2.9e25, "high": 4.9e25}, "threshold": 1e25,
        "deadline": "2026-03-01"}, provider_id=w.ids["acme"], system_id=w.ids["big"], regime_id=eu.id)
    now, change_id = datetime.now(UTC), change.id or 0
    session.add_all([
        AlertDelivery(alert_id=change_id, sink="webhook:https://regulator.example.org/in", status="delivered",
                      attempts=1, delivered_at=now),
        AlertDelivery(alert_id=change_id, sink=SECRET_WEBHOOK, status="dead", attempts=8,
                      last_error="HTTP 503 from receiver"),
        AlertDelivery(alert_id=change_id, sink="email:desk@regulator.example.org", status="pending", attempts=2,
                      last_error="connection refused"),
    ])
    discrepancy = _alert(session, "discrepancy", {
        "status": "discrepancy", "reported_flop": 1e24, "ratio": 0.17, "source": "independent",
        "training_flop": {"central": 5.9e24, "low": None, "high": None}},
        provider_id=w.ids["acme"], system_id=w.ids["small"])
    accession = w.accessions["bad"]
    rejected = _alert(session, "filing_rejected", {
        "status": "rejected", "accession": accession, "filename": "runs.csv", "errors": 1,
        "first_errors": ["row 2, training_hours: must be > 0"]}, provider_id=w.ids["acme"], system_id=None)
    session.flush()
    ids = {"change": change_id, "discrepancy": discrepancy.id or 0, "rejected": rejected.id or 0,
           "planned": planned.id or 0, "aged": aged.id or 0}
    return PagesWorld(w, ids, accession)
