import polars as pl
import pytest

from tracker.catalog import Catalog
from tracker.estimate import estimate_runs


def _arch(frame: pl.DataFrame, catalog: Catalog) -> dict[str, float]:
    row = estimate_runs(frame, catalog).row(0, named=True)
    return {k: row[f"architecture_flop_{k}"] for k in ("central", "low", "high")}


def test_gpt3_six_n_d(make_runs, catalog) -> None:
    # 6 x 175e9 x 300e9 = 3.15e23 (GPT-3; reported 3.14e23).
    out = _arch(make_runs({"parameters": 175e9, "training_tokens": 300e9}), catalog)
    assert out["central"] == pytest.approx(3.15e23)
    assert out["low"] == pytest.approx(3.15e23 / 1.5)
    assert out["high"] == pytest.approx(3.15e23 * 1.6)


def test_eu_annex_a3_vectors(make_runs, catalog) -> None:
    # EU Guidelines Annex A.3: 6 x 3.8e9 x 3.3e12 ~ 7.5e22; 61B tokens x 164 epochs ~ 10T tokens.
    assert _arch(make_runs({"parameters": 3.8e9, "training_tokens": 3.3e12}), catalog)["central"] == (
        pytest.approx(7.524e22)
    )
    assert 61e9 * 164 == pytest.approx(1.0e13, rel=0.01)


def test_llama_31_405b(make_runs, catalog) -> None:
    out = _arch(make_runs({"parameters": 405e9, "training_tokens": 15.6e12}), catalog)
    assert out["central"] == pytest.approx(3.7908e25)


def test_moe_uses_active_parameters_and_widens(make_runs, catalog) -> None:
    # DeepSeek-V3: 6 x 37B x 14.8T = 3.29e24 (Epoch), not 6 x 671B x 14.8T.
    out = _arch(make_runs({"parameters": 671e9, "active_parameters": 37e9, "training_tokens": 14.8e12}), catalog)
    assert out["central"] == pytest.approx(3.2856e24)
    assert out["central"] / out["low"] > 1.5  # router / active-count uncertainty on top


def test_attention_term_palm_formula(make_runs, catalog) -> None:
    # 6N + 12 L d T per token: N=1e9, L=24, d=2048, T=2048 -> 6e9 + 1.208e9 per token.
    frame = make_runs({"parameters": 1e9, "training_tokens": 1e10}).with_columns(
        pl.lit(24.0).alias("layers"), pl.lit(2048.0).alias("d_model"), pl.lit(2048.0).alias("context_tokens")
    )
    out = estimate_runs(frame, catalog).row(0, named=True)
    assert out["architecture_flop_central"] == pytest.approx((6e9 + 12 * 24 * 2048 * 2048) * 1e10)
    assert "attention term" in out["notes"]
    assert out["architecture_flop_high"] / out["architecture_flop_central"] == pytest.approx(1.25)


def test_no_tokens_no_architecture(make_runs, catalog) -> None:
    row = estimate_runs(make_runs({"parameters": 1e9, "reported_flop": 1e21}), catalog).row(0, named=True)
    assert row["architecture_flop_central"] is None
    assert row["methods"] == ["reported"]
