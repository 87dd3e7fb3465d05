"""Evaluation on worked cases. Frames are built by hand, as the estimation engine would."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tracker.regimes.deadlines import deadline_from
from tracker.regimes.evaluate import Evaluation, evaluate, regime_is_in_force
from tracker.regimes.flag_schema import SYSTEM_COLUMNS
from tracker.regimes.load import load_regimes, parse_regimes
from tracker.regimes.model import Regime

SYSTEM_SCHEMA: dict[str, Any] = {
    "system_key": pl.String,
    "provider": pl.String,
    **{name: dtype for name, dtype in SYSTEM_COLUMNS.items() if name not in ("system_key", "last_completed_end_date")},
    "projection_start_date": pl.Date,
    "projection_end_date": pl.Date,
    "projected_flop_per_day": pl.Float64,
    "last_completed_end_date": pl.Date,
    "has_discrepancy": pl.Boolean,
}
PREVIOUS_SCHEMA: dict[str, Any] = {
    "subject_key": pl.String,
    "regime_id": pl.String,
    "status": pl.String,
    "projected": pl.Boolean,
    "first_flagged_on": pl.Date,
    "crossed_on": pl.Date,
    "deadline": pl.Date,
    "notified_at": pl.Datetime("us", "UTC"),
}
REGIMES = load_regimes()
BY_ID = {regime.id: regime for regime in REGIMES}
AS_OF = date(2026, 11, 27)  # a Friday


def system(
    key: str,
    flop: float | None = None,
    low: float | None = None,
    high: float | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A system row; ``flop`` fills the cumulative and parameter-update columns alike."""
    row: dict[str, Any] = {"system_key": key, "provider": "acme", "is_downstream_modifier": False}
    for prefix in ("training_flop", "param_update_flop"):
        row[f"{prefix}_central"] = flop
        row[f"{prefix}_low"] = flop if low is None else low
        row[f"{prefix}_high"] = flop if high is None else high
    row.update(extra)
    return row


def systems(*rows: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=SYSTEM_SCHEMA)


def previous(flags: pl.DataFrame, **changes: Any) -> pl.DataFrame:
    """The stored state the shell would pass back in (status as plain text, as from a DB)."""
    return flags.select(
        "subject_key",
        "regime_id",
        pl.col("status").cast(pl.String),
        "projected",
        "first_flagged_on",
        "crossed_on",
        "deadline",
        "notified_at",
    ).with_columns(**{name: pl.lit(value) for name, value in changes.items()})


def flag(evaluation: Evaluation, subject: str, regime_id: str) -> dict[str, Any]:
    rows = evaluation.flags.filter(
        (pl.col("subject_key") == subject) & (pl.col("regime_id") == regime_id)
    )
    assert rows.height == 1, f"expected one {regime_id} flag for {subject}, got {rows.height}"
    return rows.row(0, named=True)


def regime_ids(evaluation: Evaluation) -> set[str]:
    return set(evaluation.flags.get_column("regime_id").to_list())


def custom(**fields: Any) -> Regime:
    entry = {
        "id": "xx-custom",
        "jurisdiction": "XX",
        "instrument": "regulator notice",
        "status": {"state": "in_force"},
        "subject": "AI system",
        "obligation": "notify",
        **fields,
    }
    return parse_regimes([entry])[0]


# --- comparators and the status rule --------------------------------------------------------


def test_exactly_at_the_threshold_eu_strictly_greater_is_not_crossed_but_korea_gte_is() -> None:
    result = evaluate(
        systems(system("inflection-2", 1e25), system("at-1e26", 1e26)), REGIMES, AS_OF
    )
    assert flag(result, "inflection-2", "eu-aia-gpaisr-presumption")["status"] == "below"
    assert flag(result, "at-1e26", "kr-aibasic-safety")["status"] == "above"
    assert flag(result, "at-1e26", "us-ca-sb53-frontier-model")["status"] == "below"  # gt


