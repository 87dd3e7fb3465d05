"""The filing service: receipts, idempotency, supersession, lineage and atomicity."""

from __future__ import annotations

import hashlib
import re
import threading

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tests.filing.conftest import audit_actions, filings, record_counts
from tracker.filing import store
from tracker.filing.receipts import Receipt, Rejection
from tracker.filing.service import FilingError, file_disclosure
from tracker.store import audit
from tracker.store.models import AISystem, ComputeCluster, InferenceUsage, Provider, TrainingRun

RUNS = b"system,version,run_id,accelerator,accelerator_count,training_hours,reported_flop\n" \
       b"acme-lm,1,r1,H100,1000,100,1e24\nacme-lm,1,r2,A100,500,50,\n"


def file(engine: Engine, content: bytes, kind: str | None = "training_runs", provider: str = "acme",
         **kw: object) -> Receipt | Rejection:
    return file_disclosure(engine, content=content, filename="f.csv", kind=kind, provider_slug=provider,
                           filed_by="tester", channel="cli", **kw)  # type: ignore[arg-type]


def test_receipt_carries_accession_sha_counts_and_filer(engine: Engine) -> None:
    receipt = file(engine, RUNS)
    assert isinstance(receipt, Receipt)
    assert re.fullmatch(r"CTT-\d{4}-\d{6}", receipt.accession or "")
    assert receipt.accession == f"CTT-{receipt.filed_at.year}-000001"  # type: ignore[union-attr]
    body = receipt.to_dict()
    assert body["sha256"] == hashlib.sha256(RUNS).hexdigest()
    assert body["counts"] == {"records": 2, "superseded": 0}
    assert (body["filed_by"], body["channel"], body["status"]) == ("tester", "cli", "accepted")
    assert body["duplicate"] is False
    assert audit_actions(engine) == ["filing.accepted"]
    with Session(engine) as session:
        runs = session.exec(select(TrainingRun).order_by(TrainingRun.run_id)).all()  # type: ignore[arg-type]
        assert [(r.run_id, r.accelerator, r.accelerator_count) for r in runs] == [
            ("r1", "NVIDIA H100 SXM5", 1000.0), ("r2", "NVIDIA A100 SXM4 40GB", 500.0)]
        assert session.exec(select(Provider)).one().slug == "acme"


def test_same_bytes_twice_return_the_first_receipt_and_store_nothing(engine: Engine) -> None:
    first = file(engine, RUNS)
    again = file(engine, RUNS)
    assert isinstance(again, Receipt) and again.duplicate
    assert again.accession == first.accession and again.filed_at == first.filed_at
    assert len(filings(engine)) == 1 and record_counts(engine)["training_run"] == 2
    other_provider = file(engine, RUNS, provider="other")
    assert isinstance(other_provider, Receipt) and not other_provider.duplicate


def test_accession_numbers_increase(engine: Engine) -> None:
    a = file(engine, RUNS)
    b = file(engine, b"system,run_id,reported_flop\nx,r9,1e20\n")
    assert a.accession is not None and b.accession is not None and a.accession < b.accession


def test_a_new_filing_supersedes_the_same_run_and_keeps_the_old_row(engine: Engine) -> None:
    file(engine, RUNS)
    second = file(engine, b"system,version,run_id,reported_flop\nacme-lm,1,r1,3e24\n")
    assert isinstance(second, Receipt) and second.superseded == 1
    with Session(engine) as session:
        rows = session.exec(select(TrainingRun).where(TrainingRun.run_id == "r1").order_by(TrainingRun.id)).all()  # type: ignore[arg-type]
        old, new = rows
        assert (old.is_current, old.superseded_by_id, new.is_current) == (False, new.id, True)
        assert new.reported_flop == 3e24
        r2 = session.exec(select(TrainingRun).where(TrainingRun.run_id == "r2")).one()
        assert r2.is_current


def test_usage_supersedes_by_system_and_period_and_clusters_by_id(engine: Engine) -> None:
    usage = b"system,period_start,period_end,output_tokens,segment\nlm,2026-01-01,2026-01-31,5,eu\n" \
            b"lm,2026-01-01,2026-01-31,7,us\nlm,2026-02-01,2026-02-28,1,eu\n"
    first = file(engine, usage, "inference_usage")
    assert isinstance(first, Receipt) and first.records == 2
    second = file(engine, b"system,period_start,period_end,output_tokens\nlm,2026-01-01,2026-01-31,20\n",
                  "inference_usage")
    assert second.superseded == 1  # type: ignore[union-attr]
    with Session(engine) as session:
        current = session.exec(select(InferenceUsage).where(InferenceUsage.is_current == True)  # noqa: E712
                               .order_by(InferenceUsage.period_start)).all()  # type: ignore[arg-type]
        assert [(u.period_start.month, u.output_tokens) for u in current] == [(1, 20.0), (2, 1.0)]
    file(engine, b"cluster_id,accelerator,accelerator_count\nc1,H100,8\n", "clusters")
    third = file(engine, b"cluster_id,accelerator,accelerator_count\nc1,H100,16\n", "clusters")
    assert third.superseded == 1  # type: ignore[union-attr]
    with Session(engine) as session:
        assert [c.accelerator_count for c in session.exec(select(ComputeCluster).where(
            ComputeCluster.is_current == True)).all()] == [16.0]  # noqa: E712


