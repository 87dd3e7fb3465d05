"""Bad input the corpus cannot hold: a 200 MB upload, workbooks with many sheets or a zip bomb, mixed
encodings over HTTP, formula and markup text, path-traversal names, and random registry inputs.

For each: the message the filer gets, proof that nothing was stored, and that the service keeps
working (the next good file is accepted). The corpus cases themselves run in
tests/filing/test_filing_corpus.py (``mixed_utf8_latin1_line.csv`` was added to it here).
"""

from __future__ import annotations

import base64
import csv
import io
import json
import math
import select
import socket
import subprocess
import sys
import textwrap
import time
import zipfile
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import polars as pl
import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlmodel import Session
from sqlmodel import select as sql_select
from typer.testing import CliRunner

from tests.filing.conftest import CORPUS, filings, record_counts
from tests.reliability.conftest import callback, sign_in
from tests.reliability.helpers import GOOD_RUNS, ROOT, proc_status_mib, running_server, seed_accounts
from tracker.catalog.accelerators import load_catalog
from tracker.config import Settings, get_settings
from tracker.filing.inbox import poll_inbox
from tracker.filing.parse import parse_disclosure
from tracker.filing.read import MAX_XLSX_UNCOMPRESSED
from tracker.filing.receipts import Receipt, Rejection
from tracker.filing.service import file_disclosure
from tracker.regimes.load import load_regimes
from tracker.registry.compute import compute_registry
from tracker.registry.inputs import CLUSTER_SCHEMA, FLAG_SCHEMA, RUN_SCHEMA, SYSTEM_SCHEMA, USAGE_SCHEMA, RegistryInputs
from tracker.store.db import get_engine
from tracker.store.models import AISystem, ComputeCluster, TrainingRun

MIB = 1024 * 1024
CLUSTERS_HEADER = ["cluster_id", "accelerator", "accelerator_count"]


def _file(engine: Engine, content: bytes, filename: str, kind: str | None = "training_runs",
          provider: str = "acme") -> Receipt | Rejection:
    return file_disclosure(engine, content=content, filename=filename, kind=kind, provider_slug=provider,
                           filed_by="test", channel="cli")


def _assert_next_good_file_is_accepted(engine: Engine, n: int) -> None:
    outcome = _file(engine, f"system,run_id,reported_flop\nnext-lm,next-{n},1e24\n".encode(), "next.csv")
    assert isinstance(outcome, Receipt) and not outcome.duplicate, outcome


# --- 200 MB over HTTP ------------------------------------------------------------------------

def _stream_post(port: int, token: str, total: int, *, chunked: bool) -> tuple[bytes, int]:
    """POST a multipart upload of ``total`` bytes generated on the fly (never held in memory), as a
    client that stops sending once the server answers. Returns the response head and bytes sent."""
    boundary = "reliability-boundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\ntraining_runs\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"huge.csv\"\r\n"
            "Content-Type: text/csv\r\n\r\nsystem,run_id,reported_flop\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    length = "Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {total}\r\n"
    request = (f"POST /api/v1/disclosures HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
               f"Content-Type: multipart/form-data; boundary={boundary}\r\n{length}Connection: close\r\n\r\n").encode()

    def frame(data: bytes) -> bytes:
        return f"{len(data):x}\r\n".encode() + data + b"\r\n" if chunked else data

    row = b"acme-lm,r1,1e24\n"
    block = row * (MIB // len(row))
    sent = 0
    response = b""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request + frame(head))
        sent += len(head)
        answered = False
        while sent < total - len(tail):
            if select.select([sock], [], [], 0.005)[0]:
                answered = True
                break
            piece = block[: min(len(block), total - len(tail) - sent)]
            try:
                sock.sendall(frame(piece))
            except (BrokenPipeError, ConnectionResetError):
                answered = True
                break
            sent += len(piece)
        if not answered:
            sock.sendall(frame(tail) + (b"0\r\n\r\n" if chunked else b""))
            sent += len(tail)
        sock.settimeout(30)
        try:
            while b"\r\n\r\n" not in response:
                data = sock.recv(65536)
                if not data:
                    break
                response += data
        except ConnectionResetError:
            pass
    return response, sent