def test_worked_public_figures_against_the_eu_threshold() -> None:
    result = evaluate(
        systems(
            system("llama-3.1-405b", 3.8e25, 2.9e25, 4.9e25),
            system("aramco-metabrain", 1.05e25, 0.8e25, 1.4e25),
            system("pangu-ultra", 1.07e25, 1.07e25, 1.07e25),
            system("near-miss", 0.95e25, 0.7e25, 1.3e25),
            system("small", 2e24, 1e24, 4e24),
        ),
        REGIMES,
        AS_OF,
    )
    eu = "eu-aia-gpaisr-presumption"
    assert flag(result, "llama-3.1-405b", eu)["status"] == "above"
    assert flag(result, "aramco-metabrain", eu)["status"] == "likely_above"
    assert flag(result, "pangu-ultra", eu)["status"] == "above"
    assert flag(result, "near-miss", eu)["status"] == "likely_below"
    assert flag(result, "small", eu)["status"] == "below"
    llama = flag(result, "llama-3.1-405b", eu)
    assert (llama["value_central"], llama["value_low"], llama["value_high"]) == (
        3.8e25,
        2.9e25,
        4.9e25,
    )
    assert llama["threshold"] == 1e25 and llama["comparator"] == "gt" and llama["alerts_enabled"]
    assert flag(result, "llama-3.1-405b", "kr-aibasic-safety")["status"] == "below"


def test_missing_estimate_is_unknown_not_below() -> None:
    result = evaluate(systems(system("undisclosed")), REGIMES, AS_OF)
    eu = flag(result, "undisclosed", "eu-aia-gpaisr-presumption")
    assert eu["status"] == "unknown"
    assert eu["reason"] == "no estimate of training_flop_cumulative"


def test_a_missing_bound_never_yields_a_certain_status() -> None:
    row = system("one-sided", 2e25)
    row["training_flop_low"] = None
    result = evaluate(systems(row), REGIMES, AS_OF)
    assert flag(result, "one-sided", "eu-aia-gpaisr-presumption")["status"] == "likely_above"


# --- counting rules -------------------------------------------------------------------------


def test_gpai_indicator_counts_parameter_updates_only_and_needs_modality() -> None:
    synthetic_heavy = system("synthetic-heavy", 5e23)
    synthetic_heavy |= {f"param_update_flop_{b}": 5e22 for b in ("central", "low", "high")}
    result = evaluate(systems(synthetic_heavy, system("gpai", 2e23)), REGIMES, AS_OF)
    assert flag(result, "synthetic-heavy", "eu-gl-gpai-indicative")["status"] == "below"
    gpai = flag(result, "gpai", "eu-gl-gpai-indicative")
    # Compute is above; modality is not declared: the flag stands, conditional on it.
    assert gpai["status"] == "above" and gpai["conditional"]
    assert json.loads(gpai["unheld_conditions"]) == list(BY_ID["eu-gl-gpai-indicative"].unheld_conditions)


