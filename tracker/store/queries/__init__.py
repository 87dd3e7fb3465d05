"""The read side of the registry: every query the dashboard (and any other view) runs.

Rules that hold for every function here:

- the first two arguments are ``session`` and ``scope``; the scope is applied inside the SQL with
  ``scope.restrict`` on the owning provider column, so a caller can never widen it by passing ids;
- aggregation happens in the database and lists are paged, so a registry of 100,000 systems costs
  one page of rows per call, not the whole table;
- grid sort and filter models are mapped through a whitelist of columns (``GRID_COLUMNS``) and
  every value is a bound parameter; unknown columns are ignored, never interpolated;
- results are plain dicts (JSON-ready apart from dates), so views stay thin.
"""

from tracker.store.queries.accounts import (
    list_subscriptions,
    list_tokens,
)
from tracker.store.queries.alerts import (
    alert_in_scope,
    deadlines,
    list_alerts,
    rejection_repeats,
)
from tracker.store.queries.common import (
    CROSSING,
    FE,
    FI,
    IU,
    MAX_EXPORT_ROWS,
    MAX_PAGE_ROWS,
    METHODS,
    RANK_STATUS,
    STATUS_RANK,
    STATUSES,
    TR,
    TRAINING_METRICS,
    A,
    E,
    F,
    P,
    R,
    Row,
    S,
    as_of,
)
from tracker.store.queries.filings import (
    filing_detail,
    list_filings,
)
from tracker.store.queries.grid import (
    GRID_COLUMNS,
    GridColumn,
    systems_export,
    systems_page,
)
from tracker.store.queries.overview import (
    ENDED_STATES,
    ScatterFilters,
    compute_scatter_points,
    data_version,
    inference_series,
    list_providers,
    overview_counts,
    threshold_lines,
)
from tracker.store.queries.regimes import (
    list_flags,
    list_regimes_with_counts,
)
from tracker.store.queries.system import (
    latest_inference_periods,
    per_method,
    projected_training,
    system_detail,
)

__all__ = [
    "CROSSING",
    "ENDED_STATES",
    "FE",
    "FI",
    "GRID_COLUMNS",
    "IU",
    "MAX_EXPORT_ROWS",
    "MAX_PAGE_ROWS",
    "METHODS",
    "RANK_STATUS",
    "STATUSES",
    "STATUS_RANK",
    "TR",
    "TRAINING_METRICS",
    "A",
    "E",
    "F",
    "GridColumn",
    "P",
    "R",
    "Row",
    "S",
    "ScatterFilters",
    "alert_in_scope",
    "as_of",
    "compute_scatter_points",
    "data_version",
    "deadlines",
    "filing_detail",
    "inference_series",
    "latest_inference_periods",
    "list_alerts",
    "list_filings",
    "list_flags",
    "list_providers",
    "list_regimes_with_counts",
    "list_subscriptions",
    "list_tokens",
    "overview_counts",
    "per_method",
    "projected_training",
    "rejection_repeats",
    "system_detail",
    "systems_export",
    "systems_page",
    "threshold_lines",
]