def test_a_200_mb_upload_gets_413_without_being_read_and_the_server_keeps_serving(
        sqlite_url: str, tmp_path: Path) -> None:
    from tracker.store.db import make_engine

    engine = make_engine(sqlite_url)
    token = seed_accounts(engine, ["acme"], regulator=None)["acme"][0]
    cap = Settings.model_fields["max_upload_bytes"].default  # the production default: 50 MiB
    with running_server(sqlite_url, tmp_path / "runtime", cli=True) as server:
        port = int(server.url.rsplit(":", 1)[1])
        import requests

        # Warm up (first request loads the app's lazy parts) so the memory baseline is fair.
        assert requests.get(f"{server.url}/api/v1/openapi.json", timeout=30).status_code == 200
        baseline = proc_status_mib(server.pid, "VmRSS")
        started = time.monotonic()
        head, sent = _stream_post(port, token, 200 * MIB, chunked=False)
        declared_s = time.monotonic() - started
        assert head.startswith(b"HTTP/1.1 413"), head[:300]
        # Refused on the declared length: far less than the 200 MB went out before the answer.
        assert sent < 50 * MIB, sent
        # Without a declared length (chunked) the server reads up to the cap, spooled to disk.
        head, sent = _stream_post(port, token, 200 * MIB, chunked=True)
        assert head.startswith(b"HTTP/1.1 413"), head[:300]
        assert cap <= sent < 200 * MIB
        peak = proc_status_mib(server.pid, "VmHWM")
        assert peak - baseline < 40, f"server memory grew from {baseline:.0f} to {peak:.0f} MiB"
        assert server.alive()
        ok = requests.post(f"{server.url}/api/v1/disclosures", headers={"Authorization": f"Bearer {token}"},
                           data={"kind": "training_runs"}, files={"file": ("runs.csv", GOOD_RUNS)}, timeout=30)
        assert ok.status_code == 201, ok.text
    assert declared_s < 10
    stored = filings(engine)
    assert [(f.status, f.filename) for f in stored] == [("accepted", "runs.csv")]  # nothing from the 413s
    engine.dispose()


# --- XLSX: many sheets, zip bomb ----------------------------------------------------------

def _workbook(sheets: Sequence[tuple[str, Sequence[Sequence[object]]]]) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    for name, rows in sheets:
        sheet = book.add_worksheet(name)
        for r, row in enumerate(rows):
            sheet.write_row(r, 0, row)
    book.close()
    return buffer.getvalue()


SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the reader does not touch the DB


@SQLITE_ONLY
def test_a_workbook_with_500_sheets_is_read_from_its_first_sheet_only(engine: Engine) -> None:
    rows: list[list[object]] = [list(CLUSTERS_HEADER), ["c1", "H100", 8], ["c2", "B200", 16]]
    first = ("disclosure", rows)
    others = [(f"s{i}", [["not", "a", "disclosure"], ["=1+1", "-8", "abc"]] * 20) for i in range(499)]
    content = _workbook([first, *others])
    assert len(zipfile.ZipFile(io.BytesIO(content)).infolist()) > 500
    started = time.monotonic()
    outcome = _file(engine, content, "many.xlsx", kind="clusters")
    elapsed = time.monotonic() - started
    assert isinstance(outcome, Receipt), outcome
    assert outcome.records == 2 and outcome.format == "xlsx"
    assert elapsed < 10, f"filing a 500-sheet workbook took {elapsed:.1f}s"
    parsed = parse_disclosure(content, "many.xlsx", "clusters")
    assert parsed.records["cluster_id"].to_list() == ["c1", "c2"]


