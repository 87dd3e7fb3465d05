"""The alert body: what a person needs to triage an alert without opening anything.

Pure functions: the outbox supplies the facts it looked up, this module shapes them into the
contract's webhook body (contract §4). Every contract field is always present, null when unknown,
so a receiver can index the body without checking for missing keys.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

KINDS = ("flag_change", "deadline_7d", "deadline_1d", "overdue", "discrepancy", "filing_rejected", "certificate",
         "evaluation_problem", "registration")
CONTRACT_FIELDS = (
    "id", "kind", "provider", "system", "regime", "status", "training_flop", "threshold",
    "deadline", "url",
)
_INTERVAL_KEYS = ("central", "low", "high")


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _interval(value: Any) -> dict[str, float | None]:
    given = value if isinstance(value, dict) else {}
    return {key: given.get(key) for key in _INTERVAL_KEYS}


def dashboard_url(base_url: str, *, alert_id: int, system_id: int | None,
                  accession: str | None) -> str:
    """The page that answers the alert: the system, else the filing, else the alert itself."""
    base = base_url.rstrip("/")
    if system_id is not None:
        return f"{base}/systems/{system_id}"
    if accession:
        return f"{base}/filings/{accession}"
    return f"{base}/alerts/{alert_id}"


def summary_line(body: dict[str, Any]) -> str:
    """One line for an e-mail subject or a log viewer."""
    who = "/".join(str(part) for part in (body.get("provider"), body.get("system")) if part)
    parts = [str(body.get("kind")), who or "-"]
    if body.get("regime"):
        parts.append(f"regime {body['regime']}")
    if body.get("status"):
        parts.append(f"status {body['status']}")
    if body.get("deadline"):
        parts.append(f"deadline {body['deadline']}")
    return ": ".join(parts[:2]) + ("; " + ", ".join(parts[2:]) if parts[2:] else "")


def complete(payload: dict[str, Any], *, alert_id: int, kind: str, idempotency_key: str,
             provider: str | None, system: str | None, version: str | None,
             system_id: int | None, regime: str | None, base_url: str,
             created_at: datetime) -> dict[str, Any]:
    """The caller's payload with every contract field filled in (caller's values win)."""
    body: dict[str, Any] = {name: None for name in CONTRACT_FIELDS}
    body.update(_jsonable(payload))
    body["id"] = alert_id
    body["kind"] = kind
    body["idempotency_key"] = idempotency_key
    body["created_at"] = created_at.isoformat()
    body["provider"] = body["provider"] if body["provider"] is not None else provider
    body["system"] = body["system"] if body["system"] is not None else system
    if system is not None and body["system"] == system:
        body.setdefault("version", version)
    body["system_id"] = body.get("system_id", system_id)
    body["regime"] = body["regime"] if body["regime"] is not None else regime
    body["training_flop"] = _interval(body["training_flop"])
    if not body["url"]:
        body["url"] = dashboard_url(base_url, alert_id=alert_id, system_id=system_id,
                                    accession=body.get("accession"))
    body.setdefault("summary", summary_line(body))
    return body


def registration_payload(*, state: str, action: str, registration_id: int, regime: str,
                         threshold: float | None, deadline: date | None, registration_number: str | None,
                         obligation: str, voluntary: bool, reason: str | None, base_url: str) -> dict[str, Any]:
    """A registration's transition as an alert (kind ``registration``): ``status`` carries the new
    state. The provider's own compute figure is confidential and never part of it; ``training_flop``
    stays null (``complete`` fills it in)."""
    return {
        "status": state, "state": state, "action": action, "registration_id": registration_id,
        "regime": regime, "threshold": threshold, "deadline": deadline,
        "registration_number": registration_number, "obligation": obligation, "voluntary": voluntary,
        "reason": reason, "url": f"{base_url.rstrip('/')}/registrations?id={registration_id}",
    }


def encode(body: dict[str, Any]) -> str:
    # Sorted keys and no spaces: the stored text is byte-for-byte what receivers get and sign.
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
