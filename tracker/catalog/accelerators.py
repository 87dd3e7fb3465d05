"""The accelerator catalog: dense peak FLOP/s per numerical format, resolved by name or alias.

The data lives in ``data/accelerators.csv`` (one row per chip, FLOP/s, a public source per row).
Peaks are **dense** (no 2:4 sparsity): vendors headline sparse tensor figures that are 2x the
dense ones, and the hardware method must use the dense peak of the format actually used
(methodology.md §1, §3, §9).
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

PRECISIONS: tuple[str, ...] = ("fp64", "fp32", "tf32", "bf16", "fp16", "fp8", "fp4", "int8")

# Precision -> catalog column. INT8 counts operations, not floating-point ones, but US texts
# count "integer or floating-point operations" alike (methodology.md §1).
PEAK_COLUMNS: Mapping[str, str] = {
    "fp64": "fp64_flop_per_s",
    "fp32": "fp32_flop_per_s",
    "tf32": "tf32_flop_per_s",
    "bf16": "bf16_flop_per_s",
    "fp16": "fp16_flop_per_s",
    "fp8": "fp8_flop_per_s",
    "fp4": "fp4_flop_per_s",
    "int8": "int8_ops_per_s",
}

# Epoch's fallback for an unknown or unsupported format: BF16 -> TF32 -> FP16 -> FP32
# (methodology.md §3, "Peak by format"). A chip without the requested format ran the job in
# another one; we try the requested format first, then this order.
FALLBACK_ORDER: tuple[str, ...] = ("bf16", "tf32", "fp16", "fp32")

# Formats narrower than the fallback chain first try the next wider low-precision format:
# an FP4 or INT8 job on a chip without those units most plausibly ran in FP8.
_NARROW_FIRST: Mapping[str, tuple[str, ...]] = {"fp4": ("fp8",), "int8": ("fp8",)}

_DEFAULT_PATH = Path(__file__).resolve().parents[2] / "data" / "accelerators.csv"

# Words that vendors and providers add or omit freely; dropping them lets "NVIDIA Tesla V100"
# and "V100" meet. Only whole tokens are dropped.
_NOISE_TOKENS = frozenset(
    {
        "nvidia",
        "google",
        "cloud",
        "amd",
        "intel",
        "habana",
        "aws",
        "amazon",
        "huawei",
        "tesla",
        "radeon",
        "instinct",
        "geforce",
        "tensor",
        "core",
        "gpu",
        "gpus",
        "the",
    }
)
_MEMORY_TOKEN = re.compile(r"^(\d+(gb|gib)|gb|gib|hbm\d*e?)$")
_SPLIT = re.compile(r"[^0-9a-z]+")


class UnknownAcceleratorError(ValueError):
    """A name that neither a catalog entry nor an alias matches."""

    def __init__(self, name: str, suggestions: list[str]) -> None:
        self.name = name
        self.suggestions = suggestions
        hint = f"; did you mean {', '.join(repr(s) for s in suggestions)}?" if suggestions else ""
        super().__init__(f"unknown accelerator {name!r}{hint}")


def _tokens(name: str) -> list[str]:
    return [t for t in _SPLIT.split(name.lower()) if t and t not in _NOISE_TOKENS]


def normalize_name(name: str) -> str:
    """Case, punctuation and vendor words do not distinguish chips: 'NVIDIA H100-SXM' == 'h100 sxm'."""
    return "".join(_tokens(name))


def _loose_key(name: str) -> str:
    # Second chance: memory size and HBM generation rarely change peak FLOP/s.
    return "".join(t for t in _tokens(name) if not _MEMORY_TOKEN.match(t))


def fallback_chain(precision: str) -> tuple[str, ...]:
    """Formats to try, in order, for a requested precision (requested one first)."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)}")
    chain = [precision, *_NARROW_FIRST.get(precision, ())]
    chain += [p for p in FALLBACK_ORDER if p not in chain]
    return tuple(chain)


def _build_index(frame: pl.DataFrame) -> tuple[dict[str, str], dict[str, str]]:
    exact: dict[str, str] = {}
    loose: dict[str, str | None] = {}
    for canonical, aliases in frame.select("accelerator", "aliases").iter_rows():
        names = [canonical, *[a.strip() for a in (aliases or "").split(";") if a.strip()]]
        for n in names:
            key = normalize_name(n)
            if not key:
                continue
            if exact.get(key, canonical) != canonical:
                raise ValueError(f"alias {n!r} names both {exact[key]!r} and {canonical!r}")
            exact[key] = canonical
            lkey = _loose_key(n)
            # A loose key shared by two chips is ambiguous and must not resolve.
            if lkey and loose.get(lkey, canonical) != canonical:
                loose[lkey] = None
            elif lkey:
                loose[lkey] = canonical
    return exact, {k: v for k, v in loose.items() if v is not None}