def _zip_bomb(inflated_mib: int) -> bytes:
    """A valid one-row clusters workbook whose sheet XML is padded with rows to ``inflated_mib``."""
    plain = _workbook([("d", [CLUSTERS_HEADER, ["c1", "H100", 8]])])
    source = zipfile.ZipFile(io.BytesIO(plain))
    out = io.BytesIO()
    row = b'<row r="3"><c r="A3" t="inlineStr"><is><t>padding padding padding padding</t></is></c></row>'
    block = row * (MIB // len(row))
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bomb:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename != "xl/worksheets/sheet1.xml":
                bomb.writestr(info.filename, data)
                continue
            head, _, rest = data.partition(b"</row></sheetData>")
            with bomb.open(info.filename, "w", force_zip64=True) as sheet:
                sheet.write(head + b"</row>")
                for _ in range(inflated_mib):
                    sheet.write(block)
                sheet.write(b"</sheetData>" + rest)
    return out.getvalue()


@pytest.fixture(scope="module")
def zip_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bomb") / "bomb.xlsx"
    path.write_bytes(_zip_bomb(300))
    return path


@SQLITE_ONLY
def test_an_xlsx_zip_bomb_is_rejected_before_it_is_inflated(engine: Engine, zip_bomb: Path) -> None:
    content = zip_bomb.read_bytes()
    inflated = sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(content)).infolist())
    assert len(content) < 2 * MIB and inflated > 290 * MIB  # small upload, hundreds of MB inside
    before = record_counts(engine)
    outcome = _file(engine, content, "bomb.xlsx", kind="clusters")
    assert isinstance(outcome, Rejection)
    (problem,) = outcome.errors
    assert str(problem).startswith(f"file: the workbook decompresses to {inflated / MIB:,.0f} MiB, above the "
                                   "limit of 100 MiB (a compressed 'zip bomb'?)")
    assert record_counts(engine) == before
    assert [f.status for f in filings(engine)] == ["rejected"]
    _assert_next_good_file_is_accepted(engine, 1)


def test_the_zip_bomb_check_bounds_memory_and_time(zip_bomb: Path) -> None:
    """In a fresh process (so the peak is this parse's): under 30 MiB and 2 s more than the imports.
    Without the check the same file took 5 s and +320 MiB (measured before the fix)."""
    script = textwrap.dedent("""
        import json, sys, time
        from pathlib import Path
        from tracker.filing.parse import parse_disclosure
        from tracker.filing.problems import DisclosureRejected
        def peak():
            return next(int(l.split()[1]) for l in Path('/proc/self/status').read_text().splitlines()
                        if l.startswith('VmHWM')) / 1024
        content = Path(sys.argv[1]).read_bytes()
        before, started = peak(), time.monotonic()
        try:
            parse_disclosure(content, 'bomb.xlsx', 'clusters')
            problems = []
        except DisclosureRejected as exc:
            problems = [str(p) for p in exc.problems]
        print(json.dumps({'grew': peak() - before, 's': time.monotonic() - started, 'problems': problems}))
    """)
    done = subprocess.run([sys.executable, "-c", script, str(zip_bomb)], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["problems"] and "decompresses to" in result["problems"][0]
    assert result["grew"] < 30 and result["s"] < 2, result


@SQLITE_ONLY
def test_a_workbook_just_under_the_limit_is_still_read(engine: Engine) -> None:
    content = _zip_bomb(8)  # 8 MiB of padding rows: big but ordinary
    assert sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(content)).infolist()) < MAX_XLSX_UNCOMPRESSED
    outcome = _file(engine, content, "padded.xlsx", kind="clusters")
    # Parsed: the padding (one sheet row holding only column A) reaches validation, proving the check
    # let an ordinary-sized workbook through.
    assert isinstance(outcome, Rejection)
    assert str(outcome.errors[0]) == "row 2, accelerator: is empty; expected text of at most 128 characters"


# --- the HTTP API: encodings, markup, traversal --------------------------------------------

def _api_token(engine: Engine) -> str:
    return seed_accounts(engine, ["acme"], regulator=None)["acme"][0]


def _post(client: Any, token: str, content: bytes, filename: str, kind: str = "training_runs") -> Any:
    return client.post("/api/v1/disclosures", headers={"Authorization": f"Bearer {token}"},
                       data={"kind": kind, "file": (io.BytesIO(content), filename)},
                       content_type="multipart/form-data")


def test_mixed_encoding_over_the_api_names_the_line_and_stores_nothing(app: Any) -> None:
    engine = get_engine()
    token = _api_token(engine)
    client = app.test_client()
    content = (CORPUS / "invalid" / "mixed_utf8_latin1_line.csv").read_bytes()
    response = _post(client, token, content, "mixed.csv")
    assert response.status_code == 400 and response.content_type == "application/json"
    (error,) = response.json["errors"]
    assert error["message"] == ("text is not UTF-8: byte 0xf1 at byte offset 190 (line 5, data row 4 when no "
                                "cell spans lines); expected UTF-8 text (in Excel: Save As 'CSV UTF-8')")
    assert record_counts(engine)["training_run"] == 0
    assert [f.status for f in filings(engine)] == ["rejected"]
    assert _post(client, token, content.replace("Señal".encode("latin-1"), "Señal".encode()), "fixed.csv"
                 ).status_code == 201


