import polars as pl
import pytest

from tracker.estimate.confidence import confidence_label


def _label(central: float | None, low: float | None, high: float | None) -> str | None:
    frame = pl.DataFrame(
        {"c": [central], "lo": [low], "hi": [high]}, schema=dict.fromkeys(("c", "lo", "hi"), pl.Float64)
    )
    return frame.select(confidence_label(pl.col("c"), pl.col("lo"), pl.col("hi"))).item()


@pytest.mark.parametrize(
    ("low_factor", "high_factor", "label"),
    [
        (1.3, 1.3, "confident"),
        (3.0, 3.0, "confident"),  # Epoch's Confident: x1/3..x3
        (3.1, 2.0, "likely"),
        (2.0, 10.0, "likely"),
        (38.0, 3.0, "speculative"),  # Reka Core-like spread (methodology §6)
    ],
)
def test_labels_from_interval_width(low_factor: float, high_factor: float, label: str) -> None:
    assert _label(1e25, 1e25 / low_factor, 1e25 * high_factor) == label


def test_gpt4_epoch_interval_is_confident_width() -> None:
    # GPT-4: 2.1e25, 90% CI 8.2e24-4.4e25 -> x2.56 below, x2.10 above.
    assert _label(2.1e25, 8.2e24, 4.4e25) == "confident"
    # Grok 3: 3.5e26, 2.1e26-1.13e27 -> x3.2 above: likely.
    assert _label(3.5e26, 2.1e26, 1.13e27) == "likely"


def test_null_without_estimate() -> None:
    assert _label(None, None, None) is None