def test_downstream_modifier_relative_rule_is_one_third_of_the_original() -> None:
    def modifier(key: str, own: float, base: float | None) -> dict[str, Any]:
        row = system(key, (base or 0) + own, is_downstream_modifier=True)
        row |= {f"own_training_flop_{b}": own for b in ("central", "low", "high")}
        row["base_training_flop_central"] = base
        return row

    result = evaluate(
        systems(
            modifier("big-finetune", 1.5e25, 3.8e25),  # 0.39 of the original
            modifier("small-finetune", 1.0e25, 3.8e25),  # 0.26
            modifier("unknown-base", 4e24, None),
            system("original", 3.8e25),
        ),
        REGIMES,
        AS_OF,
    )
    relative = flag(result, "big-finetune", "eu-gl-modifier-relative")
    assert relative["status"] == "above"
    assert relative["value_central"] == pytest.approx(1.5 / 3.8)
    assert relative["deadline"] == AS_OF + timedelta(days=14)
    assert flag(result, "small-finetune", "eu-gl-modifier-relative")["status"] == "below"
    # Base unknown: the fallbacks (1e25/3 and 1e23/3) apply instead of the ratio.
    assert flag(result, "unknown-base", "eu-gl-modifier-fallback-systemic")["status"] == "above"
    assert flag(result, "unknown-base", "eu-gl-modifier-fallback-gpai")["status"] == "above"
    by_subject = result.flags.group_by("subject_key").agg(pl.col("regime_id"))
    regimes_of = dict(by_subject.iter_rows())
    assert "eu-gl-modifier-fallback-systemic" not in regimes_of["big-finetune"]
    assert "eu-gl-modifier-relative" not in regimes_of["unknown-base"]
    # A modifier is a provider only for its modification: no presumption on the lineage total.
    assert "eu-aia-gpaisr-presumption" not in regimes_of["big-finetune"]
    assert "eu-gl-modifier-relative" not in regimes_of["original"]
    assert "eu-aia-gpaisr-presumption" in regimes_of["original"]


def test_training_run_rule_reads_the_largest_single_run() -> None:
    row = system("multi-run", 1.5e26, largest_run_flop_central=8e25, largest_run_flop_high=1.1e26)
    result = evaluate(systems(row), REGIMES, AS_OF)
    bis = flag(result, "multi-run", "us-bis-nprm-training-run")
    assert bis["status"] == "likely_below" and bis["value_central"] == 8e25
    assert bis["alerts_enabled"] is False  # proposed rule: informational only


def test_regimes_the_tracker_cannot_assess_get_no_flag_rows() -> None:
    result = evaluate(systems(system("frontier", 3e26), system("no-estimate", None)), REGIMES, AS_OF)
    evaluated = set(result.flags.get_column("regime_id").cast(pl.String).unique())
    unassessable = {r.id for r in REGIMES if r.unknown_reason is not None and r.phase_on(AS_OF) != "inactive"}
    assert {"us-ca-sb53-large-frontier-developer", "cn-tc260-registration"} <= unassessable
    assert not evaluated & unassessable
    # The reason is the regime's, said once: what the pages show for it.
    by_id = {r.id: r for r in REGIMES}
    assert "revenue_usd_annual" in str(by_id["us-ca-sb53-large-frontier-developer"].unknown_reason)
    assert "regulator" in str(by_id["cn-tc260-registration"].unknown_reason)
    assert flag(result, "frontier", "us-ca-sb53-frontier-model")["status"] == "above"
    # A held metric without an estimate is still flagged unknown, per system, with why.
    missing = flag(result, "no-estimate", "us-ca-sb53-frontier-model")
    assert missing["status"] == "unknown" and "no estimate" in missing["reason"]


def test_tc260_uses_a_regulator_threshold_once_configured(tmp_path: Path) -> None:
    operator = tmp_path / "operator.yaml"
    operator.write_text(
        "regulator_thresholds:\n"
        "  cn-tc260-registration:\n"
        "    {metric: training_flop_cumulative, comparator: gte, threshold: 1.0e+25}\n"
    )
    result = evaluate(systems(system("at-1e25", 1e25)), load_regimes(extra=[operator]), AS_OF)
    tc260 = flag(result, "at-1e25", "cn-tc260-registration")
    assert (tc260["status"], tc260["metric"], tc260["threshold"]) == (
        "above",
        "training_flop_cumulative",
        1e25,
    )
    assert tc260["reason"] is None


# --- in-force dates ----------------------------------------------------------------------------


def test_ny_raise_amended_applies_from_2027_01_01() -> None:
    regime = BY_ID["us-ny-raise-amended-frontier-model"]
    assert not regime_is_in_force(regime, date(2026, 12, 31))
    assert regime_is_in_force(regime, date(2027, 1, 1))
    frontier = systems(system("frontier", 3e26))
    assert regime.id not in regime_ids(evaluate(frontier, REGIMES, date(2026, 12, 31)))
    on_day_one = flag(evaluate(frontier, REGIMES, date(2027, 1, 1)), "frontier", regime.id)
    assert on_day_one["status"] == "above" and on_day_one["alerts_enabled"] is True


