"""Compute-threshold regimes: the rules as data, and their evaluation against estimates.

Evaluate with ``from tracker.regimes.evaluate import evaluate``: the function is deliberately not
re-exported here, where its name would shadow the ``tracker.regimes.evaluate`` module.
"""

from tracker.regimes.deadlines import IsoDuration, add_working_days, deadline_from, parse_iso_duration
from tracker.regimes.evaluate import Evaluation, regime_is_in_force
from tracker.regimes.load import (
    DEFAULT_REGIMES_PATH,
    RegimeFileError,
    load_regimes,
    parse_regimes,
    regimes_frame,
)
from tracker.regimes.model import Regime

__all__ = [
    "DEFAULT_REGIMES_PATH",
    "Evaluation",
    "IsoDuration",
    "Regime",
    "RegimeFileError",
    "add_working_days",
    "deadline_from",
    "load_regimes",
    "parse_iso_duration",
    "parse_regimes",
    "regime_is_in_force",
    "regimes_frame",
]
