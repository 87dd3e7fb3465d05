"""The transition table and the submission checks: pure, hostile input included."""

from __future__ import annotations

import math
from datetime import date

import pytest

from tracker.registration.states import STATES, TRANSITIONS, InvalidTransition, next_state, submission_action
from tracker.registration.validate import (
    Attachment,
    SubmissionInput,
    check_submission,
    media_type,
    parse_fields,
    record_sha256,
)

TODAY = date(2026, 11, 27)
CAP = 1024


def _input(**overrides: object) -> SubmissionInput:
    fields: dict[str, object] = {"provider": "meta", "system": "Llama 3.1 405B", "regime": "eu-aia-gpaisr-presumption"}
    return SubmissionInput(**(fields | overrides))  # type: ignore[arg-type]


def _fields(submission: SubmissionInput) -> list[str | None]:
    return [p.column for p in check_submission(submission, TODAY, CAP)]


def test_the_contract_path_and_its_branches() -> None:
    assert next_state("due", "submit") == "submitted"
    assert next_state("submitted", "register") == "registered"
    assert next_state("due", "contest") == "contested"
    assert next_state("contested", "register") == "registered"
    assert next_state("contested", "accept_contest") == "not_designated"
    assert next_state("contested", "reject") == "rejected"
    assert all(next_state(s, "withdraw") == "withdrawn" for s in ("due", "submitted", "contested", "registered"))
    assert set(TRANSITIONS.values()) <= set(STATES)


@pytest.mark.parametrize("state, action", [
    ("due", "register"), ("submitted", "accept_contest"), ("not_designated", "withdraw"),
    ("withdrawn", "withdraw"), ("registered", "submit"), ("rejected", "register"),
])
def test_every_other_transition_is_refused_saying_what_is_allowed(state: str, action: str) -> None:
    with pytest.raises(InvalidTransition) as refused:
        next_state(state, action)
    message = str(refused.value)
    assert f"{action!r} is not allowed on a registration in state {state!r}" in message
    assert "expected one of" in message or "no action is allowed" in message


def test_what_a_submission_does_depends_on_the_state() -> None:
    assert submission_action(None, contest=False) == "voluntary"
    assert submission_action("due", contest=False) == "submit"
    assert submission_action("due", contest=True) == "contest"
    assert submission_action("submitted", contest=True) == "contest"
    assert submission_action("contested", contest=True) == "supplement"
    assert submission_action("withdrawn", contest=False) == "resubmit"


@pytest.mark.parametrize("overrides, field", [
    ({"compute_flop": -1.0}, "compute_flop"), ({"compute_flop": 0.0}, "compute_flop"),
    ({"compute_flop": math.inf}, "compute_flop"), ({"compute_flop": math.nan}, "compute_flop"),
    ({"crossed_on": date(1989, 12, 31)}, "crossed_on"), ({"crossed_on": date(2037, 1, 1)}, "crossed_on"),
    ({"contact": "x" * 501}, "contact"), ({"contact": "line\nbreak"}, "contact"),
    ({"contact": "admin\u202eexe.pdf"}, "contact"), ({"contest_text": "ok\x00"}, "contest"),
    ({"system": ""}, "system"), ({"system": "a\x1b[31m"}, "system"), ({"regime": "r" * 81}, "regime"),
    ({"voluntary": True, "contest_text": "no risk"}, "contest"),
    ({"attachments": (Attachment("../../etc/passwd", b"text"),)}, "attachment 1"),
    ({"attachments": (Attachment("big.txt", b"a" * (CAP + 1)),)}, "attachment 1"),
    ({"attachments": (Attachment("empty.pdf", b""),)}, "attachment 1"),
    ({"attachments": (Attachment("x.pdf", b"\xff\xfe\x00binary"),)}, "attachment 1"),
])
def test_hostile_fields_are_refused_by_name(overrides: dict[str, object], field: str) -> None:
    assert _fields(_input(**overrides)) == [field]


def test_a_clean_submission_passes_and_multiline_contest_text_is_allowed() -> None:
    clean = _input(compute_flop=3.8e25, crossed_on=date(2024, 7, 1), contact="regulatory@meta.example",
                   contest_text="First argument.\n\tSecond argument.", version="405b",
                   attachments=(Attachment("model-card.pdf", b"%PDF-1.7 ..."), Attachment("notes.txt", "é".encode())))
    assert check_submission(clean, TODAY, CAP) == []


