"""How a registration looks on the review queue and in the provider's own list: the same table,
the same detail (submissions, contest arguments, attachments, history with reasons).

These views only render what the query layer returned for the caller's scope; they never decide
who may see what (tracker.store.queries.registrations does, with the scope).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dash import html

from dashboards.components.formatting import card, empty_state, format_flop, link, table, when
from tracker.filing.problems import Problem

STATE_LABELS = {"due": "Due", "submitted": "Submitted", "contested": "Contested", "registered": "Registered",
                "not_designated": "Not designated", "rejected": "Rejected", "withdrawn": "Withdrawn"}
NOT_VISIBLE = "There is no registration with this id that your account can see."
MAX_ID = 2**63 - 1


def registration_id(value: Any) -> int | None:
    """An id from a URL, a store or a dropdown, or None for anything that is not a plausible one."""
    if isinstance(value, bool):
        return None
    try:
        number = int(str(value).strip()) if isinstance(value, str | int) else None
    except ValueError:
        return None
    return number if number is not None and 0 < number <= MAX_ID else None


def state_badge(state: str | None, overdue: bool = False) -> html.Span:
    label = STATE_LABELS.get(state or "", state or "—")
    return html.Span(f"{label}{' · overdue' if overdue else ''}",
                     className=f"badge registration-{state}{' registration-overdue' if overdue else ''}")


def system_text(row: dict[str, Any]) -> str:
    version = row.get("version")
    return f"{row.get('system')}{' ' + version if version else ''}"


def registration_table(rows: Sequence[dict[str, Any]], base_path: str, *, with_provider: bool,
                       table_id: str) -> Any:
    headers = ["#", *(["Provider"] if with_provider else []), "System", "Regime", "State", "Deadline",
               "Registration number"]
    body = [[link(str(r["id"]), f"{base_path}?id={r['id']}"), *([r.get("provider")] if with_provider else []),
             system_text(r), html.Code(r.get("regime")), state_badge(r.get("state"), bool(r.get("overdue"))),
             when(r.get("deadline")), r.get("registration_number") or "—"] for r in rows]
    return table(headers, body, table_id=table_id)


def _attachments(items: Sequence[dict[str, Any]]) -> Any:
    if not items:
        return "—"
    return html.Ul([html.Li([a.get("filename"), html.Span(f" · {a.get('media_type')} · {a.get('size_bytes'):,} bytes"
                                                          f" · SHA-256 {str(a.get('sha256'))[:12]}…",
                                                          className="muted")]) for a in items],
                   className="plain-list")


def _submission(s: dict[str, Any]) -> html.Li:
    contest = s.get("contest_text")
    return html.Li([
        html.Div([html.Strong(s.get("kind")), f" by {s.get('submitted_by')} via {s.get('channel')} ",
                  html.Time(when(s.get("submitted_at")))]),
        html.Div(f"Compute: {format_flop(s.get('compute_flop'))} ({s.get('compute_method') or 'method not given'})"
                 f" · crossed on {when(s.get('crossed_on'))} · contact: {s.get('contact') or '—'}",
                 className="muted"),
        html.Details([html.Summary("Contest arguments"), html.Pre(contest, className="contest-text")],
                     open=True) if contest else None,
        html.Div(["Attachments: ", _attachments(s.get("attachments") or [])]),
    ])


def _events(events: Sequence[dict[str, Any]]) -> Any:
    if not events:
        return empty_state("No history yet.")
    return html.Ul([html.Li([html.Time(when(e.get("at"))), " ",
                             html.Strong(e.get("action")), f" by {e.get('actor')}: ",
                             f"{e.get('from_state') or 'new'} → {e.get('to_state')}",
                             html.Div(e.get("reason"), className="event-reason") if e.get("reason") else None])
                    for e in events], className="timeline", id="registration-history")


def detail_view(detail: dict[str, Any]) -> html.Div:
    number = detail.get("registration_number")
    facts = table(["Provider", "System", "Regime", "Obligation", "State", "Crossed on", "Deadline",
                   "Registration number", "Certificate"],
                  [[detail.get("provider_name") or detail.get("provider"), system_text(detail),
                    html.Code(detail.get("regime")),
                    "voluntary" if detail.get("voluntary") else detail.get("obligation"),
                    state_badge(detail.get("state"), bool(detail.get("overdue"))), when(detail.get("crossed_on")),
                    when(detail.get("deadline")), number or "—",
                    html.A(detail.get("certificate_status"), href=f"/api/v1/certificates/{number}")
                    if number and detail.get("certificate_status") else "—"]], table_id="registration-facts")
    submissions = detail.get("submissions") or []
    return html.Div([
        card(f"Registration #{detail.get('id')}", facts),
        html.Div([
            card("Submissions", html.Ul([_submission(s) for s in submissions], className="plain-list")
                 if submissions else empty_state("Nothing submitted yet.")),
            card("History", _events(detail.get("events") or [])),
        ], className="grid-2"),
    ], id="registration-detail")


def field_errors(problems: Sequence[Problem], fields: Sequence[str]) -> tuple[list[Any], list[str]]:
    """Each field's messages (in ``fields`` order) and the messages that belong to no field."""
    by_field: dict[str, list[str]] = {f: [] for f in fields}
    other: list[str] = []
    for p in problems:
        column = (p.column or "").split(" ")[0]  # "attachment 2" belongs to the attachments field
        key = "attachments" if column == "attachment" else column
        key = {"version": "system", "provider": "system"}.get(key, key)
        if key in by_field:
            by_field[key].append(f"{p.column}: {p.message}" if p.column != key else p.message)
        else:
            other.append(str(p))
    return [html.Div("; ".join(m), className="field-error", role="alert") if m else None
            for m in by_field.values()], other
