"""Every file of tests/corpus/invalid is rejected whole with its message; the valid ones are filed.

The invalid corpus runs as one test per backend (a fresh database each) to stay fast; every file
is still checked on its own: its fragment, nothing stored from it, and the next good file accepted.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tests.filing.conftest import CORPUS, audit_actions, filings, record_counts
from tracker.filing.receipts import Receipt, Rejection, outcome_of
from tracker.filing.service import file_disclosure
from tracker.store.models import AISystem, ComputeCluster, TrainingRun

MANIFEST = json.loads((CORPUS / "invalid" / "manifest.json").read_text())
GOOD = {
    "training_runs": b"system,run_id,reported_flop\ngood-lm,good-{n},1e24\n",
    "inference_usage": b"system,period_start,period_end,output_tokens\ngood-lm,2026-01-01,2026-01-{day:02d},{n}\n",
    "clusters": b"cluster_id,accelerator,accelerator_count\ngood-{n},H100,8\n",
}


def test_the_corpus_is_broad_enough() -> None:
    assert len(MANIFEST) >= 40
    assert {c["kind"] for c in MANIFEST} >= {"training_runs", "inference_usage", "clusters", None}
    suffixes = {Path(c["file"]).suffix for c in MANIFEST}
    assert suffixes >= {".csv", ".json", ".xlsx", ".parquet"}
    assert all((CORPUS / "invalid" / c["file"]).is_file() for c in MANIFEST if not c.get("generated"))


def test_each_invalid_file_is_rejected_whole_and_the_next_good_file_is_accepted(
        engine: Engine, binary_corpus: Path) -> None:
    failures: list[str] = []
    for n, case in enumerate(MANIFEST, start=1):
        folder = binary_corpus / "invalid" if case.get("generated") else CORPUS / "invalid"
        before_counts, before_filings = record_counts(engine), len(filings(engine))
        outcome = file_disclosure(engine, content=(folder / case["file"]).read_bytes(), filename=case["file"],
                                  kind=case["kind"], provider_slug="acme", filed_by="test", channel="cli")
        if not isinstance(outcome, Rejection):
            failures.append(f"{case['file']}: accepted")
            continue
        lines = [str(p) for p in outcome.errors]
        stored = filings(engine)[before_filings:]
        if not any(case["fragment"] in line for line in lines):
            failures.append(f"{case['file']}: {case['fragment']!r} not in {lines}")
        if record_counts(engine) != before_counts:
            failures.append(f"{case['file']}: records stored from a rejected file")
        if [(f.status, f.accession) for f in stored] != [("rejected", outcome.accession)]:
            failures.append(f"{case['file']}: expected exactly one rejected Filing, got {stored}")
        elif not any(case["fragment"] in str(p) for p in outcome_of(stored[0], "acme").errors):  # type: ignore[union-attr]
            failures.append(f"{case['file']}: errors_json lacks the fragment")
        kind = case["kind"] or "training_runs"
        good = GOOD[kind].decode().format(n=n, day=n % 28 + 1).encode()
        accepted = file_disclosure(engine, content=good, filename="good.csv", kind=kind, provider_slug="acme",
                                   filed_by="test", channel="cli")
        if not isinstance(accepted, Receipt):
            failures.append(f"{case['file']}: the next good file was rejected: {accepted.errors}")
    assert not failures, "\n".join(failures)
    actions = audit_actions(engine)
    assert actions.count("filing.rejected") == len(MANIFEST)
    assert actions.count("filing.accepted") == len(MANIFEST)


def test_html_and_formula_text_is_stored_verbatim(engine: Engine) -> None:
    content = (CORPUS / "valid" / "html_and_formulas.csv").read_bytes()
    outcome = file_disclosure(engine, content=content, filename="h.csv", kind="training_runs",
                              provider_slug="acme", filed_by="test", channel="cli")
    assert isinstance(outcome, Receipt)
    with Session(engine) as session:
        names = sorted(s.name for s in session.exec(select(AISystem)).all())
        runs = {r.run_id: r for r in session.exec(select(TrainingRun)).all()}
    assert names == ["<b>bold</b>", "<script>alert(1)</script>"]
    assert set(runs) == {'=HYPERLINK("http://x")', "@SUM(A1)"}
    assert runs["@SUM(A1)"].notes == "-2+3 is not a number here"
    assert runs['=HYPERLINK("http://x")'].notes == "+cmd|' /C calc'!A0"


def test_valid_but_tricky_files_are_accepted(engine: Engine, binary_corpus: Path) -> None:
    cases = [(CORPUS / "valid" / "bom_crlf_mixed_case.csv", "training_runs", 2),
             (CORPUS / "valid" / "multiline_notes.csv", "training_runs", 2),
             (CORPUS / "valid" / "envelope.json", None, 1),
             (binary_corpus / "valid" / "training.xlsx", "training_runs", 1),
             (binary_corpus / "valid" / "usage.parquet", "inference_usage", 1)]
    for path, kind, records in cases:
        outcome = file_disclosure(engine, content=path.read_bytes(), filename=path.name, kind=kind,
                                  provider_slug=f"p-{path.stem.replace('_', '-')}", filed_by="test",
                                  channel="cli")
        assert isinstance(outcome, Receipt), (path.name, outcome)
        assert outcome.records == records, path.name


def test_a_path_traversal_filename_is_stored_as_its_base_name(engine: Engine) -> None:
    content = (CORPUS / "valid" / "passwd.csv").read_bytes()
    outcome = file_disclosure(engine, content=content, filename="../../etc/passwd.csv", kind="clusters",
                              provider_slug="acme", filed_by="test", channel="api")
    assert isinstance(outcome, Receipt) and outcome.filename == "passwd.csv"
    windows = file_disclosure(engine, content=content + b"c2,H100,8\n", filename="..\\..\\boot.ini\x00.csv",
                              kind="clusters", provider_slug="acme", filed_by="test", channel="api")
    assert windows.filename == "boot.ini.csv"
    with Session(engine) as session:
        assert len(session.exec(select(ComputeCluster)).all()) == 3