def test_media_type_is_read_from_the_content_not_the_name() -> None:
    assert media_type(b"%PDF-1.4") == "application/pdf"
    assert media_type("plain text é".encode()) == "text/plain"
    assert media_type(b"\x89PNG\r\n\x1a\n") is None


def test_record_hash_covers_every_field_and_attachment() -> None:
    base = {"kind": "notification", "compute_flop": 3.8e25, "crossed_on": date(2024, 7, 1)}
    files = [{"filename": "a.pdf", "sha256": "1" * 64}]
    digest = record_sha256(base, files)
    assert len(digest) == 64 and digest == record_sha256(dict(reversed(base.items())), files)
    assert digest != record_sha256(base | {"compute_flop": 3.9e25}, files)
    assert digest != record_sha256(base, [{"filename": "a.pdf", "sha256": "2" * 64}])


def test_parse_fields_reads_json_and_form_values_and_names_what_it_cannot() -> None:
    parsed, problems = parse_fields({"system": "m", "regime": "r", "compute_flop": "3.8e25", "voluntary": "true",
                                     "crossed_on": "2024-07-01"}, "meta")
    assert problems == [] and parsed is not None
    assert (parsed.compute_flop, parsed.voluntary, parsed.crossed_on) == (3.8e25, True, date(2024, 7, 1))
    _, problems = parse_fields({"system": 5, "regime": "r", "compute_flop": True, "voluntary": "maybe",
                                "provider": "rival"}, "meta")
    assert sorted(str(p.column) for p in problems) == ["compute_flop", "provider", "system", "voluntary"]


def test_which_flags_open_an_obligation() -> None:
    import polars as pl

    from tracker.registration.obligations import obligation_candidates

    flags = pl.DataFrame({
        "subject_key": ["1", "2", "3", "4", "5", "6", "cluster:7", "8"],
        "regime_id": ["eu", "eu", "eu", "eu", "eu", "none", "eu", "eu"],
        "status": ["above", "likely_above", "likely_below", "above", "above", "above", "above", "above"],
        "projected": [False, False, False, True, True, False, False, False],
        "conditional": [False, False, False, False, False, False, False, True],
        "crossed_on": [date(2026, 1, 1)] * 8,
        "deadline": [date(2026, 1, 15), None, None, date(2026, 2, 1), None, None, None, None],
        "threshold": [1e25] * 8,
        "notified_at": [None] * 8,
    })
    systems = pl.DataFrame({"system_key": [str(i) for i in range(1, 9)], "provider_id": [10] * 8})
    candidates = obligation_candidates(flags, systems, {"eu": "notify"})
    # 1 above, 2 likely above, 4 projected with a deadline; not 3 (below), 5 (projected, no clock),
    # 6 (regime without an obligation), the cluster, or 8 (conditional).
    assert candidates["system_id"].to_list() == [1, 2, 4]
    assert candidates["provider_id"].to_list() == [10, 10, 10]
    assert obligation_candidates(flags, systems, {}).height == 0


def test_a_registration_alert_keeps_the_contract_fields_and_no_compute_figure() -> None:
    from datetime import UTC, datetime

    from tracker.alerts.payload import CONTRACT_FIELDS, complete, registration_payload

    payload = registration_payload(state="registered", action="register", registration_id=7,
                                   regime="eu-aia-gpaisr-presumption", threshold=1e25, deadline=date(2025, 8, 16),
                                   registration_number="CTR-2026-000001", obligation="notify", voluntary=False,
                                   reason="complete", base_url="https://tracker.example/")
    body = complete(payload, alert_id=1, kind="registration", idempotency_key="k", provider="meta",
                    system="Llama 3.1 405B", version="", system_id=3, regime=None,
                    base_url="https://tracker.example", created_at=datetime(2026, 12, 4, tzinfo=UTC))
    assert set(CONTRACT_FIELDS) <= set(body)
    assert body["status"] == "registered" and body["deadline"] == "2025-08-16"
    assert body["training_flop"] == {"central": None, "low": None, "high": None}
    assert body["url"] == "https://tracker.example/registrations?id=7"
