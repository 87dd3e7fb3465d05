"""Lineage at filing: cycles are refused (in the file, with the registry, through amendments), and
a base resolves only to the provider's own systems or to systems whose figures are public, with
one answer for "missing" and "another provider's confidential system" (docs/filing.md, Lineage)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from tests.filing.conftest import audit_actions, record_counts
from tracker.cli.main import app
from tracker.filing.receipts import Receipt, Rejection
from tracker.filing.service import file_disclosure
from tracker.filing.systems import publish_figures
from tracker.store.db import get_engine
from tracker.store.models import AISystem

HEADER = "system,run_id,base_system,reported_flop\n"


def file(engine: Engine, rows: str, provider: str = "acme", **kw: object) -> Receipt | Rejection:
    return file_disclosure(engine, content=(HEADER + rows).encode(), filename="runs.csv", kind="training_runs",
                           provider_slug=provider, filed_by="tester", channel="cli", **kw)  # type: ignore[arg-type]


def errors(outcome: Receipt | Rejection) -> list[str]:
    assert isinstance(outcome, Rejection), outcome
    return [str(p) for p in outcome.errors]


def publish(engine: Engine, provider: str, reference: str) -> None:
    with Session(engine) as session, session.begin():
        publish_figures(session, provider_slug=provider, reference=reference, actor="tester")


def test_a_cycle_within_one_file_is_rejected_naming_row_column_and_cycle(engine: Engine) -> None:
    outcome = file(engine, "a,r1,b,1e24\nb,r2,a,1e24\nc,r3,,1e22\n")
    assert errors(outcome) == [
        "row 1, base_system: this base makes a lineage cycle: a -> b -> a; expected a base that does not "
        "descend from 'a'",
        "row 2, base_system: this base makes a lineage cycle: b -> a -> b; expected a base that does not "
        "descend from 'b'",
    ]
    assert record_counts(engine) == {"training_run": 0, "inference_usage": 0, "compute_cluster": 0, "ai_system": 0}
    assert audit_actions(engine) == ["filing.rejected"]


def test_a_dry_run_reports_the_cycle_too(engine: Engine) -> None:
    outcome = file(engine, "a,r1,b,1e24\nb,r2,c,1e24\nc,r3,a,1e24\n", dry_run=True)
    assert "a -> b -> c -> a" in errors(outcome)[0]


def test_a_long_loop_is_rejected_with_bounded_messages(engine: Engine) -> None:
    n = 3_000  # each system based on the next, the last on the first
    outcome = file(engine, "".join(f"s{i},r{i},s{(i + 1) % n},1e20\n" for i in range(n)))
    assert isinstance(outcome, Rejection)
    first = str(outcome.errors[0])
    assert first.startswith("row 1, base_system: this base makes a lineage cycle: s0 -> s1 -> s2")
    assert f"… ({n} systems in the cycle) -> s0;" in first and len(first) < 400
    assert len(outcome.errors) <= 201  # the usual cap on reported problems


def test_a_cycle_closed_against_the_registry_is_rejected(engine: Engine) -> None:
    assert isinstance(file(engine, "base,r1,,1e24\nchat,r2,base,1e22\n"), Receipt)
    outcome = file(engine, "base,r3,chat,1e22\n")
    assert errors(outcome) == ["row 1, base_system: this base makes a lineage cycle: base -> chat -> base; "
                               "expected a base that does not descend from 'base'"]


def test_an_amendment_that_rebases_a_run_into_a_cycle_is_rejected(engine: Engine) -> None:
    assert isinstance(file(engine, "a,r1,,1e24\nb,r2,a,1e22\nc,r3,b,1e22\n"), Receipt)
    # Re-filing run r1 of `a` with `c` as its base: a -> c -> b -> a.
    assert "a -> c -> b -> a" in errors(file(engine, "a,r1,c,1e24\n"))[0]
    # Moving the lineage elsewhere without a loop is an ordinary amendment.
    assert isinstance(file(engine, "c,r3,a,1e22\n"), Receipt)
    with Session(engine) as session:
        systems = {s.name: s for s in session.exec(select(AISystem)).all()}
    assert systems["c"].base_system_id == systems["a"].id and systems["a"].base_system_id is None


def test_a_base_whose_stored_lineage_already_loops_is_rejected(engine: Engine) -> None:
    assert isinstance(file(engine, "x,r1,,1e24\ny,r2,x,1e22\n"), Receipt)
    with Session(engine) as session, session.begin():  # planted around filing
        systems = {s.name: s for s in session.exec(select(AISystem)).all()}
        systems["x"].base_system_id = systems["y"].id
    assert errors(file(engine, "z,r3,y,1e21\n")) == [
        "row 1, base_system: this base leads to a lineage that loops: y -> x -> y; expected a base whose lineage "
        "ends in a root system"]


def test_a_cycle_through_another_providers_system_does_not_name_it(engine: Engine) -> None:
    assert isinstance(file(engine, "secret-base,s1,,3e25\n", provider="beta"), Receipt)
    assert isinstance(file(engine, "mine,m1,,1e24\nmine-ft,m2,mine,1e22\n"), Receipt)
    with Session(engine) as session, session.begin():  # data filed before the lineage rule
        systems = {s.name: s for s in session.exec(select(AISystem)).all()}
        systems["mine"].base_system_id = systems["secret-base"].id
        systems["secret-base"].base_system_id = systems["mine-ft"].id
    message = errors(file(engine, "mine-ft,m2,mine,1e22\n"))[0]
    assert "mine-ft -> mine -> another provider's system -> mine-ft" in message
    assert "secret" not in message and "beta" not in message


def test_another_providers_confidential_system_reads_as_missing(engine: Engine) -> None:
    assert isinstance(file(engine, "frontier,f1,,3e25\n", provider="beta"), Receipt)
    hidden = errors(file(engine, "tuned,t1,frontier,1e22\n"))
    missing = errors(file(engine, "tuned,t1,no-such-model,1e22\n"))
    assert hidden == [m.replace("no-such-model", "frontier") for m in missing]
    assert "beta" not in hidden[0]
    # Once beta makes its figures public, acme may build on it.
    publish(engine, "beta", "frontier")
    assert isinstance(file(engine, "tuned,t1,frontier,1e22\n"), Receipt)


def test_ambiguity_lists_only_own_and_public_candidates(engine: Engine) -> None:
    file(engine, "base@1,b1,,1e24\n".replace("base@1", "base"), provider="meta")
    file_disclosure(engine, content=b"system,version,run_id,reported_flop\nbase,2,b2,1e24\n", filename="f.csv",
                    kind="training_runs", provider_slug="other", filed_by="t", channel="cli")
    file_disclosure(engine, content=b"system,version,run_id,reported_flop\nbase,3,b3,1e24\n", filename="f.csv",
                    kind="training_runs", provider_slug="confidential", filed_by="t", channel="cli")
    publish(engine, "meta", "base")
    publish(engine, "other", "base@2")
    # A bare name prefers the unversioned (public) system; the confidential base@3 is never listed.
    assert isinstance(file(engine, "x,x1,base,1e21\n", provider="third"), Receipt)
    ambiguous = errors(file(engine, "y,y1,base@2,1e21\nz,z1,base@3,1e21\n", provider="fourth"))
    assert len(ambiguous) == 1 and ambiguous[0].startswith("row 2, base_system: 'base@3' is not a system")
    publish(engine, "meta", "base")  # already public: nothing new audited
    with Session(engine) as session, session.begin():
        meta_base = session.exec(select(AISystem).where(AISystem.name == "base", AISystem.version == "")).one()
        meta_base.version = "1"  # now two public versions, neither unversioned
    listed = errors(file(engine, "w,w1,base,1e21\n", provider="fifth"))[0]
    assert "matches several systems (meta/base@1, other/base@2)" in listed and "confidential" not in listed


def test_publishing_is_audited_once(engine: Engine) -> None:
    file(engine, "model,r1,,1e24\n")
    publish(engine, "acme", "model")
    publish(engine, "acme", "model")
    assert audit_actions(engine).count("system.figures_published") == 1


runner = CliRunner()


def test_cli_ingest_of_a_cyclic_file_exits_2_with_the_cycle(settings_env: Path, tmp_path: Path) -> None:
    path = tmp_path / "cyclic.csv"
    path.write_text(HEADER + "a,r1,b,1e24\nb,r2,a,1e24\n")
    result = runner.invoke(app, ["ingest", str(path), "--provider", "acme", "--kind", "training_runs"])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith("row 1, base_system: this base makes a lineage cycle: a -> b -> a")
    assert lines[1].startswith("row 2, base_system: this base makes a lineage cycle: b -> a -> b")


def test_cli_publish_lets_another_provider_build_on_the_system(settings_env: Path, tmp_path: Path) -> None:
    base = tmp_path / "base.csv"
    base.write_text(HEADER + "frontier,f1,,3e25\n")
    tuned = tmp_path / "tuned.csv"
    tuned.write_text(HEADER + "tuned,t1,frontier,1e22\n")
    assert runner.invoke(app, ["ingest", str(base), "--provider", "beta"]).exit_code == 0
    assert runner.invoke(app, ["ingest", str(tuned), "--provider", "acme"]).exit_code == 2
    wrong = runner.invoke(app, ["systems", "publish", "frontier", "--provider", "acme"])
    # The console script prints the error in one sentence (tracker.cli.main.run); the runner keeps it raised.
    assert wrong.exit_code == 1 and "no system 'frontier' filed by provider 'acme'" in str(wrong.exception)
    done = runner.invoke(app, ["systems", "publish", "frontier", "--provider", "beta"])
    assert done.exit_code == 0 and "beta/frontier: figures public" in done.stdout
    again = runner.invoke(app, ["ingest", str(tuned), "--provider", "acme", "--format", "json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["counts"]["records"] == 1
    with Session(get_engine()) as session:
        assert session.exec(select(AISystem).where(AISystem.name == "frontier")).one().figures_public


@pytest.mark.parametrize("reference", ["frontier@9", "nothing"])
def test_publish_refuses_what_the_provider_did_not_file(engine: Engine, reference: str) -> None:
    file(engine, "frontier,f1,,3e25\n", provider="beta")
    from tracker.filing.systems import SystemNotFoundError

    with Session(engine) as session, pytest.raises(SystemNotFoundError, match="filed by provider 'beta'"):
        publish_figures(session, provider_slug="beta", reference=reference, actor="t")


def test_migration_0008_keeps_existing_systems_confidential(tmp_path: Path) -> None:
    """A populated SQLite database gains the column in place (no table copy: foreign keys point at
    ai_system), every existing system confidential."""
    import sqlalchemy as sa

    from tracker.store import migrate
    from tracker.store.db import make_engine

    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate.upgrade(url, "0007")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO provider (id, slug, name, created_at) VALUES (1, 'acme', 'Acme', "
                             "'2026-01-01 00:00:00')")
        conn.exec_driver_sql("INSERT INTO ai_system (id, provider_id, name, version, created_at) VALUES "
                             "(1, 1, 'base', '', '2026-01-01 00:00:00'), (2, 1, 'ft', '', '2026-01-01 00:00:00')")
        conn.exec_driver_sql("UPDATE ai_system SET base_system_id = 1 WHERE id = 2")
        conn.exec_driver_sql("INSERT INTO system_match (system_id, public_name_key, created_at) VALUES "
                             "(1, 'base', '2026-01-01 00:00:00')")  # a row of another table pointing at it
    migrate.upgrade(url)
    with Session(engine) as session:
        assert [s.figures_public for s in session.exec(select(AISystem).order_by(sa.column("id"))).all()] == [
            False, False]
    engine.dispose()
