"""Accelerator catalog: dense peak FLOP/s per precision, with name and alias resolution."""

from tracker.catalog.accelerators import (
    FALLBACK_ORDER,
    PEAK_COLUMNS,
    PRECISIONS,
    Catalog,
    UnknownAcceleratorError,
    fallback_chain,
    load_catalog,
    normalize_name,
)

__all__ = [
    "FALLBACK_ORDER",
    "PEAK_COLUMNS",
    "PRECISIONS",
    "Catalog",
    "UnknownAcceleratorError",
    "fallback_chain",
    "load_catalog",
    "normalize_name",
]
