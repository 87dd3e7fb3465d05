"""`tracker ingest`, `schema`, `import-epoch`, `match`, `api-token` through the real CLI app."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tests.filing.conftest import filings, record_counts
from tracker.cli.main import app
from tracker.store.db import get_engine

runner = CliRunner()
GOOD = "system,run_id,reported_flop\nacme-lm,r1,1e24\n"


def test_ingest_prints_the_receipt_and_is_idempotent(settings_env: Path, tmp_path: Path) -> None:
    path = tmp_path / "runs.csv"
    path.write_text(GOOD)
    first = runner.invoke(app, ["ingest", str(path), "--provider", "acme", "--kind", "training_runs",
                                "--format", "json"])
    assert first.exit_code == 0, first.output
    receipt = json.loads(first.stdout)
    assert receipt["accession"].startswith("CTT-") and receipt["counts"]["records"] == 1
    second = runner.invoke(app, ["ingest", str(path), "--provider", "acme", "--kind", "training_runs"])
    assert second.exit_code == 0
    assert receipt["accession"] in second.stdout and "original receipt" in second.stdout
    assert len(filings(get_engine())) == 1


def test_ingest_without_a_kind_uses_an_unambiguous_header(settings_env: Path, tmp_path: Path) -> None:
    path = tmp_path / "runs.csv"
    path.write_text(GOOD)
    result = runner.invoke(app, ["ingest", str(path), "--provider", "acme"])
    assert result.exit_code == 0, result.stderr
    assert "training_runs" in result.stdout


def test_ingest_without_a_kind_is_rejected_with_exit_2(settings_env: Path, tmp_path: Path) -> None:
    path = tmp_path / "unclear.csv"
    path.write_text("system,notes\nacme-lm,no identifying column\n")
    result = runner.invoke(app, ["ingest", str(path), "--provider", "acme"])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0].startswith("file: the kind of the file is unclear")


def test_rejected_file_lists_one_problem_per_line_on_stderr(settings_env: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("system,run_id,accelerator_count,utilization,reported_flop\na,r1,-8,1.5,1e24\n")
    result = runner.invoke(app, ["ingest", str(path), "--provider", "acme", "--kind", "training_runs"])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[:2] == [
        "row 1, accelerator_count: -8 is negative; expected a whole number >= 1",
        "row 1, utilization: 1.5 is above 1; expected a number in (0, 1]",
    ]
    assert result.stdout == ""


def test_dry_run_stores_nothing(settings_env: Path, tmp_path: Path) -> None:
    path = tmp_path / "runs.csv"
    path.write_text(GOOD)
    result = runner.invoke(app, ["ingest", str(path), "--provider", "acme", "--kind", "training_runs",
                                 "--dry-run"])
    assert result.exit_code == 0 and "dry run" in result.stdout
    assert filings(get_engine()) == [] and record_counts(get_engine())["ai_system"] == 0


def test_other_failures_exit_1(settings_env: Path, tmp_path: Path) -> None:
    missing = runner.invoke(app, ["ingest", str(tmp_path / "nope.csv"), "--provider", "acme"])
    assert missing.exit_code == 1
    bad_slug = tmp_path / "r.csv"
    bad_slug.write_text(GOOD)
    assert runner.invoke(app, ["ingest", str(bad_slug), "--provider", "Not A Slug"]).exit_code == 1


def test_schema_prints_the_json_schema() -> None:
    result = runner.invoke(app, ["schema", "clusters"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["$defs"]["record"]["required"] == ["cluster_id", "accelerator", "accelerator_count"]
    assert runner.invoke(app, ["schema", "weights"]).exit_code == 1


def test_import_epoch_match_and_tokens(settings_env: Path, tmp_path: Path) -> None:
    epoch = tmp_path / "models.csv"
    epoch.write_text('Model,Organization,Publication date,Training compute (FLOP),Confidence,Parameters\n'
                     '"Acme LM\n",Acme,2025-01-01,1e25,Confident,1e11\n')
    first = runner.invoke(app, ["import-epoch", str(epoch)])
    assert first.exit_code == 0 and first.stdout.startswith("imported: snapshot 1")
    assert runner.invoke(app, ["import-epoch", str(epoch)]).stdout.startswith("unchanged")
    runs = tmp_path / "runs.csv"
    runs.write_text("system,run_id,reported_flop\ninternal-7,r1,1e24\n")
    assert runner.invoke(app, ["ingest", str(runs), "--provider", "acme", "--kind", "training_runs"]).exit_code == 0
    matched = runner.invoke(app, ["match", "internal-7", "Acme LM", "--provider", "acme"])
    assert matched.exit_code == 0, matched.output
    assert runner.invoke(app, ["match", "ghost", "Acme LM", "--provider", "acme"]).exit_code == 1
    token = runner.invoke(app, ["api-token", "create", "--provider", "acme", "--name", "ci"])
    assert token.exit_code == 0 and token.stdout.startswith("ctt_")
