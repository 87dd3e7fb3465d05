"""Sending one alert to one sink: webhook, e-mail or a JSON-lines log file.

Each sender either returns (delivered) or raises ``DeliveryError`` (retry later). Nothing here
touches the database: the dispatcher calls these between its claim and its result transactions.
"""

from __future__ import annotations

import hashlib
import json
import os
import smtplib
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any

import requests

from tracker.alerts.signing import sign
from tracker.alerts.subscriptions import log_sink_path, operator_log_path, parse_sink
from tracker.config import Settings

WEBHOOK_TIMEOUT_S = 10.0
SMTP_TIMEOUT_S = 10.0
USER_AGENT = "compute-threshold-tracker-alerts/1"


class DeliveryError(Exception):
    """The sink did not confirm receipt; the delivery is retried with backoff."""


@dataclass(frozen=True)
class Outgoing:
    alert_id: int
    alert_key: str  # Alert.idempotency_key: what caused the alert
    body: str  # Alert.payload_json, sent byte for byte

    @property
    def delivery_key(self) -> str:
        # The Idempotency-Key header: the same on every retry and every sink of one alert, and
        # always a plain ASCII token whatever the alert's own key contains.
        return f"alert-{self.alert_id}"

    def fields(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.body)
        return loaded


def send(sink: str, message: Outgoing, settings: Settings) -> None:
    kind, target = parse_sink(sink)
    if kind == "webhook":
        send_webhook(target, message, settings)
    elif kind == "email":
        send_email(target, message, settings)
    else:
        operator_path = operator_log_path(target, settings)
        if operator_path is not None:
            append_log(operator_path, message)
            return
        try:  # checked again at delivery: a sink stored before the folder rule, or a link made since
            confined = log_sink_path(target, settings.alert_log_dir)
        except ValueError as exc:
            raise DeliveryError(str(exc)) from exc
        append_log(confined, message, follow_symlinks=False)


def webhook_headers(message: Outgoing, secret: str | None, timestamp: int) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "Idempotency-Key": message.delivery_key,
        "X-Tracker-Timestamp": str(timestamp),
    }
    if secret:
        headers["X-Tracker-Signature"] = sign(secret, timestamp, message.body.encode())
    return headers


def send_webhook(url: str, message: Outgoing, settings: Settings) -> None:
    timestamp = int(time.time())
    try:
        response = requests.post(
            url, data=message.body.encode(), timeout=WEBHOOK_TIMEOUT_S, allow_redirects=False,
            headers=webhook_headers(message, settings.alert_webhook_secret, timestamp),
        )
    except requests.RequestException as exc:
        raise DeliveryError(f"webhook {url}: {type(exc).__name__}: {exc}") from exc
    if not 200 <= response.status_code < 300:
        raise DeliveryError(f"webhook {url} answered HTTP {response.status_code}: "
                            f"{response.text[:200]}")


def message_id(alert_key: str, sender: str) -> str:
    """Stable across retries so mail clients and servers can drop duplicates."""
    domain = sender.rpartition("@")[2] or "tracker.invalid"
    return f"<{hashlib.sha256(alert_key.encode()).hexdigest()[:40]}@{domain}>"


def email_text(fields: dict[str, Any]) -> str:
    flop = fields.get("training_flop") or {}
    lines = [
        str(fields.get("summary") or fields.get("kind")),
        "",
        f"Kind:       {fields.get('kind')}",
        f"Provider:   {fields.get('provider')}",
        f"System:     {fields.get('system')}" + (f" (version {fields['version']})"
                                                 if fields.get("version") else ""),
        f"Regime:     {fields.get('regime')}",
        f"Status:     {fields.get('status')}",
        f"Training:   {flop.get('central')} FLOP (90% interval {flop.get('low')} - {flop.get('high')})",
        f"Threshold:  {fields.get('threshold')} FLOP",
        f"Deadline:   {fields.get('deadline')}",
        f"Link:       {fields.get('url')}",
        "",
        f"Alert {fields.get('id')} ({fields.get('idempotency_key')}), created {fields.get('created_at')}.",
    ]
    return "\n".join(lines) + "\n"


def build_email(to: str, message: Outgoing, sender: str) -> EmailMessage:
    fields = message.fields()
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = f"[tracker] {fields.get('summary') or fields.get('kind')}"
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = message_id(message.alert_key, sender)
    mail["X-Tracker-Alert-Id"] = str(message.alert_id)
    mail.set_content(email_text(fields))
    return mail


def send_email(to: str, message: Outgoing, settings: Settings) -> None:
    if not settings.smtp_host:
        raise DeliveryError("e-mail sink configured but TRACKER_SMTP_HOST is not set")
    mail = build_email(to, message, settings.smtp_from)
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_S) as smtp:
            smtp.send_message(mail)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"smtp {settings.smtp_host}:{settings.smtp_port}: {exc}") from exc


def append_log(path: Path, message: Outgoing, *, follow_symlinks: bool = True) -> None:
    # O_NOFOLLOW: a link swapped in after the folder check cannot redirect the write elsewhere.
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | (0 if follow_symlinks else os.O_NOFOLLOW)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # One write of a whole line in append mode, then fsync: a crash leaves whole lines only,
        # and "delivered" is recorded only once the line is on disk.
        with open(os.open(path, flags, 0o640), "a", encoding="utf-8") as handle:
            handle.write(message.body.replace("\n", " ") + "\n")
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise DeliveryError(f"log {path}: {exc}") from exc