def test_markup_in_names_is_echoed_as_json_data_not_markup(app: Any) -> None:
    engine = get_engine()
    token = _api_token(engine)
    client = app.test_client()
    script = "<script>alert(1)</script>"
    filename = "<img src=x onerror=alert(1)>.csv"
    accepted = _post(client, token, f"system,run_id,reported_flop\n{script},r1,1e24\n".encode(), filename)
    assert accepted.status_code == 201
    assert accepted.content_type == "application/json"
    assert accepted.headers["X-Content-Type-Options"] == "nosniff"
    assert accepted.json["filename"] == filename  # the text itself, as a JSON string
    with Session(engine) as session:
        assert session.exec(sql_select(AISystem.name)).all() == [script]
    rejected = _post(client, token, f"system,run_id,accelerator_count,reported_flop\na,r2,{script},1e24\n".encode(),
                     "bad.csv")
    assert rejected.status_code == 400 and rejected.content_type == "application/json"
    assert any(script in e["message"] for e in rejected.json["errors"]), rejected.json
    receipt = client.get(f"/api/v1/disclosures/{rejected.json['accession']}",
                         headers={"Authorization": f"Bearer {token}"})
    assert receipt.content_type == "application/json" and script in receipt.text
    assert not receipt.text.lstrip().startswith("<")


def _tree(root: Path, skip: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and not p.is_symlink() and not p.is_relative_to(skip)
            and not p.name.startswith("tracker.db")}  # the SQLite test database lives here too


def test_path_traversal_names_never_leave_the_configured_folders(app: Any, settings_env: Path,
                                                                 tmp_path: Path) -> None:
    engine = get_engine()
    outside = tmp_path / "etc"
    outside.mkdir()
    (outside / "passwd.csv").write_bytes(b"cluster_id,accelerator,accelerator_count\nsecret,H100,8\n")
    before = _tree(tmp_path, settings_env)
    token = _api_token(engine)
    via_api = _post(app.test_client(), token, b"cluster_id,accelerator,accelerator_count\nc1,H100,8\n",
                    "../../etc/passwd.csv", kind="clusters")
    assert via_api.status_code == 201 and via_api.json["filename"] == "passwd.csv"
    kind_dir = settings_env / "inbox" / "acme" / "clusters"
    kind_dir.mkdir(parents=True)
    # Backslashes are ordinary characters in a POSIX file name: a Windows-style traversal. One that
    # starts with '.' counts as hidden (still being written) and is left in the inbox.
    (kind_dir / "in\\..\\..\\..\\etc\\passwd.csv").write_bytes(b"cluster_id,accelerator,accelerator_count\nc2,H100,8\n")
    hidden = kind_dir / "..\\..\\etc\\passwd.csv"
    hidden.write_bytes(b"cluster_id,accelerator,accelerator_count\nc3,H100,8\n")
    (kind_dir / "link.csv").symlink_to(outside / "passwd.csv")  # a link out of the inbox: never followed
    (settings_env / "inbox" / "evil").symlink_to(outside, target_is_directory=True)
    results = poll_inbox(engine, get_settings(), min_age_s=0)
    assert len(results) == 1 and isinstance(results[0].outcome, Receipt)
    destination = results[0].destination
    assert destination is not None and destination.parent == settings_env / "archive" / "acme" / "clusters"
    assert destination.name == f"{results[0].outcome.accession}__passwd.csv"
    assert _tree(tmp_path, settings_env) == before  # nothing outside the runtime folders changed
    assert (kind_dir / "link.csv").is_symlink() and hidden.is_file()  # left alone
    stored = filings(engine)
    assert [f.filename for f in stored] == ["passwd.csv", "passwd.csv"]
    assert all(f.stored_path is None or Path(f.stored_path).is_relative_to(settings_env / "archive") for f in stored)
    with Session(engine) as session:  # the file behind the symbolic links was never read
        assert sorted(session.exec(sql_select(ComputeCluster.cluster_id)).all()) == ["c1", "c2"]


# --- formulas: stored verbatim, neutralised on every export --------------------------------

FORMULA_NAMES = ['=HYPERLINK("http://evil.example","click")', "+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0",
                 "-2+3+cmd|' /C calc'!A0"]