def test_eo_14110_is_history_after_its_rescission_on_2025_01_20() -> None:
    frontier = systems(system("frontier", 3e26))
    before = evaluate(frontier, REGIMES, date(2025, 1, 19))
    eo = flag(before, "frontier", "us-eo14110-model")
    assert eo["status"] == "above" and eo["alerts_enabled"] is False
    after = evaluate(frontier, REGIMES, date(2025, 1, 20), previous_flags=previous(before.flags))
    assert not {"us-eo14110-model", "us-eo14110-bio"} & regime_ids(after)
    assert not regime_is_in_force(BY_ID["us-eo14110-model"], date(2025, 1, 20))
    # The stored history is not touched: no transition closes or rewrites the old flag.
    assert "us-eo14110-model" not in after.transitions.get_column("regime_id").to_list()


def test_eo_bio_branch_needs_data_the_tracker_lacks() -> None:
    result = evaluate(systems(system("protein-model", 2e23)), REGIMES, date(2024, 6, 1))
    bio = flag(result, "protein-model", "us-eo14110-bio")
    assert bio["status"] == "above" and bio["conditional"]
    assert "biological sequence" in bio["unheld_conditions"]
    assert flag(result, "protein-model", "us-eo14110-model")["status"] == "below"


def test_vetoed_and_not_yet_effective_regimes_produce_no_flags() -> None:
    ids = regime_ids(evaluate(systems(system("frontier", 3e26)), REGIMES, AS_OF))
    assert (
        not {"us-ca-sb1047-covered", "us-ca-sb1047-finetune", "us-ny-raise-original-frontier"} & ids
    )
    assert {"us-ct-sb5-frontier-developer", "us-hr8094-covered-entity"} <= ids


# --- projection and deadlines --------------------------------------------------------------


def planned(key: str, current: float, projected: float, **extra: Any) -> dict[str, Any]:
    row = system(key, current, current * 0.9, current * 1.1, **extra)
    row |= {
        "projected_training_flop_central": projected,
        "projected_training_flop_low": projected * 0.9,
        "projected_training_flop_high": projected * 1.1,
    }
    return row


def test_planned_compute_flags_a_projected_crossing_and_starts_the_eu_clock() -> None:
    result = evaluate(systems(planned("in-training", 6e24, 1.3e25)), REGIMES, AS_OF)
    eu = flag(result, "in-training", "eu-aia-gpaisr-presumption")
    assert (eu["status"], eu["projected"]) == ("above", True)
    assert eu["value_central"] == 1.3e25  # the figures behind the status
    assert eu["crossed_on"] is None and eu["first_flagged_on"] == AS_OF
    assert eu["deadline"] == date(2026, 12, 11)  # 14 calendar days from 2026-11-27


def test_projection_is_ignored_when_it_does_not_cross_and_when_current_compute_crosses() -> None:
    result = evaluate(
        systems(planned("stays-small", 1e24, 5e24), planned("already-over", 2e25, 5e25)),
        REGIMES,
        AS_OF,
    )
    small = flag(result, "stays-small", "eu-aia-gpaisr-presumption")
    assert (small["status"], small["projected"], small["value_central"]) == ("below", False, 1e24)
    over = flag(result, "already-over", "eu-aia-gpaisr-presumption")
    assert (over["status"], over["projected"], over["value_central"]) == ("above", False, 2e25)


