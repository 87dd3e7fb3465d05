"""Files that cost the server more than their size: a header of 250k columns in every format, and a
workbook whose zip headers under-declare what it inflates to (issue 15)."""

from __future__ import annotations

import io
import json
import struct
import time
import zipfile
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter

from tracker.filing.header import MAX_SUGGESTIONS
from tracker.filing.kinds import INFERENCE_USAGE
from tracker.filing.parse import parse_disclosure, parse_disclosure_file
from tracker.filing.problems import DisclosureRejected
from tracker.filing.read import MAX_COLUMNS, MAX_XLSX_UNCOMPRESSED

MIB = 2**20
WIDE = 250_000
CAP_MESSAGE = (f"header: the header has {WIDE + 3:,} columns, above the limit of {MAX_COLUMNS:,}; expected the "
               "kind's columns only (at most twenty)")


def problems(parse: object) -> list[str]:
    with pytest.raises(DisclosureRejected) as caught:
        parse()  # type: ignore[operator]
    return [str(p) for p in caught.value.problems]


def _timed_problems(parse: object) -> tuple[list[str], float]:
    started = time.monotonic()
    found = problems(parse)
    return found, time.monotonic() - started


def wide_names() -> list[str]:
    return ["system", "run_id", "reported_flop", *[f"junk_column_{i}" for i in range(WIDE)]]


def test_a_csv_header_of_250k_unknown_columns_is_refused_before_any_per_column_work() -> None:
    names = wide_names()
    content = (",".join(names) + "\n" + "a,r1,1e24" + "," * WIDE + "\n").encode()
    assert len(content) > 4 * MIB
    found, seconds = _timed_problems(lambda: parse_disclosure(content, "wide.csv", "training_runs"))
    assert found == [CAP_MESSAGE]
    assert seconds < 2, f"{seconds:.1f} s (19 s before the cap, for a 2.9 MB header)"


def test_a_json_record_with_250k_keys_is_refused() -> None:
    record = dict.fromkeys(wide_names(), "1")
    content = json.dumps([{"system": "a", "run_id": "r1", "reported_flop": "1e24"}, record]).encode()
    found, seconds = _timed_problems(lambda: parse_disclosure(content, "wide.json", "training_runs"))
    assert found == [CAP_MESSAGE] and seconds < 5


@pytest.mark.parametrize("fmt", ["parquet", "xlsx"])
def test_a_binary_file_with_too_many_columns_is_refused(tmp_path: Path, fmt: str) -> None:
    width = MAX_COLUMNS + 1  # XLSX: a sheet holds at most 16,384 columns
    names = ["system", "run_id", "reported_flop", *[f"junk_{i}" for i in range(width - 3)]]
    buffer = io.BytesIO()
    if fmt == "parquet":
        pl.DataFrame({n: ["1"] for n in names}).write_parquet(buffer)
    else:
        book = xlsxwriter.Workbook(buffer, {"in_memory": True})
        sheet = book.add_worksheet()
        sheet.write_row(0, 0, names)
        sheet.write_row(1, 0, ["a", "r1", 1e24])
        book.close()
    found = problems(lambda: parse_disclosure(buffer.getvalue(), f"wide.{fmt}", "training_runs"))
    assert found == [f"header: the header has {width:,} columns, above the limit of {MAX_COLUMNS:,}; expected "
                     "the kind's columns only (at most twenty)"]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_the_large_file_route_refuses_too_many_columns_too(tmp_path: Path, fmt: str) -> None:
    names = ["system", "period_start", "period_end", "input_tokens", *[f"junk_{i}" for i in range(5000)]]
    path = tmp_path / f"usage.{fmt}"
    if fmt == "csv":
        path.write_text(",".join(names) + "\n" + "a,2026-01-01,2026-01-31,5" + "," * 5000 + "\n")
    else:
        pl.DataFrame({n: ["1"] for n in names}).write_parquet(path)
    found = problems(lambda: parse_disclosure_file(path, path.name, INFERENCE_USAGE.name, large_file_bytes=0))
    assert found == [f"header: the header has {len(names):,} columns, above the limit of {MAX_COLUMNS:,}; "
                     "expected the kind's columns only (at most twenty)"]


def test_suggestions_stay_for_typos_and_stop_after_the_first_unknown_columns() -> None:
    typos = ["acclerator", *[f"zz{i}" for i in range(MAX_SUGGESTIONS + 5)], "acclerator_count"]
    content = (",".join(["system", "run_id", "reported_flop", *typos]) + "\na,r1,1e24" + "," * len(typos)
               + "\n").encode()
    found = problems(lambda: parse_disclosure(content, "typos.csv", "training_runs"))
    assert any("unknown column 'acclerator'; did you mean 'accelerator'?" in p for p in found)
    # The last typo comes after MAX_SUGGESTIONS unknown names: named, but not compared.
    last = next(p for p in found if "'acclerator_count'" in p)
    assert "did you mean" not in last and "expected one of system," in last
    # A name no column is near gets no suggestion, and a name of 5,000 characters is not compared.
    long_name = "x" * 5000
    found = problems(lambda: parse_disclosure(f"system,run_id,{long_name}\na,r1,1\n".encode(), "f.csv",
                                              "training_runs"))
    assert any(p.startswith("header: unknown column 'xxxx") and "did you mean" not in p for p in found)