def test_formula_text_is_stored_verbatim_and_neutralised_in_every_export(app: Any) -> None:
    engine = get_engine()
    seed_accounts(engine, ["acme"])
    outcome = _file(engine, (CORPUS / "valid" / "formula_names.csv").read_bytes(), "formula_names.csv")
    assert isinstance(outcome, Receipt) and outcome.records == 4
    with Session(engine) as session:
        assert sorted(session.exec(sql_select(AISystem.name)).all()) == sorted(FORMULA_NAMES)
        notes = sorted(n or "" for n in session.exec(sql_select(TrainingRun.notes)).all())
        assert notes == ["-2+3", "=1+1", "@SUM(A1:A2)", "plain"]
    neutralised = sorted("'" + name for name in FORMULA_NAMES)

    # The dashboard's export button (the real callback, as a signed-in regulator).
    client = app.test_client()
    assert sign_in(client, "reg").status_code == 302
    exported: dict[str, bytes] = {}
    for button in ("sys-export-csv", "sys-export-xlsx"):
        clicks = [{"id": b, "property": "n_clicks", "value": 1 if b == button else None}
                  for b in ("sys-export-csv", "sys-export-xlsx")]
        response = callback(client, "sys-download.data", clicks,
                            [{"id": "systems-grid", "property": "getRowsRequest", "value": None}],
                            changed=f"{button}.n_clicks")
        assert response.status_code == 200, response.text
        exported[button] = base64.b64decode(response.json["response"]["sys-download"]["data"]["content"])
    rows = list(csv.DictReader(io.StringIO(exported["sys-export-csv"].decode("utf-8-sig"))))
    assert sorted(r["system"] for r in rows) == neutralised
    sheet = openpyxl.load_workbook(io.BytesIO(exported["sys-export-xlsx"])).active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    cells = [row[header.index("system")] for row in sheet.iter_rows(min_row=2)]
    assert sorted(str(c.value) for c in cells) == neutralised
    assert all(c.data_type == "s" for row in sheet.iter_rows() for c in row if c.value is not None
               and isinstance(c.value, str))  # no formula cell anywhere

    # The CLI: tracker systems --format csv.
    from tracker.cli.main import app as cli

    result = CliRunner().invoke(cli, ["systems", "--format", "csv"])
    assert result.exit_code == 0, result.output
    cli_rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert sorted(r["system"] for r in cli_rows) == neutralised
    assert not any(v.startswith(("=", "+", "-", "@")) for r in cli_rows for v in r.values() if v)


# --- property: registry compute over random small frames ------------------------------------

CATALOG = load_catalog()
REGIMES = load_regimes()
CHIPS = ["NVIDIA H100 SXM5", "NVIDIA A100 SXM4 80GB", "Google TPU v5p", "AMD Instinct MI300X", None]
maybe_positive = st.one_of(st.none(), st.floats(min_value=1e-3, max_value=1e7, allow_nan=False))
maybe_big = st.one_of(st.none(), st.floats(min_value=1.0, max_value=1e15, allow_nan=False))
maybe_flop = st.one_of(st.none(), st.floats(min_value=1.0, max_value=1e29, allow_nan=False))
maybe_date = st.one_of(st.none(), st.dates(min_value=date(2018, 1, 1), max_value=date(2027, 12, 31)))
RUN = st.fixed_dictionaries({
    "system": st.integers(0, 3), "base": st.one_of(st.none(), st.integers(0, 3)),
    "stage": st.sampled_from(["pretraining", "fine_tuning", "rl", "other"]),
    "status": st.sampled_from(["completed", "in_progress", "planned"]),
    "accelerator": st.sampled_from(CHIPS), "accelerator_count": maybe_positive, "training_hours": maybe_positive,
    "chip_hours": maybe_big, "start_date": maybe_date, "end_date": maybe_date,
    "precision": st.sampled_from([None, "bf16", "fp8", "fp32", "fp16"]),
    "utilization": st.one_of(st.none(), st.floats(min_value=0.01, max_value=1.0)),
    "parameters": maybe_big, "active_fraction": st.one_of(st.none(), st.floats(0.01, 1.0)),
    "training_tokens": maybe_big, "reported_flop": maybe_flop,
})
USAGE = st.fixed_dictionaries({
    "system": st.integers(0, 3), "day": st.integers(0, 300), "days": st.integers(1, 31),
    "input_tokens": maybe_big, "output_tokens": maybe_big, "requests": maybe_big,
    "mean_context_tokens": maybe_positive, "accelerator": st.sampled_from(CHIPS),
    "accelerator_hours": maybe_positive, "utilization": st.one_of(st.none(), st.floats(0.01, 1.0)),
})