def test_eu_clock_keeps_running_from_when_the_crossing_became_known() -> None:
    first = evaluate(systems(planned("in-training", 6e24, 1.3e25)), REGIMES, AS_OF)
    later = date(2026, 12, 5)
    done = system(
        "in-training", 1.25e25, 1.15e25, 1.35e25, last_completed_end_date=date(2026, 12, 4)
    )
    second = evaluate(systems(done), REGIMES, later, previous_flags=previous(first.flags))
    eu = flag(second, "in-training", "eu-aia-gpaisr-presumption")
    assert (eu["status"], eu["projected"]) == ("above", False)
    assert eu["first_flagged_on"] == AS_OF and eu["crossed_on"] == date(2026, 12, 4)
    assert eu["deadline"] == date(2026, 12, 11)
    (change,) = second.transitions.filter(
        pl.col("regime_id") == "eu-aia-gpaisr-presumption"
    ).iter_rows(named=True)
    assert (change["old_status"], change["new_status"]) == ("above", "above")
    assert (change["old_projected"], change["new_projected"]) == (True, False)
    assert change["changed_on"] == later


def test_clock_never_starts_before_the_regime_applies_and_overdue_until_notified() -> None:
    llama = system(
        "llama-3.1-405b", 3.8e25, 2.9e25, 4.9e25, last_completed_end_date=date(2024, 7, 23)
    )
    first = evaluate(systems(llama), REGIMES, AS_OF)
    eu = flag(first, "llama-3.1-405b", "eu-aia-gpaisr-presumption")
    assert eu["crossed_on"] == date(2024, 7, 23)
    assert eu["deadline"] == date(2025, 8, 16)  # two weeks after Chapter V applied, 2025-08-02
    assert eu["overdue"] is True and eu["notified_at"] is None
    notified = datetime(2025, 8, 10, 9, 30, tzinfo=UTC)
    second = evaluate(
        systems(llama),
        REGIMES,
        AS_OF + timedelta(days=1),
        previous_flags=previous(first.flags).with_columns(
            notified_at=pl.when(pl.col("regime_id") == "eu-aia-gpaisr-presumption").then(
                pl.lit(notified, pl.Datetime("us", "UTC"))
            )
        ),
    )
    eu = flag(second, "llama-3.1-405b", "eu-aia-gpaisr-presumption")
    assert eu["notified_at"] == notified and eu["overdue"] is False
    assert eu["crossed_on"] == date(2024, 7, 23) and eu["first_flagged_on"] == AS_OF


def test_no_deadline_for_regimes_without_a_clock_or_for_projections_that_do_not_start_one() -> None:
    result = evaluate(systems(planned("kr-planned", 5e25, 2e26)), REGIMES, AS_OF)
    korea = flag(result, "kr-planned", "kr-aibasic-safety")
    assert (korea["status"], korea["projected"], korea["deadline"]) == ("above", True, None)


def test_working_day_deadline_from_a_friday() -> None:
    regime = custom(
        metric="inference_flop_30d",
        comparator="gte",
        threshold=1e26,
        deadline="P10D",
        deadline_calendar="working_days",
    )
    row = system("busy-api", 1e24)
    row |= {
        "inference_flop_30d_central": 3e26,
        "inference_flop_30d_low": 2e26,
        "inference_flop_30d_high": 4e26,
    }
    served = flag(evaluate(systems(row), [regime], AS_OF), "busy-api", "xx-custom")
    assert (served["status"], served["value_central"]) == ("above", 3e26)
    assert served["deadline"] == date(2026, 12, 11)  # 10 working days from Friday 2026-11-27


@pytest.mark.parametrize(
    ("deadline", "calendar"),
    [
        ("P10D", "working_days"),
        ("P3D", "working_days"),
        ("P14D", "calendar"),
        ("PT72H", "calendar"),
        ("P1M", "calendar"),
        ("P0D", "working_days"),
    ],
)
def test_frame_deadlines_match_the_pure_deadline_function(deadline: str, calendar: str) -> None:
    regime = custom(
        metric="training_flop_cumulative",
        comparator="gt",
        threshold=1e25,
        deadline=deadline,
        deadline_calendar=calendar,
    )
    anchors = [date(2026, 1, 26) + timedelta(days=offset) for offset in range(12)]
    rows = [
        system(f"s{i}", 2e25, last_completed_end_date=anchor) for i, anchor in enumerate(anchors)
    ]
    result = evaluate(systems(*rows), [regime], date(2026, 3, 1))
    for i, anchor in enumerate(anchors):
        expected = deadline_from(anchor, deadline, calendar)  # type: ignore[arg-type]
        assert flag(result, f"s{i}", "xx-custom")["deadline"] == expected, anchor


