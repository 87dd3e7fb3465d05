"""Systems: the registry in an AG Grid whose rows, sorting and filtering come from the server.

Provider and system stay pinned on the left while the figures scroll; the status comes first, the
highest over all regimes and then one column per regime in force, headed by the regime's name.
A system with only planned or in-progress compute shows its projected figure, marked so, and one
whose usage is older than 30 days its latest filed period's figure with the period's dates.

The infinite row model asks for one block of rows at a time (``getRowsRequest``); the callback
answers from ``queries.systems_page``, so 100,000 systems cost one page of rows per scroll step.
Compute columns carry the formatted text for display and the number (``colId``) for sorting and
filtering; no grid function strings are used, so the page runs without 'unsafe-eval'.
"""

from __future__ import annotations

from typing import Any

import dash
import dash_ag_grid as dag
from dash import Input, Output, State, callback, dcc, html, no_update

from dashboards.components import inputs
from dashboards.components.formatting import STATUS_LABELS, card, day, format_flop, page_header
from tracker import export
from tracker.store import queries
from tracker.store.queries.common import method_list
from tracker.store.queries.grid import REGIME_COLUMN, status_regimes
from tracker.web.auth import current_scope, read_session

dash.register_page(__name__, path="/systems", name="Systems", title="Systems · Compute threshold tracker",
                   order=1)

BLOCK_ROWS = 100
TEXT = {"filter": "agTextColumnFilter", "filterParams": {"buttons": ["reset"], "maxNumConditions": 1}}
NUMBER = {"filter": "agNumberColumnFilter", "filterParams": {"buttons": ["reset"], "maxNumConditions": 1}}
DATE = {"filter": "agDateColumnFilter", "filterParams": {"buttons": ["reset"], "maxNumConditions": 1}}
STATUS_TIP = "above, likely above, likely below, below or unknown; filter by typing a status, e.g. above"
# Who and what stay in view while the figures scroll sideways.
LEAD_COLUMNS = [
    {"headerName": "Provider", "field": "provider", **TEXT, "width": 150, "pinned": "left"},
    {"headerName": "System", "field": "name", **TEXT, "width": 200, "pinned": "left"},
    {"headerName": "Version", "field": "version", **TEXT, "width": 100},
    {"headerName": "Highest status", "field": "status_text", "colId": "status", **TEXT, "width": 170,
     "headerTooltip": f"the highest status under any regime: {STATUS_TIP}"},
]
FIGURE_COLUMNS = [
    {"headerName": "Training compute", "colId": "training_flop", "field": "training_flop_text", **NUMBER,
     "width": 250, "tooltipField": "training_flop_text",
     "headerTooltip": "central estimate, cumulative over the lineage; '(projected)': planned or in-progress "
                      "compute only. Sort and filter use completed compute, in FLOP, e.g. 1e25"},
    {"headerName": "90% low", "colId": "training_low_flop", "field": "training_low_text", **NUMBER, "width": 160},
    {"headerName": "90% high", "colId": "training_high_flop", "field": "training_high_text", **NUMBER,
     "width": 160},
    {"headerName": "Methods", "field": "methods_text", "colId": "methods", **TEXT, "width": 270,
     "tooltipField": "methods_text"},
    {"headerName": "Confidence", "field": "confidence", **TEXT, "width": 130},
    {"headerName": "Inference", "colId": "inference_flop_30d", "field": "inference_text", **NUMBER, "width": 330,
     "tooltipField": "inference_text",
     "headerTooltip": "the last 30 days; where no usage was filed for them, the latest filed period's figure "
                      "with its dates. Sort and filter use the 30-day figure, in FLOP"},
    {"headerName": "Last run end", "colId": "last_run_end", "field": "last_run_end_text", **DATE, "width": 150,
     "headerTooltip": "end of the system's last training run (planned end for planned or in-progress runs)"},
    {"headerName": "Conditions and tiers", "field": "flag_notes", "tooltipField": "flag_notes", "sortable": False,
     "width": 380,
     "headerTooltip": "crossings still conditional on what compute does not settle, and each regime's tier"},
]
EXPORT_COLUMNS = [
    ("id", "id"), ("provider", "provider"), ("name", "system"), ("version", "version"),
    ("publication_date", "publication_date"), ("last_run_end", "last_run_end"),
    ("training_flop", "training_flop_central"), ("training_low_flop", "training_flop_low"),
    ("training_high_flop", "training_flop_high"), ("projected_flop", "training_flop_projected_central"),
    ("methods", "methods"), ("confidence", "confidence"), ("inference_flop_30d", "inference_flop_30d"),
    ("inference_latest_flop", "inference_flop_latest_period"), ("inference_period_start", "inference_period_start"),
    ("inference_period_end", "inference_period_end"), ("status", "status"),
]