@dataclass(frozen=True)
class Catalog:
    """One row per accelerator (canonical names) with dense peaks in FLOP/s."""

    frame: pl.DataFrame
    _exact: Mapping[str, str] = field(init=False, repr=False, compare=False)
    _loose: Mapping[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        exact, loose = _build_index(self.frame)
        object.__setattr__(self, "_exact", exact)
        object.__setattr__(self, "_loose", loose)

    @property
    def names(self) -> list[str]:
        return self.frame.get_column("accelerator").to_list()

    def try_resolve(self, name: str) -> str | None:
        """Canonical name for a name or alias, or None."""
        if not name or not name.strip():
            return None
        key = normalize_name(name)
        found = self._exact.get(key)
        if found is None:
            found = self._loose.get(_loose_key(name))
        return found

    def resolve(self, name: str) -> str:
        found = self.try_resolve(name)
        if found is None:
            raise UnknownAcceleratorError(name, self.suggest(name))
        return found

    def suggest(self, name: str, limit: int = 3) -> list[str]:
        """Closest catalog entries (canonical names), best first."""
        key = normalize_name(name)
        if not key:
            return []
        keys = list(self._exact)
        scored = sorted(
            (
                (difflib.SequenceMatcher(None, key, k).ratio() + (0.3 if key in k or k in key else 0.0), k)
                for k in keys
            ),
            reverse=True,
        )
        out: list[str] = []
        for score, k in scored:
            if score < 0.4:
                break
            canonical = self._exact[k]
            if canonical not in out:
                out.append(canonical)
            if len(out) == limit:
                break
        return out

    def resolve_series(self, names: pl.Series) -> pl.Series:
        """Canonical names for a column of names (each distinct value resolved once); unknown -> null."""
        uniques = names.drop_nulls().unique().to_list()
        mapping = {u: self.try_resolve(u) for u in uniques}
        return names.replace_strict(
            list(mapping), list(mapping.values()), default=None, return_dtype=pl.String
        ).alias(names.name)

    def peak_flop_per_s(self, name: str, precision: str) -> tuple[float, str]:
        """Dense peak for the precision, after the documented fallback: (FLOP/s, precision used)."""
        canonical = self.resolve(name)
        row = self.frame.row(by_predicate=pl.col("accelerator") == canonical, named=True)
        for p in fallback_chain(precision.lower()):
            value = row[PEAK_COLUMNS[p]]
            if value is not None and value > 0:
                return float(value), p
        raise ValueError(f"{canonical} has no peak for {precision} or any fallback format")

    def peaks_long(self) -> pl.DataFrame:
        """accelerator, precision, peak_flop_per_s for every non-null peak (for vectorized joins)."""
        return (
            self.frame.unpivot(
                on=list(PEAK_COLUMNS.values()),
                index="accelerator",
                variable_name="column",
                value_name="peak_flop_per_s",
            )
            .drop_nulls("peak_flop_per_s")
            .with_columns(
                pl.col("column")
                .replace_strict({v: k for k, v in PEAK_COLUMNS.items()}, return_dtype=pl.String)
                .alias("precision")
            )
            .select("accelerator", "precision", "peak_flop_per_s")
            .sort("accelerator", "precision")
        )


def _read(path: Path) -> pl.DataFrame:
    raw = pl.read_csv(path, infer_schema=False, encoding="utf8")
    float_cols = [*PEAK_COLUMNS.values(), "memory_gb", "tdp_w"]
    frame = raw.with_columns(
        pl.col("year").cast(pl.Int64),
        *[pl.col(c).cast(pl.Float64) for c in float_cols],
    )
    missing_source = frame.filter(pl.col("source").is_null() | (pl.col("source").str.strip_chars() == ""))
    if missing_source.height:
        raise ValueError(f"catalog rows without a source: {missing_source['accelerator'].to_list()}")
    if frame["accelerator"].n_unique() != frame.height:
        raise ValueError("catalog has duplicate accelerator names")
    return frame


@functools.lru_cache(maxsize=8)
def _load_cached(path: Path) -> Catalog:
    return Catalog(frame=_read(path))


def load_catalog(path: Path | None = None) -> Catalog:
    """The catalog at path (default: the repository's data/accelerators.csv), cached per path."""
    return _load_cached((path or _DEFAULT_PATH).resolve())