def _inputs(runs: list[dict[str, Any]], usage: list[dict[str, Any]]) -> RegistryInputs:
    systems = pl.DataFrame([{"system_key": f"s{i}", "base_system_key": None, "provider_id": 1, "provider": "p",
                             "name": f"s{i}", "version": "", "is_downstream_modifier": False} for i in range(4)],
                           schema=SYSTEM_SCHEMA)
    run_rows = []
    for n, r in enumerate(runs):
        # Bases only point at lower-numbered systems: lineage is a forest, as the filing rules ensure.
        base = f"s{r['base']}" if r["base"] is not None and r["base"] < r["system"] else None
        active = r["parameters"] * r["active_fraction"] if r["parameters"] and r["active_fraction"] else None
        run_rows.append({**{k: r[k] for k in RUN_SCHEMA if k in r}, "run_key": f"r{n}", "system_key": f"s{r['system']}",
                         "base_system_key": base, "active_parameters": active})
    usage_rows = [{**{k: u[k] for k in USAGE_SCHEMA if k in u}, "system_key": f"s{u['system']}",
                   "period_start": date.fromordinal(date(2026, 1, 1).toordinal() + u["day"]),
                   "period_end": date.fromordinal(date(2026, 1, 1).toordinal() + u["day"] + u["days"] - 1)}
                  for u in usage]
    return RegistryInputs(systems=systems, runs=pl.DataFrame(run_rows, schema=RUN_SCHEMA),
                          usage=pl.DataFrame(usage_rows, schema=USAGE_SCHEMA),
                          clusters=pl.DataFrame(schema=CLUSTER_SCHEMA), previous_flags=pl.DataFrame(schema=FLAG_SCHEMA))


def _check_intervals(frame: pl.DataFrame, where: str) -> None:
    for column in frame.columns:
        if not column.endswith("_central"):
            continue
        stem = column.removesuffix("_central")
        for name in (column, f"{stem}_low", f"{stem}_high"):
            if name in frame.columns and frame.schema[name].is_numeric():
                values = [v for v in frame[name].to_list() if v is not None]
                assert all(math.isfinite(v) and v >= 0 for v in values), (where, name, values)
        if f"{stem}_low" in frame.columns and f"{stem}_high" in frame.columns:
            for c, lo, hi in frame.select(column, f"{stem}_low", f"{stem}_high").iter_rows():
                if c is None:
                    continue
                assert lo is None or lo <= c * (1 + 1e-9), (where, stem, lo, c, hi)
                assert hi is None or c <= hi * (1 + 1e-9), (where, stem, lo, c, hi)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs=st.lists(RUN, max_size=6), usage=st.lists(USAGE, max_size=4))
def test_registry_compute_never_yields_nan_inf_or_unordered_intervals(runs: list[dict[str, Any]],
                                                                       usage: list[dict[str, Any]]) -> None:
    result = compute_registry(_inputs(runs, usage), CATALOG, REGIMES, date(2026, 11, 27))
    _check_intervals(result.run_estimates, "runs")
    _check_intervals(result.systems, "systems")
    _check_intervals(result.inference_periods, "inference periods")
    flags = result.evaluation.flags
    for name in ("value_central", "value_low", "value_high"):
        if name in flags.columns:
            assert all(math.isfinite(v) for v in flags[name].to_list() if v is not None), name
    assert set(flags["status"].to_list()) <= {"above", "likely_above", "likely_below", "below", "unknown"}


def test_the_property_strategy_reaches_every_method() -> None:
    """Guards the property test against a strategy that silently never produces estimates."""
    runs = [{"system": 1, "base": 0, "stage": "pretraining", "status": "completed", "accelerator": CHIPS[0],
             "accelerator_count": 1000.0, "training_hours": 100.0, "chip_hours": None, "start_date": None,
             "end_date": None, "precision": None, "utilization": None, "parameters": 1e9, "active_fraction": None,
             "training_tokens": 1e12, "reported_flop": 1e22}]
    result = compute_registry(_inputs(runs, []), CATALOG, REGIMES, date(2026, 11, 27))
    estimates = result.run_estimates.row(0, named=True)
    assert all(estimates[f"{m}_flop_central"] for m in ("hardware", "architecture", "reported"))
    assert result.systems.filter(pl.col("system_key") == "s1")["training_flop_central"].item() > 0
