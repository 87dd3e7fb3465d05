"""What the overview's figures must show beyond ``factories.seed_world``: projected-only systems
(one per provider, and one of acme's built on rival's confidential system), usage that has aged
out of the 30-day window, a ratio metric's flag history and a regime that does not evaluate a
system. Written straight through the models, as ``factories`` does; the caller commits."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session

from tests.dashboard import factories
from tracker.store.models import AISystem, Estimate, FlagEvent, Provider, Regime

PLANNED_FLOP = 1.1e27
RIVAL_PLANNED_FLOP = 6.6e26  # a figure acme must never see
MASKED_PLANNED_FLOP = 7.7e25  # acme's fine-tune of rival's confidential system: projected, withheld from acme
RATIO = 0.00404443894592107
AGED_PERIOD = (date(2026, 8, 1), date(2026, 8, 31))


@dataclass
class Planted:
    planned: int  # acme-planned: only an in-progress run, projected above both regimes
    rival_planned: int
    on_rival: int  # acme-on-rival: acme's, built on rival's confidential rival-secret
    aged: int  # acme-mini's latest usage period (no 30-day figure)


def _projected(session: Session, subject: AISystem, central: float) -> None:
    # As the estimator stores it: no methods on the row, the runs' per-method figures in its inputs.
    inputs = {"runs": [{"run_key": "1", "status": "in_progress", "hardware_flop_central": central,
                        "hardware_flop_low": central * 0.77, "hardware_flop_high": central * 1.3}]}
    session.add(Estimate(system_id=subject.id, kind="projected", central_flop=central, low_flop=central * 0.77,
                         high_flop=central * 1.3, methods="", confidence=None, inputs_json=json.dumps(inputs),
                         methodology_version="test-1"))
    session.flush()


def plant(session: Session, world: factories.World) -> Planted:
    acme, rival = session.get(Provider, world.ids["acme"]), session.get(Provider, world.ids["rival"])
    eu, us = session.get(Regime, "eu-test-presumption"), session.get(Regime, "us-test-model")
    small, tuned = session.get(AISystem, world.ids["small"]), session.get(AISystem, world.ids["tuned"])
    secret = session.get(AISystem, world.ids["secret"])
    assert acme and rival and eu and us and small and tuned and secret
    planned = factories.system(session, acme, "acme-planned", published=date(2026, 3, 1))
    _projected(session, planned, PLANNED_FLOP)
    factories.flag(session, planned, eu, "above", projected=True, value=PLANNED_FLOP)
    factories.flag(session, planned, us, "above", projected=True, value=PLANNED_FLOP)
    rival_planned = factories.system(session, rival, "rival-planned", published=date(2026, 4, 1))
    _projected(session, rival_planned, RIVAL_PLANNED_FLOP)
    factories.flag(session, rival_planned, eu, "above", projected=True, value=RIVAL_PLANNED_FLOP)
    on_rival = factories.system(session, acme, "acme-on-rival", base=secret, published=date(2026, 5, 1))
    _projected(session, on_rival, MASKED_PLANNED_FLOP)
    factories.flag(session, on_rival, eu, "above", projected=True, value=MASKED_PLANNED_FLOP)
    # Usage filed long ago: a period, no 30-day figure.
    factories.estimate(session, small, 4.4e23, kind="inference_period", period=AGED_PERIOD)
    # A modification rule measured as a ratio of the base's compute.
    ratio = factories.regime(session, "eu-test-modifier", 1 / 3, metric="modification_flop_ratio")
    session.add(FlagEvent(subject_kind="system", subject_id=tuned.id, regime_id=ratio.id, old_status=None,
                          new_status="below", new_projected=False, value_central=RATIO,
                          changed_on=date(2026, 2, 1)))
    factories.summarise(session)
    return Planted(planned=planned.id or 0, rival_planned=rival_planned.id or 0, on_rival=on_rival.id or 0,
                   aged=small.id or 0)
