"""E-mail alerts against a real SMTP server; an unreachable server means retry, not loss."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes, policy

from alert_factories import provider_and_system, settings_for
from receivers import SmtpReceiver, free_port
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tracker.alerts.dispatch import dispatch_pending
from tracker.alerts.outbox import enqueue
from tracker.store.models import AlertDelivery
from tracker.store.types import utcnow


def test_email_is_sent_while_up_and_retried_while_down(engine: Engine, db_url: str) -> None:
    port = free_port()
    settings = settings_for(db_url, smtp_host="127.0.0.1", smtp_port=port,
                            smtp_from="tracker@reg.example", alert_email_to="desk@reg.example")
    with Session(engine, expire_on_commit=False) as session:
        _, system = provider_and_system(session)
        alert = enqueue(
            session, kind="deadline_7d", idempotency_key="deadline_7d:system:1:eu:2026-12-11",
            system_id=system.id, regime_id="eu",
            payload={"status": "above", "threshold": 1e25, "deadline": "2026-12-11",
                     "training_flop": {"central": 3.8e25, "low": 2.9e25, "high": 4.9e25}},
            settings=settings,
        )
        session.commit()
    assert alert is not None

    now = utcnow()
    down = dispatch_pending(engine, settings, now=now)  # nothing listens on the port yet
    assert down.retrying == 1 and "smtp" in down.errors[0]

    smtp = SmtpReceiver(port=port).start()
    try:
        up = dispatch_pending(engine, settings, now=now + timedelta(hours=1))
    finally:
        smtp.stop()
    assert up.delivered == 1
    [raw] = smtp.messages
    mail = message_from_bytes(raw, policy=policy.default)
    assert mail["To"] == "desk@reg.example" and mail["From"] == "tracker@reg.example"
    assert "acme/acme-lm" in mail["Subject"] and "deadline 2026-12-11" in mail["Subject"]
    text = mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    for expected in ("Provider:   acme", "System:     acme-lm (version 2)", "Regime:     eu",
                     "Status:     above", "3.8e+25 FLOP (90% interval 2.9e+25 - 4.9e+25)",
                     "Threshold:  1e+25", "Deadline:   2026-12-11",
                     f"https://tracker.example/systems/{system.id}"):
        assert expected in text
    with Session(engine) as session:
        [row] = session.exec(select(AlertDelivery)).all()
    assert (row.status, row.attempts) == ("delivered", 2)


def test_message_id_is_stable_per_alert() -> None:
    from tracker.alerts.sinks import message_id

    assert message_id("k1", "t@reg.example") == message_id("k1", "t@reg.example")
    assert message_id("k1", "t@reg.example") != message_id("k2", "t@reg.example")
    assert message_id("k1", "t@reg.example").endswith("@reg.example>")