# --- custom regimes and clusters ------------------------------------------------------------


def test_relative_threshold_is_a_factor_of_the_largest_known_run() -> None:
    regime = custom(metric="relative_to_largest_run", comparator="gte", threshold=0.1)
    result = evaluate(
        systems(system("frontier", 5e26), system("tenth", 5e25), system("smaller", 4e25)),
        [regime],
        AS_OF,
    )
    assert flag(result, "frontier", "xx-custom")["status"] == "above"
    tenth = flag(result, "tenth", "xx-custom")
    assert tenth["status"] == "above" and tenth["value_central"] == pytest.approx(0.1)
    assert flag(result, "smaller", "xx-custom")["status"] == "below"
    pinned = custom(
        metric="relative_to_largest_run", comparator="gte", threshold=0.1, reference_flop=1e27
    )
    assert (
        flag(evaluate(systems(system("tenth", 5e25)), [pinned], AS_OF), "tenth", "xx-custom")[
            "status"
        ]
        == "below"
    )


def test_cluster_regimes_evaluate_the_clusters_frame() -> None:
    clusters = pl.DataFrame(
        {
            "cluster_key": ["at-1e20", "big"],
            "provider": ["acme", "acme"],
            "peak_ops_per_s_max": [1e20, 3e20],
        }
    )
    gte_rule = custom(
        id="xx-cluster", metric="cluster_peak_ops_per_s", comparator="gte", threshold=1e20
    )
    result = evaluate(systems(), [*REGIMES, gte_rule], AS_OF, clusters=clusters)
    assert flag(result, "at-1e20", "xx-cluster")["status"] == "above"
    assert flag(result, "at-1e20", "xx-cluster")["subject_kind"] == "cluster"
    assert flag(result, "at-1e20", "us-bis-nprm-cluster")["status"] == "below"  # gt
    big = flag(result, "big", "us-bis-nprm-cluster")
    # Networking is not held: conditional (cluster conditions cannot be declared yet).
    assert big["status"] == "above" and big["conditional"] and "300 Gbit/s" in big["unheld_conditions"]


# --- history --------------------------------------------------------------------------------


def test_transitions_are_emitted_only_on_change() -> None:
    frame = systems(system("llama-3.1-405b", 3.8e25, 2.9e25, 4.9e25), system("small", 1e24))
    first = evaluate(frame, REGIMES, AS_OF)
    # A first evaluation is one event per subject, with its highest status, not one per pair.
    assert first.transitions.is_empty()
    assert sorted(first.first_evaluated.select("subject_key", pl.col("status").cast(pl.String), "changed_on").rows()) \
        == [("llama-3.1-405b", "above", AS_OF), ("small", "above", AS_OF)]

    same = evaluate(frame, REGIMES, AS_OF + timedelta(days=1), previous_flags=previous(first.flags))
    assert same.transitions.is_empty()

    grown = systems(
        system("llama-3.1-405b", 3.8e25, 2.9e25, 4.9e25), system("small", 1.2e25, 0.9e25, 1.5e25)
    )
    changed = evaluate(
        grown, REGIMES, AS_OF + timedelta(days=2), previous_flags=previous(first.flags)
    )
    rows = changed.transitions.select("subject_key", "regime_id", "old_status", "new_status").rows()
    assert rows == [("small", "eu-aia-gpaisr-presumption", "below", "likely_above")]
    assert same.first_evaluated.is_empty() and changed.first_evaluated.is_empty()