# --- a workbook whose zip headers lie ---------------------------------------------------------------

def _workbook(rows: list[list[object]]) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("d")
    for r, row in enumerate(rows):
        sheet.write_row(r, 0, row)
    book.close()
    return buffer.getvalue()


def _padded(inflated_mib: int) -> bytes:
    """A one-row clusters workbook whose sheet XML is padded with rows to ``inflated_mib`` MiB."""
    source = zipfile.ZipFile(io.BytesIO(_workbook([["cluster_id", "accelerator", "accelerator_count"],
                                                   ["c1", "H100", 8]])))
    row = b'<row r="3"><c r="A3" t="inlineStr"><is><t>padding padding padding padding</t></is></c></row>'
    block = row * (MIB // len(row))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bomb:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename != "xl/worksheets/sheet1.xml":
                bomb.writestr(info.filename, data)
                continue
            head, _, rest = data.partition(b"</row></sheetData>")
            with bomb.open(info.filename, "w") as sheet:
                sheet.write(head + b"</row>")
                for _ in range(inflated_mib):
                    sheet.write(block)
                sheet.write(b"</sheetData>" + rest)
    return out.getvalue()


def under_declared(content: bytes, declared: int = 1024) -> bytes:
    """The same zip with every member's uncompressed size, in its local header and in the central
    directory, rewritten to ``declared`` bytes (what a hostile tool writes)."""
    data = bytearray(content)
    archive = zipfile.ZipFile(io.BytesIO(content))
    for info in archive.infolist():
        local = info.header_offset
        assert data[local:local + 4] == b"PK\x03\x04"
        struct.pack_into("<I", data, local + 22, min(declared, info.file_size))
    central = data.find(b"PK\x01\x02")
    while central != -1:
        size = struct.unpack_from("<I", data, central + 24)[0]
        struct.pack_into("<I", data, central + 24, min(declared, size))
        central = data.find(b"PK\x01\x02", central + 4)
    return bytes(data)


@pytest.fixture(scope="module")
def lying_bomb() -> bytes:
    return under_declared(_padded(257))


def test_a_workbook_under_declaring_its_size_is_refused_by_what_it_inflates_to(lying_bomb: bytes) -> None:
    archive = zipfile.ZipFile(io.BytesIO(lying_bomb))
    declared = sum(i.file_size for i in archive.infolist())
    assert len(lying_bomb) < MIB and declared < MAX_XLSX_UNCOMPRESSED  # passed the declared-size check
    found = problems(lambda: parse_disclosure(lying_bomb, "bomb.xlsx", "clusters"))
    assert found == ["file: the workbook decompresses to more than 100 MiB, above the limit of 100 MiB, though its "
                     "zip headers declare less (a compressed 'zip bomb'?); expected an ordinary workbook: split the "
                     "data or file it as CSV"]


def test_the_inflate_cap_bounds_memory_in_a_fresh_process(lying_bomb: bytes, tmp_path: Path) -> None:
    """Before the fix this file grew the server by 540 MB; now by what one chunk of inflation takes."""
    import subprocess
    import sys
    import textwrap

    path = tmp_path / "bomb.xlsx"
    path.write_bytes(lying_bomb)
    script = textwrap.dedent("""
        import json, sys
        from pathlib import Path
        from tracker.filing.parse import parse_disclosure
        from tracker.filing.problems import DisclosureRejected
        def peak():
            return next(int(l.split()[1]) for l in Path('/proc/self/status').read_text().splitlines()
                        if l.startswith('VmHWM')) / 1024
        content = Path(sys.argv[1]).read_bytes()
        before = peak()
        try:
            parse_disclosure(content, 'bomb.xlsx', 'clusters')
            problems = []
        except DisclosureRejected as exc:
            problems = [str(p) for p in exc.problems]
        print(json.dumps({'grew_mib': peak() - before, 'problems': problems}))
    """)
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["problems"] and "though its zip headers declare less" in result["problems"][0]
    assert result["grew_mib"] < 30, result


def test_an_honest_workbook_under_the_cap_is_still_read() -> None:
    content = _padded(8)
    parsed_problems = problems(lambda: parse_disclosure(content, "padded.xlsx", "clusters"))
    # Read in full: the padding rows (column A only) reach validation.
    assert parsed_problems[0] == "row 2, accelerator: is empty; expected text of at most 128 characters"
    ok = _workbook([["cluster_id", "accelerator", "accelerator_count"], ["c1", "H100", 8]])
    assert parse_disclosure(ok, "ok.xlsx", "clusters").records.height == 1
