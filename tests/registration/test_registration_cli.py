"""`tracker register` and `tracker registrations` as scripts call them (contract §6)."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from tests.registration.registration_factories import AS_OF, EU, add_llama, add_small
from tracker.cli.errors import CliError
from tracker.cli.main import app
from tracker.registry.pipeline import run_evaluation
from tracker.store.models import Registration, RegistrationAttachment, RegistrationSubmission

runner = CliRunner()


def _json(args: list[str]) -> dict:
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)


def test_register_with_only_the_contract_arguments_then_decide(engine: Engine, settings_env: Path) -> None:
    add_llama(engine)
    run_evaluation(engine, AS_OF, actor="test")
    listed = _json(["registrations", "--state", "due"])["registrations"]
    due = next(r for r in listed if r["regime"] == EU)
    assert due["state"] == "due" and due["registration_number"] is None and due["deadline"]
    assert set(due) >= {"id", "provider", "system", "version", "regime", "state", "registration_number", "deadline"}

    submitted = _json(["register", "Llama 3.1 405B", "--regime", EU, "--provider", "meta"])
    assert (submitted["id"], submitted["state"]) == (due["id"], "submitted")

    decided = _json(["registrations", "decide", str(due["id"]), "--decision", "register",
                     "--reason", "complete notification", "--by", "regulator"])["registrations"][0]
    assert decided["state"] == "registered" and decided["registration_number"].startswith("CTR-")
    systems = _json(["systems"])["systems"]
    flag = next(f for s in systems for f in s["flags"] if f["regime"] == EU)
    assert flag["obligation"] == {"state": "registered", "registration_number": decided["registration_number"]}
    # A regime whose obligation nobody opened (no crossing) says so with null, not a guessed state.
    below = [f for s in systems for f in s["flags"] if f["status"] in ("below", "likely_below")]
    assert below and all(f.get("obligation") is None for f in below)


def test_register_with_every_extra_and_a_contest_file(engine: Engine, settings_env: Path, tmp_path: Path) -> None:
    add_llama(engine)
    run_evaluation(engine, AS_OF, actor="test")
    contest = tmp_path / "arguments.txt"
    contest.write_text("The model does not present systemic risk: see the attached evaluation.\n")
    report = tmp_path / "evaluation.pdf"
    report.write_bytes(b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n")
    result = _json(["register", "Llama 3.1 405B", "--regime", EU, "--provider", "meta", "--contest", str(contest),
                    "--flop", "3.8e25", "--method", "hardware", "--crossed-on", "2024-07-01",
                    "--contact", "regulatory@meta.example", "--attach", str(report), "--attach", str(contest)])
    assert result["state"] == "contested"
    with Session(engine) as session:
        submission = session.exec(select(RegistrationSubmission)).one()
        attachments = session.exec(select(RegistrationAttachment)).all()
    assert submission.kind == "contest" and submission.compute_flop == 3.8e25
    assert submission.contest_text is not None and submission.contest_text.startswith("The model")
    assert sorted(a.media_type for a in attachments) == ["application/pdf", "text/plain"]
    assert all(Path(a.stored_path).read_bytes() in (report.read_bytes(), contest.read_bytes()) for a in attachments)
    assert all(Path(a.stored_path).name == a.sha256 for a in attachments)


def test_another_providers_system_gets_the_same_answer_as_a_missing_one(engine: Engine, settings_env: Path) -> None:
    add_llama(engine)
    add_small(engine, "rival", "rival-7b")
    run_evaluation(engine, AS_OF, actor="test")
    theirs = runner.invoke(app, ["register", "Llama 3.1 405B", "--regime", EU, "--provider", "rival"])
    missing = runner.invoke(app, ["register", "no-such-model", "--regime", EU, "--provider", "rival"])
    assert theirs.exit_code == missing.exit_code == 2
    assert theirs.stderr.strip() == "system: no system Llama 3.1 405B of provider rival; expected one of the " \
                                    "provider's filed systems"
    assert missing.stderr.strip() == theirs.stderr.strip().replace("Llama 3.1 405B", "no-such-model")
    with Session(engine) as session:
        assert session.exec(select(Registration).where(Registration.state != "due")).all() == []


def test_bad_figures_and_dates_are_refused_field_by_field(engine: Engine, settings_env: Path) -> None:
    add_llama(engine)
    run_evaluation(engine, AS_OF, actor="test")
    result = runner.invoke(app, ["register", "Llama 3.1 405B", "--regime", EU, "--provider", "meta",
                                 "--flop", "-1", "--crossed-on", "1985-01-01", "--contact", "a\x07b"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert any(line.startswith("compute_flop: is -1.0; expected a finite number of FLOP above 0") for line in lines)
    assert any(line.startswith("crossed_on: is 1985-01-01; expected a date from 1990-01-01") for line in lines)
    assert any(line.startswith("contact: contains a control character (U+0007)") for line in lines)
    with Session(engine) as session:  # nothing half-stored
        assert session.exec(select(RegistrationSubmission)).all() == []


def test_voluntary_registration_of_a_system_below_every_threshold(engine: Engine, settings_env: Path) -> None:
    add_small(engine, "acme", "acme-7b")
    run_evaluation(engine, AS_OF, actor="test")
    result = _json(["register", "acme-7b", "--regime", EU, "--provider", "acme"])
    assert result["state"] == "submitted" and result["voluntary"] is True and result["obligation"] == "voluntary"
    assert result["deadline"] is None


def test_withdraw_is_the_providers_own_and_an_invalid_decision_is_refused(engine: Engine,
                                                                         settings_env: Path) -> None:
    add_llama(engine)
    add_small(engine, "rival", "rival-7b")
    run_evaluation(engine, AS_OF, actor="test")
    registration = _json(["register", "Llama 3.1 405B", "--regime", EU, "--provider", "meta"])
    refused = runner.invoke(app, ["registrations", "withdraw", str(registration["id"]), "--provider", "rival"])
    missing = runner.invoke(app, ["registrations", "withdraw", "999999", "--provider", "rival"])
    for result, number in ((refused, registration["id"]), (missing, 999999)):
        assert isinstance(result.exception, CliError) and result.exception.exit_code == 2
        assert str(result.exception) == f"no registration {number} of provider rival"
    invalid = runner.invoke(app, ["registrations", "decide", str(registration["id"]), "--decision", "accept_contest",
                                  "--reason", "x", "--by", "regulator"])
    assert invalid.exit_code == 2
    assert "'accept_contest' is not allowed on a registration in state 'submitted'" in invalid.stderr
    withdrawn = _json(["registrations", "withdraw", str(registration["id"]), "--provider", "meta",
                       "--reason", "filed under the wrong regime"])["registrations"][0]
    assert withdrawn["state"] == "withdrawn"
