"""The views' summaries (system_status, system_crossing): kept per system, read by the grid and
overview, on both backends. The query results themselves are pinned in test_queries.py; here:
what the refresh writes, that it touches only the systems it is given, and that the grid's
index-friendly paths page exactly as one plain ORDER BY over every system would."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tests.dashboard import factories
from tests.store.seed import REGULATOR, TODAY
from tracker.auth.scope import Scope
from tracker.registry.status import refresh_system_status
from tracker.store import queries
from tracker.store.models import AISystem, Estimate, Flag, SystemCrossing, SystemStatus


def _status(session: Session) -> dict[int, SystemStatus]:
    # populate_existing: the refresh rewrites rows behind the ORM's back.
    rows = session.exec(select(SystemStatus).execution_options(populate_existing=True)).all()
    return {row.system_id: row for row in rows}


def _crossings(session: Session) -> set[tuple[Any, ...]]:
    return {(c.system_id, c.regime_id, c.status_rank, c.projected, c.notified)
            for c in session.exec(select(SystemCrossing).execution_options(populate_existing=True)).all()}


def test_summary_mirrors_the_flags_and_current_estimates(engine: Engine, world: factories.World) -> None:
    ids = world.ids
    with Session(engine) as session:
        status = _status(session)
        crossings = _crossings(session)
    assert set(status) == {ids[k] for k in ("big", "tuned", "small", "secret", "xss")}
    big = status[ids["big"]]
    assert (big.status_rank, big.projected, big.provider_id) == (4, False, ids["acme"])
    assert big.training_central_flop == pytest.approx(3.8e25)
    assert big.training_low_flop == pytest.approx(3.8e25 / 1.5)
    assert (big.training_methods, big.training_confidence) == ("architecture,hardware,reported", "confident")
    assert big.inference_30d_central_flop == pytest.approx(1.1e24)
    assert status[ids["secret"]].projected  # likely above the US threshold on planned compute
    assert [status[ids[k]].status_rank for k in ("tuned", "small", "xss")] == [3, 1, 2]
    assert crossings == {
        (ids["big"], "eu-test-presumption", 4, False, False),
        (ids["tuned"], "eu-test-presumption", 3, False, False),
        (ids["secret"], "eu-test-presumption", 4, False, False),
        (ids["secret"], "us-test-model", 3, True, False),
    }


def test_a_refresh_touches_only_the_systems_it_is_given(engine: Engine, world: factories.World) -> None:
    ids = world.ids
    with Session(engine) as session:
        before = {k: (v.updated_at, v.status_rank) for k, v in _status(session).items()}
        assert refresh_system_status(session, [ids["small"], ids["xss"]]) == 0  # nothing changed
        # The small model crosses the EU threshold and the XSS system's estimate is revised.
        flag = session.exec(select(Flag).where(Flag.subject_id == ids["small"])).one()
        flag.status, flag.deadline = "above", TODAY - timedelta(days=1)
        estimate = session.exec(select(Estimate).where(Estimate.system_id == ids["xss"],
                                                       Estimate.kind == "training")).one()
        estimate.is_current = False
        factories.estimate(session, session.get(AISystem, ids["xss"]), 6e24)  # type: ignore[arg-type]
        session.flush()
        assert refresh_system_status(session, [ids["small"]]) == 2  # its summary and its crossing
        status = _status(session)
        assert status[ids["small"]].status_rank == 4
        assert status[ids["xss"]].training_central_flop == pytest.approx(5e24)  # not given: left alone
        assert {k: v.updated_at for k, v in status.items() if k != ids["small"]} == {
            k: v[0] for k, v in before.items() if k != ids["small"]}
        assert (ids["small"], "eu-test-presumption", 4, False, False) in _crossings(session)
        assert queries.overview_counts(session, REGULATOR, today=TODAY)["overdue_notifications"] == 2
        refresh_system_status(session, [ids["xss"]])
        assert _status(session)[ids["xss"]].training_central_flop == pytest.approx(6e24)
        # Back below: the crossing row goes with the flag.
        flag.status = "below"
        session.flush()
        refresh_system_status(session, [ids["small"]])
        assert not any(c[0] == ids["small"] for c in _crossings(session))
        session.rollback()


def _mixed_registry(engine: Engine) -> None:
    """Evaluated systems (some sharing a figure, some without a training estimate or flag) and
    systems filed but never evaluated (no summary row at all)."""
    with Session(engine) as session:
        owner = factories.provider(session, "mixed")
        eu = factories.regime(session, "eu-test-presumption", 1e25)
        systems = [factories.system(session, owner, f"mixed-{i:03d}") for i in range(60)]
        for i, s in enumerate(systems):
            if i % 7 != 3:  # every seventh has no training estimate
                factories.estimate(session, s, 10.0 ** (22 + (i * 7919) % 50 / 10) if i % 9 else 1e24)
            if i % 5 != 1:  # every fifth has no flag
                factories.flag(session, s, eu, ("below", "likely_below", "likely_above", "above", "unknown")[i % 5])
        factories.summarise(session)
        for i in range(8):  # filed after the evaluation: no summary row yet
            factories.system(session, owner, f"unevaluated-{i}")
        session.commit()


SORTS: list[list[dict[str, str]]] = [
    [{"colId": "training_flop", "sort": "desc"}], [{"colId": "training_flop", "sort": "asc"}],
    [{"colId": "status", "sort": "desc"}], [{"colId": "status", "sort": "asc"}],
    [{"colId": "inference_flop_30d", "sort": "desc"}], [],
]
FILTERS: list[dict[str, Any]] = [
    {}, {"status": {"filterType": "text", "type": "equals", "filter": "unknown"}},
    {"status": {"filterType": "text", "type": "contains", "filter": "above"}},
    {"training_flop": {"filterType": "number", "type": "greaterThan", "filter": 1e24}},
    {"training_flop": {"filterType": "number", "type": "blank"}},
    {"name": {"filterType": "text", "type": "startsWith", "filter": "mixed-0"}},
]


@pytest.mark.parametrize("sort_model", SORTS)
def test_grid_pages_follow_one_order_over_systems_with_and_without_summaries(
        engine: Engine, sort_model: list[dict[str, str]]) -> None:
    _mixed_registry(engine)
    with Session(engine) as session:
        for filter_model in FILTERS:
            # systems_export is one ORDER BY ... NULLS LAST, id over every system: the reference.
            expected = [r["id"] for r in queries.systems_export(session, REGULATOR, sort_model, filter_model)]
            for size in (7, 25):
                pages = [queries.systems_page(session, REGULATOR, start, start + size, sort_model, filter_model)
                         for start in range(0, len(expected) + size, size)]
                assert [r["id"] for rows, _ in pages for r in rows] == expected, (filter_model, size)
                assert {total for _, total in pages} == {len(expected)}
    assert len(expected) > 0


def test_grid_status_unknown_includes_systems_never_evaluated(engine: Engine) -> None:
    _mixed_registry(engine)
    with Session(engine) as session:
        rows, total = queries.systems_page(session, REGULATOR, 0, 100, [],
                                           {"status": {"filterType": "text", "type": "equals", "filter": "unknown"}})
        name: Any = AISystem.name
        unevaluated = session.execute(sa.select(sa.func.count()).select_from(AISystem).where(
            name.startswith("unevaluated"))).scalar_one()
    assert unevaluated == 8
    assert total == len(rows) == 12 + 12 + 8  # an "unknown" flag, no flag at all, never evaluated
    assert {r["status"] for r in rows} == {"unknown"}


def test_scatter_and_counts_under_one_regime(engine: Engine, world: factories.World) -> None:
    with Session(engine) as session:
        us = queries.compute_scatter_points(session, REGULATOR, queries.ScatterFilters(regime_id="us-test-model"),
                                            top_n=1)
        eu = queries.compute_scatter_points(session, REGULATOR,
                                            queries.ScatterFilters(regime_id="eu-test-presumption"), top_n=1)
        below_us = queries.compute_scatter_points(session, REGULATOR, queries.ScatterFilters(
            regime_id="us-test-model", statuses=("below",)))
        unknown_us = queries.compute_scatter_points(session, REGULATOR, queries.ScatterFilters(
            regime_id="us-test-model", statuses=("unknown",)))
        counts = queries.overview_counts(session, REGULATOR, regime_id="us-test-model", today=TODAY)
        own = queries.compute_scatter_points(session, Scope(actor="a", role="provider", provider_id=world.ids["acme"]),
                                             queries.ScatterFilters(regime_id="us-test-model"), top_n=10)
    assert [(p["name"], p["status"], p["projected"]) for p in us["points"]] == [("rival-secret", "likely_above", True)]
    assert us["matching"] == 5
    assert {(p["name"], p["status"]) for p in eu["points"]} == {
        ("rival-secret", "above"), ("acme-lm", "above"), ("acme-lm-chat", "likely_above")}
    assert [p["name"] for p in below_us["points"]] == ["acme-lm"]
    assert below_us["matching"] == 1
    assert {p["name"] for p in unknown_us["points"]} == {"acme-lm-chat", "acme-mini", "<img src=x onerror=alert(1)>"}
    assert counts["per_regime"] == [{"regime_id": "us-test-model", "above": 0, "likely_above": 0, "projected": 1}]
    assert (counts["projected_crossings"], counts["overdue_notifications"]) == (1, 0)
    assert {p["provider"] for p in own["points"]} == {"acme"} and own["matching"] == 3


def test_provider_scope_holds_on_the_summary_paths(engine: Engine, world: factories.World) -> None:
    scope = Scope(actor="acme-user", role="provider", provider_id=world.ids["acme"])
    with Session(engine) as session:
        by_compute, total = queries.systems_page(session, scope, 0, 100, [{"colId": "training_flop", "sort": "desc"}])
        above, n_above = queries.systems_page(session, scope, 0, 100, [{"colId": "status", "sort": "desc"}],
                                              {"status": {"filterType": "text", "type": "equals", "filter": "above"}})
        series = queries.inference_series(session, scope)
        regimes = {r["id"]: r for r in queries.list_regimes_with_counts(session, scope)}
    assert total == 3 and [r["name"] for r in by_compute] == ["acme-lm-chat", "acme-lm", "acme-mini"]
    assert n_above == 1 and [r["name"] for r in above] == ["acme-lm"]
    assert [s["name"] for s in series["series"]] == ["acme-lm"]
    assert (regimes["eu-test-presumption"]["above"], regimes["us-test-model"]["projected"]) == (1, 0)