def _regime_columns(regimes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One status column per regime in force that the tracker assesses, headed by the regime's name."""
    return [{"headerName": r["name"], "field": r["col_id"], "colId": r["col_id"], **TEXT, "width": 170,
             "sortable": False, "headerTooltip": f"status under {r['name']} ({r['id']}): {STATUS_TIP}"}
            for r in regimes]


def columns(regimes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [*LEAD_COLUMNS, *_regime_columns(regimes), *FIGURE_COLUMNS]


def layout(**_: Any) -> html.Div:
    current_scope()
    with read_session() as session:
        regimes = status_regimes(session)
    return html.Div([
        page_header("Systems", "Every registered AI system with its status under each regime in force. Sort and "
                               "filter from the column headers; click a row to open the system."),
        card(None, html.Div([
            html.Span(id="sys-count", className="muted"),
            html.Div([html.Button("Export CSV", id="sys-export-csv", className="button"),
                      html.Button("Export XLSX", id="sys-export-xlsx", className="button")], className="actions"),
        ], className="toolbar"),
            dag.AgGrid(
                id="systems-grid", columnDefs=columns(regimes), rowModelType="infinite",
                defaultColDef={"sortable": True, "resizable": True, "floatingFilter": True,
                               "wrapHeaderText": True, "autoHeaderHeight": True},
                dashGridOptions={"cacheBlockSize": BLOCK_ROWS, "maxBlocksInCache": 20, "rowBuffer": 10,
                                 "infiniteInitialRowCount": 1, "tooltipShowDelay": 300,
                                 # A score of columns: render them all, so find-in-page and screen
                                 # readers reach the ones scrolled out of view.
                                 "suppressColumnVirtualisation": True,
                                 "rowSelection": {"mode": "singleRow", "checkboxes": False,
                                                  "enableClickSelection": True}},
                style={"height": "640px", "width": "100%"},
            ),
            dcc.Download(id="sys-download"), dcc.Location(id="sys-nav", refresh="callback-nav")),
    ])


def _status_text(status: str | None, projected: bool = False) -> str:
    label = STATUS_LABELS.get(status or "unknown", status or "unknown")
    return f"{label} (projected)" if projected else label


def _training_text(row: dict[str, Any]) -> str:
    if row["training_flop"] is None and row.get("projected_flop") is not None:
        return f"{format_flop(row['projected_flop'])} (projected)"
    return format_flop(row["training_flop"])


def _inference_text(row: dict[str, Any]) -> str:
    if row["inference_flop_30d"] is not None or row.get("inference_latest_flop") is None:
        return format_flop(row["inference_flop_30d"])
    return (f"{format_flop(row['inference_latest_flop'])} in {day(row['inference_period_start'])} – "
            f"{day(row['inference_period_end'])}")


def _display(row: dict[str, Any]) -> dict[str, Any]:
    projected_only = row["training_flop"] is None and row.get("projected_flop") is not None
    shown = {**row, "publication_date": day(row["publication_date"]) if row["publication_date"] else None,
             "last_run_end_text": day(row.get("last_run_end")),
             "training_flop_text": _training_text(row),
             "training_low_text": format_flop(row[f"{'projected' if projected_only else 'training'}_low_flop"]),
             "training_high_text": format_flop(row[f"{'projected' if projected_only else 'training'}_high_flop"]),
             "methods_text": ", ".join(method_list(row["methods"])) or "—",
             "inference_text": _inference_text(row),
             "status_text": _status_text(row["status"], bool(row.get("status_projected")))}
    for key, value in row.items():
        if key.startswith(REGIME_COLUMN):
            shown[key] = _status_text(value["status"], value["projected"]) if isinstance(value, dict) else "—"
    # Dates leave as text: the grid shows what it is given.
    for key in ("last_run_end", "inference_period_start", "inference_period_end"):
        shown[key] = day(row.get(key)) if row.get(key) else None
    return shown


@callback(Output("systems-grid", "getRowsResponse"), Output("sys-count", "children"),
          Input("systems-grid", "getRowsRequest"))
def rows(request: dict[str, Any] | None) -> tuple[Any, Any]:
    if not request:
        return no_update, no_update
    request = inputs.grid_request(request)
    scope = current_scope()
    with read_session() as session:
        page, total = queries.systems_page(session, scope, request.get("startRow", 0),
                                           request.get("endRow", BLOCK_ROWS), request.get("sortModel") or [],
                                           request.get("filterModel") or {})
    return {"rowData": [_display(r) for r in page], "rowCount": total}, f"{total:,} systems match"


@callback(Output("sys-nav", "href"), Input("systems-grid", "selectedRows"), prevent_initial_call=True)
def open_system(selected: list[dict[str, Any]] | None) -> Any:
    if not selected or not isinstance(selected, list) or not isinstance(selected[0], dict) or "id" not in selected[0]:
        return no_update
    return f"/systems/{inputs.record_id(selected[0]['id'], 'selectedRows.id')}"


@callback(Output("sys-download", "data"), Input("sys-export-csv", "n_clicks"), Input("sys-export-xlsx", "n_clicks"),
          State("systems-grid", "getRowsRequest"), prevent_initial_call=True)
def export_view(_csv: int | None, _xlsx: int | None, request: dict[str, Any] | None) -> Any:
    scope = current_scope()
    request = inputs.grid_request(request or {})
    with read_session() as session:
        data = queries.systems_export(session, scope, request.get("sortModel") or [],
                                      request.get("filterModel") or {})
    if dash.ctx.triggered_id == "sys-export-xlsx":
        return dcc.send_bytes(export.to_xlsx(data, EXPORT_COLUMNS, sheet="systems"), "systems.xlsx")
    return dcc.send_bytes(export.to_csv(data, EXPORT_COLUMNS), "systems.csv")