def _publish(engine: Engine, provider: str, reference: str) -> None:
    from tracker.filing.systems import publish_figures

    with Session(engine) as session, session.begin():
        publish_figures(session, provider_slug=provider, reference=reference, actor="tester")


def test_base_systems_resolve_in_file_then_provider_then_public(engine: Engine) -> None:
    file(engine, b"system,version,run_id,reported_flop\nbase,1,b1,1e24\n", provider="meta")
    _publish(engine, "meta", "base@1")  # another provider's system is a base only once its figures are public
    file(engine, b"system,version,run_id,reported_flop\nmine,,m1,1e23\n")
    runs = b"system,run_id,base_system,reported_flop\n" \
           b"chat,c1,base@1,1e21\n" \
           b"tuned,t1,mine,1e21\n" \
           b"deriv,d1,local,1e21\n" \
           b"local,l1,,1e22\n"
    receipt = file(engine, runs)
    assert isinstance(receipt, Receipt), receipt
    with Session(engine) as session:
        systems = {s.name: s for s in session.exec(select(AISystem)).all()}
        assert systems["chat"].base_system_id == systems["base"].id
        assert systems["tuned"].base_system_id == systems["mine"].id
        assert systems["deriv"].base_system_id == systems["local"].id
    file(engine, b"system,version,run_id,reported_flop\nbase,2,b2,1e24\n", provider="other")
    _publish(engine, "other", "base@2")
    ambiguous = file(engine, b"system,run_id,base_system,reported_flop\nx,x1,base,1e21\n", provider="third")
    assert isinstance(ambiguous, Rejection)
    assert "matches several systems (meta/base@1, other/base@2)" in str(ambiguous.errors[0])


def test_failure_while_storing_leaves_nothing_behind(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object, **_kw: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(store, "_record_lineage", broken)
    with pytest.raises(RuntimeError):
        file(engine, RUNS)
    assert record_counts(engine) == {"training_run": 0, "inference_usage": 0, "compute_cluster": 0,
                                     "ai_system": 0}
    assert filings(engine) == [] and audit_actions(engine) == []
    with Session(engine) as session:
        assert audit.verify(session).ok


def test_usage_filed_again_supersedes_every_row_of_the_period_pointing_at_its_first_new_row(engine: Engine) -> None:
    two_fleets = b"system,period_start,period_end,output_tokens,accelerator,accelerator_hours,segment\n" \
                 b"lm,2026-01-01,2026-01-31,5,H100,10,eu\nlm,2026-01-01,2026-01-31,7,A100,20,us\n"
    first = file(engine, two_fleets, "inference_usage")
    second = file(engine, two_fleets.replace(b",5,", b",6,"), "inference_usage")
    assert isinstance(first, Receipt) and isinstance(second, Receipt)
    assert (first.records, second.records, second.superseded) == (2, 2, 2)
    with Session(engine) as session:
        rows = session.exec(select(InferenceUsage).order_by(InferenceUsage.id)).all()  # type: ignore[arg-type]
        old, new = rows[:2], rows[2:]
        assert [(r.is_current, r.superseded_by_id) for r in old] == [(False, new[0].id)] * 2
        assert [(r.is_current, r.accelerator, r.output_tokens) for r in new] == [
            (True, "NVIDIA H100 SXM5", 6.0), (True, "NVIDIA A100 SXM4 40GB", 7.0)]


def test_failure_while_storing_usage_leaves_nothing_behind(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    real_insert = store.insert_frame

    def insert_then_fail(*args: object, **kw: object) -> None:
        real_insert(*args, **kw)  # type: ignore[arg-type]
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(store, "insert_frame", insert_then_fail)
    with pytest.raises(RuntimeError):
        file(engine, b"system,period_start,period_end,output_tokens\nlm,2026-01-01,2026-01-31,5\n",
             "inference_usage")
    assert record_counts(engine) == {"training_run": 0, "inference_usage": 0, "compute_cluster": 0,
                                     "ai_system": 0}
    assert filings(engine) == [] and audit_actions(engine) == []


def test_dry_run_validates_without_storing(engine: Engine) -> None:
    valid = file(engine, RUNS, dry_run=True)
    assert isinstance(valid, Receipt) and valid.status == "valid" and valid.accession is None
    invalid = file(engine, b"system,run_id\nx,r1\n", dry_run=True)
    assert isinstance(invalid, Rejection) and invalid.accession is None
    assert filings(engine) == [] and record_counts(engine)["ai_system"] == 0


def test_bad_slug_and_unknown_provider_for_the_api_are_refused(engine: Engine) -> None:
    with pytest.raises(FilingError):
        file(engine, RUNS, provider="../etc")
    with pytest.raises(FilingError):
        file(engine, RUNS, provider="nobody", create_provider=False)


def test_concurrent_identical_filings_store_once(engine: Engine) -> None:
    outcomes: list[Receipt | Rejection] = []
    threads = [threading.Thread(target=lambda: outcomes.append(file(engine, RUNS))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({o.accession for o in outcomes}) == 1
    assert len(filings(engine)) == 1 and record_counts(engine)["training_run"] == 2
