"""Conditional flags, declared conditions and tiers in the pure evaluation (worked cases)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import polars as pl
import pytest

from tests.regimes.test_regime_evaluate import AS_OF, BY_ID, REGIMES, custom, flag, system, systems
from tracker.regimes.evaluate import evaluate
from tracker.regimes.load import RegimeFileError, parse_regimes
from tracker.regimes.settings import Setting, apply_regulator_thresholds

GPAI = "eu-gl-gpai-indicative"
TC260 = "cn-tc260-registration"


def declared(*rows: tuple[str, str, bool]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"system_key": pl.String, "condition": pl.String, "held": pl.Boolean},
                        orient="row")


def two_conditions(**fields: Any) -> Any:
    return custom(metric="training_flop_cumulative", comparator="gt", threshold=1e24,
                  unheld_conditions=["placed on the market", "open weights"],
                  condition_keys=["placed_on_market", "open_weights"], **fields)


def test_a_3_6e23_model_has_a_conditional_eu_gpai_flag_until_its_modality_is_declared() -> None:
    # The issue's case: 3.6e23 FLOP is past the guidelines' indicative 1e23 (strictly greater).
    result = evaluate(systems(system("lm", 3.6e23, 2.8e23, 4.6e23)), REGIMES, AS_OF)
    gpai = flag(result, "lm", GPAI)
    assert gpai["status"] == "above" and gpai["conditional"] is True
    assert json.loads(gpai["unheld_conditions"]) == list(BY_ID[GPAI].unheld_conditions)
    assert gpai["reason"] is None and gpai["first_flagged_on"] == AS_OF
    # Regimes without unheld conditions are never conditional.
    others = result.flags.filter(pl.col("regime_id").cast(pl.String) != GPAI)
    assert not others.get_column("conditional").any()
    assert others.get_column("unheld_conditions").null_count() == others.height


def test_a_declared_held_condition_makes_the_flag_unconditional() -> None:
    conditions = declared(("lm", "generates_language_or_images", True))
    gpai = flag(evaluate(systems(system("lm", 3.6e23)), REGIMES, AS_OF, conditions=conditions), "lm", GPAI)
    assert gpai["status"] == "above" and gpai["conditional"] is False and gpai["unheld_conditions"] is None


def test_a_declared_not_held_condition_makes_the_regime_not_apply() -> None:
    conditions = declared(("upscaler", "generates_language_or_images", False))
    gpai = flag(evaluate(systems(system("upscaler", 3.6e23)), REGIMES, AS_OF, conditions=conditions),
                "upscaler", GPAI)
    assert gpai["status"] == "below" and not gpai["conditional"]
    assert gpai["reason"] == "does not apply: the provider declares generates_language_or_images not held"
    assert gpai["first_flagged_on"] is None and gpai["deadline"] is None


def test_below_the_threshold_a_flag_is_never_conditional() -> None:
    gpai = flag(evaluate(systems(system("small", 5e22)), REGIMES, AS_OF), "small", GPAI)
    assert gpai["status"] == "below" and not gpai["conditional"] and gpai["unheld_conditions"] is None


@pytest.mark.parametrize(
    ("declarations", "status", "open_conditions"),
    [
        ((), "above", ["placed on the market", "open weights"]),
        ((("placed_on_market", True),), "above", ["open weights"]),
        ((("open_weights", True),), "above", ["placed on the market"]),
        ((("placed_on_market", True), ("open_weights", True)), "above", None),
        ((("placed_on_market", True), ("open_weights", False)), "below", None),
        ((("placed_on_market", False),), "below", None),
    ],
)
def test_each_combination_of_two_conditions(declarations: tuple[tuple[str, bool], ...], status: str,
                                            open_conditions: list[str] | None) -> None:
    regime = two_conditions()
    conditions = declared(*((key_, cond, held) for key_ in ("a",) for cond, held in declarations))
    result = evaluate(systems(system("a", 5e24), system("b", 5e24)), [regime], AS_OF, conditions=conditions)
    got = flag(result, "a", regime.id)
    assert got["status"] == status
    assert got["conditional"] is (open_conditions is not None)
    assert (json.loads(got["unheld_conditions"]) if got["unheld_conditions"] else None) == open_conditions
    # Another system's declarations never leak onto this one.
    other = flag(result, "b", regime.id)
    assert other["conditional"] and json.loads(other["unheld_conditions"]) == ["placed on the market", "open weights"]


def test_declarations_change_nothing_for_regimes_that_do_not_ask_for_them() -> None:
    frame = systems(system("a", 3e25, 2e25, 4e25), system("b", 2e23), system("c", None))
    conditions = declared(("a", "generates_language_or_images", True), ("b", "sector:finance", True),
                          ("zzz-not-a-system", "generates_language_or_images", False))
    plain = evaluate(frame, REGIMES, AS_OF).flags
    with_declarations = evaluate(frame, REGIMES, AS_OF, conditions=conditions).flags

    def untouched(flags: pl.DataFrame) -> pl.DataFrame:
        return (flags.with_columns(pl.col("regime_id", "reason", "unheld_conditions", "tier").cast(pl.String))
                .filter(pl.col("regime_id") != GPAI).sort("subject_key", "regime_id"))

    assert untouched(plain).equals(untouched(with_declarations))


def test_the_default_key_of_a_regime_without_condition_keys_is_its_id_and_position() -> None:
    regime = custom(metric="training_flop_cumulative", comparator="gt", threshold=1e24,
                    unheld_conditions=["sells in the territory"])
    assert regime.declarable_conditions == (("xx-custom:1", "sells in the territory"),)
    result = evaluate(systems(system("a", 5e24)), [regime], AS_OF, conditions=declared(("a", "xx-custom:1", True)))
    assert not flag(result, "a", regime.id)["conditional"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"condition_keys": ["a"]}, "one key per unheld condition"),
        ({"condition_keys": ["Placed On Market", "b"]}, "distinct keys"),
        ({"condition_keys": ["a", "a"]}, "distinct keys"),
        ({"tiers": [{"id": "T1", "name": "no criterion"}]}, "needs a compute band or domains"),
        ({"tiers": [{"id": "T1", "name": "x", "min_flop": 1}, {"id": "T1", "name": "y", "min_flop": 2}]},
         "tier ids must be distinct"),
        ({"tiers": [{"id": "T1", "name": "x", "domains": ["Finance Sector"]}]}, "sector:finance"),
    ],
)
def test_invalid_condition_keys_and_tiers_are_refused_with_the_field(fields: dict[str, Any], message: str) -> None:
    entry = {"id": "xx-bad", "jurisdiction": "XX", "instrument": "notice", "status": {"state": "in_force"},
             "subject": "AI system", "obligation": "notify", "metric": "training_flop_cumulative",
             "comparator": "gt", "threshold": 1e24, "unheld_conditions": ["one", "two"], **fields}
    with pytest.raises(RegimeFileError, match=message):
        parse_regimes([entry])


# --- tiers --------------------------------------------------------------------------------------


def tc260_at(threshold: float, metric: str = "training_flop_cumulative") -> list[Any]:
    return apply_regulator_thresholds(REGIMES, [Setting(TC260, metric, threshold, "test", "regulator")])


def test_tc260_tiers_are_multiples_of_the_regulator_threshold_and_a_declared_sector() -> None:
    regimes = tc260_at(1e25)
    frame = systems(system("small", 5e24), system("t1", 2e25), system("bank", 2e25), system("huge", 2e26),
                    system("bank-small", 5e24))
    conditions = declared(("bank", "sector:finance", True), ("bank-small", "sector:finance", True),
                          ("t1", "sector:finance", False))
    result = evaluate(frame, regimes, AS_OF, conditions=conditions)
    tiers = {key: flag(result, key, TC260)["tier"] for key in ("small", "t1", "bank", "huge", "bank-small")}
    # T2 needs the threshold too; T3 (ten times it) outranks the sector grade.
    assert tiers == {"small": None, "t1": "T1", "bank": "T2", "huge": "T3", "bank-small": None}
    assert flag(result, "t1", TC260)["status"] == "above" and flag(result, "small", TC260)["status"] == "below"
    # Regimes without tiers have none.
    assert result.flags.filter(pl.col("regime_id").cast(pl.String) != TC260).get_column("tier").null_count() \
        == result.flags.height - 5


def test_without_a_regulator_threshold_tc260_gets_no_flag_and_says_why_once() -> None:
    result = evaluate(systems(system("huge", 2e26)), REGIMES, AS_OF)
    assert result.flags.filter(pl.col("regime_id").cast(pl.String) == TC260).height == 0
    regime = next(r for r in REGIMES if r.id == TC260)
    assert regime.unknown_reason is not None and "regulator" in regime.unknown_reason


def test_absolute_bands_and_domains_on_a_custom_regime() -> None:
    regime = custom(metric="training_flop_cumulative", comparator="gte", threshold=1e24, tiers=[
        {"id": "low", "name": "1e24 to 1e25", "min_flop": 1e24, "max_flop": 1e25},
        {"id": "high", "name": "1e25 and more", "min_flop": 1e25},
        {"id": "health", "name": "any size, health", "domains": ["sector:healthcare"]},
    ])
    frame = systems(system("a", 1e24), system("b", 9.9e24), system("c", 1e25), system("d", 1e23), system("e", 1e23))
    result = evaluate(frame, [regime], AS_OF, conditions=declared(("e", "sector:healthcare", True)))
    assert {k: flag(result, k, regime.id)["tier"] for k in "abcde"} == {
        "a": "low", "b": "low", "c": "high", "d": None, "e": "health"}


# --- regulator thresholds ---------------------------------------------------------------------


def test_the_newest_setting_wins_and_only_settable_regimes_take_one() -> None:
    settings = [
        Setting(TC260, "training_flop_cumulative", 1e25, "first", "a", id=1),
        Setting(TC260, "inference_flop_30d", 3e24, "reasoning capacity", "b", id=2),
        Setting("eu-aia-gpaisr-presumption", "training_flop_cumulative", 1e20, "not settable", "c", id=3),
    ]
    by_id = {r.id: r for r in apply_regulator_thresholds(REGIMES, reversed(settings))}
    tc = by_id[TC260]
    assert (tc.effective_metric, tc.effective_comparator, tc.effective_threshold) == ("inference_flop_30d", "gte", 3e24)
    assert by_id["eu-aia-gpaisr-presumption"] == BY_ID["eu-aia-gpaisr-presumption"]  # published: unchanged
    served = system("chat", 1e22) | {f"inference_flop_30d_{b}": 4e24 for b in ("central", "low", "high")}
    result = evaluate(systems(served), list(by_id.values()), AS_OF)
    got = flag(result, "chat", TC260)
    assert got["status"] == "above" and got["threshold"] == 3e24 and str(got["metric"]) == "inference_flop_30d"


def test_at_exactly_the_regulator_threshold_tc260_is_reached() -> None:
    # "Reach a certain threshold": gte.
    result = evaluate(systems(system("at", 1e25)), tc260_at(1e25), date(2026, 11, 27))
    assert flag(result, "at", TC260)["status"] == "above"
