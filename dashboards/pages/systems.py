"""Systems: the registry in an AG Grid whose rows, sorting and filtering come from the server.

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
from dashboards.components.formatting import STATUS_LABELS, card, page_header, when
from tracker import export
from tracker.store import queries
from tracker.units import format_flop
from tracker.web.auth import current_scope, db_session

dash.register_page(__name__, path="/systems", name="Systems", title="Systems · Compute threshold tracker",
                   order=1)

BLOCK_ROWS = 100
TEXT = {"filter": "agTextColumnFilter", "filterParams": {"buttons": ["reset"], "maxNumConditions": 1}}
NUMBER = {"filter": "agNumberColumnFilter", "filterParams": {"buttons": ["reset"], "maxNumConditions": 1}}
DATE = {"filter": "agDateColumnFilter", "filterParams": {"buttons": ["reset"], "maxNumConditions": 1}}
COLUMNS = [
    {"headerName": "Provider", "field": "provider", **TEXT, "width": 130},
    {"headerName": "System", "field": "name", **TEXT, "width": 230},
    {"headerName": "Version", "field": "version", **TEXT, "width": 100},
    {"headerName": "Published", "field": "publication_date", **DATE, "width": 140},
    {"headerName": "Training compute", "colId": "training_flop", "field": "training_flop_text", **NUMBER,
     "width": 190, "headerTooltip": "central estimate, cumulative over the lineage; filter in FLOP, e.g. 1e25"},
    {"headerName": "90% low", "colId": "training_low_flop", "field": "training_low_text", **NUMBER, "width": 170},
    {"headerName": "90% high", "colId": "training_high_flop", "field": "training_high_text", **NUMBER,
     "width": 170},
    {"headerName": "Methods", "field": "methods", **TEXT, "width": 200},
    {"headerName": "Confidence", "field": "confidence", **TEXT, "width": 130},
    {"headerName": "Inference (30 d)", "colId": "inference_flop_30d", "field": "inference_text", **NUMBER,
     "width": 180},
    {"headerName": "Status", "field": "status_text", "colId": "status", **TEXT, "width": 150,
     "headerTooltip": "highest status under any regime: above, likely above, likely below, below"},
    {"headerName": "Conditions and tiers", "field": "flag_notes", "tooltipField": "flag_notes", "sortable": False,
     "width": 380,
     "headerTooltip": "crossings still conditional on what compute does not settle, and each regime's tier"},
]
EXPORT_COLUMNS = [
    ("id", "id"), ("provider", "provider"), ("name", "system"), ("version", "version"),
    ("publication_date", "publication_date"), ("training_flop", "training_flop_central"),
    ("training_low_flop", "training_flop_low"), ("training_high_flop", "training_flop_high"),
    ("methods", "methods"), ("confidence", "confidence"), ("inference_flop_30d", "inference_flop_30d"),
    ("status", "status"),
]


def layout(**_: Any) -> html.Div:
    current_scope()
    return html.Div([
        page_header("Systems", "Every registered AI system. Sort and filter from the column headers; "
                               "click a row to open the system."),
        card(None, html.Div([
            html.Span(id="sys-count", className="muted"),
            html.Div([html.Button("Export CSV", id="sys-export-csv", className="button"),
                      html.Button("Export XLSX", id="sys-export-xlsx", className="button")], className="actions"),
        ], className="toolbar"),
            dag.AgGrid(
                id="systems-grid", columnDefs=COLUMNS, rowModelType="infinite",
                defaultColDef={"sortable": True, "resizable": True, "floatingFilter": True},
                dashGridOptions={"cacheBlockSize": BLOCK_ROWS, "maxBlocksInCache": 20, "rowBuffer": 10,
                                 "infiniteInitialRowCount": 1, "tooltipShowDelay": 300,
                                 "rowSelection": {"mode": "singleRow", "checkboxes": False,
                                                  "enableClickSelection": True}},
                style={"height": "640px", "width": "100%"},
            ),
            dcc.Download(id="sys-download"), dcc.Location(id="sys-nav", refresh="callback-nav")),
    ])


def _display(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "publication_date": when(row["publication_date"]) if row["publication_date"] else None,
            "training_flop_text": format_flop(row["training_flop"]),
            "training_low_text": format_flop(row["training_low_flop"]),
            "training_high_text": format_flop(row["training_high_flop"]),
            "inference_text": format_flop(row["inference_flop_30d"]),
            "status_text": STATUS_LABELS.get(row["status"], row["status"])}


@callback(Output("systems-grid", "getRowsResponse"), Output("sys-count", "children"),
          Input("systems-grid", "getRowsRequest"))
def rows(request: dict[str, Any] | None) -> tuple[Any, Any]:
    if not request:
        return no_update, no_update
    request = inputs.grid_request(request)
    scope = current_scope()
    with db_session() as session:
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
    with db_session() as session:
        data = queries.systems_export(session, scope, request.get("sortModel") or [],
                                      request.get("filterModel") or {})
    if dash.ctx.triggered_id == "sys-export-xlsx":
        return dcc.send_bytes(export.to_xlsx(data, EXPORT_COLUMNS, sheet="systems"), "systems.xlsx")
    return dcc.send_bytes(export.to_csv(data, EXPORT_COLUMNS), "systems.csv")