def test_a_new_subject_among_evaluated_ones_gets_one_first_event_and_new_pairs_are_transitions() -> None:
    first = evaluate(systems(system("old", 2e25)), REGIMES, AS_OF)
    # One stored pair lost (as when a regime is added): it comes back as a transition from nothing.
    stored = previous(first.flags).filter(pl.col("regime_id") != "eu-aia-gpaisr-presumption")
    later = evaluate(systems(system("old", 2e25), system("new", 3e26)), REGIMES, AS_OF + timedelta(days=1),
                     previous_flags=stored)
    assert later.first_evaluated.select("subject_key", pl.col("status").cast(pl.String)).rows() == [("new", "above")]
    assert later.transitions.select("subject_key", "regime_id", "old_status", "new_status").rows() == [
        ("old", "eu-aia-gpaisr-presumption", None, "above")]
    # Stored flags of any regime make a subject known, even of a regime no longer evaluated.
    elsewhere = pl.DataFrame({"subject_key": ["new"], "regime_id": ["rescinded-regime"], "status": ["below"]})
    again = evaluate(systems(system("new", 3e26)), REGIMES, AS_OF, previous_flags=elsewhere)
    assert again.first_evaluated.is_empty()
    assert again.transitions.height == again.flags.height


def test_first_flagged_date_is_kept_while_flagged_and_cleared_when_it_drops() -> None:
    first = evaluate(systems(system("s", 2e25)), REGIMES, AS_OF)
    later = evaluate(
        systems(system("s", 3e25)), REGIMES, date(2027, 1, 4), previous_flags=previous(first.flags)
    )
    assert flag(later, "s", "eu-aia-gpaisr-presumption")["first_flagged_on"] == AS_OF
    revised = evaluate(
        systems(system("s", 5e24)), REGIMES, date(2027, 1, 5), previous_flags=previous(later.flags)
    )
    eu = flag(revised, "s", "eu-aia-gpaisr-presumption")
    assert (eu["status"], eu["first_flagged_on"], eu["crossed_on"], eu["deadline"]) == (
        "below",
        None,
        None,
        None,
    )


def test_empty_inputs_give_empty_frames_with_the_documented_columns() -> None:
    result = evaluate(systems(), REGIMES, AS_OF)
    assert result.flags.is_empty() and result.transitions.is_empty()
    assert result.flags.columns == [
        "subject_key",
        "subject_kind",
        "regime_id",
        "metric",
        "comparator",
        "threshold",
        "value_central",
        "value_low",
        "value_high",
        "status",
        "projected",
        "crossed_on",
        "first_flagged_on",
        "deadline",
        "overdue",
        "notified_at",
        "alerts_enabled",
        "reason",
        "conditional",
        "unheld_conditions",
        "tier",
    ]
    assert result.transitions.columns == [
        "subject_key",
        "regime_id",
        "old_status",
        "new_status",
        "old_projected",
        "new_projected",
        "changed_on",
    ]
    assert result.first_evaluated.columns == ["subject_key", "status", "changed_on"]


def test_duplicate_system_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="unique"):
        evaluate(systems(system("dup", 1e25), system("dup", 2e25)), REGIMES, AS_OF)


def test_output_dtypes_follow_the_published_schemas() -> None:
    from tracker.regimes.evaluate import FIRST_EVALUATED_SCHEMA, FLAG_SCHEMA, TRANSITION_SCHEMA

    result = evaluate(systems(system("s", 2e25)), REGIMES, AS_OF)
    assert dict(result.flags.schema) == FLAG_SCHEMA
    later = evaluate(systems(system("s", 2e26)), REGIMES, AS_OF, previous_flags=previous(result.flags))
    assert dict(later.transitions.schema) == TRANSITION_SCHEMA and later.transitions.height > 0
    assert dict(result.first_evaluated.schema) == FIRST_EVALUATED_SCHEMA
    assert set(result.flags.get_column("status").unique()) <= {
        "above", "likely_above", "likely_below", "below", "unknown",
    }
