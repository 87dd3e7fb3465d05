"""Every command's --help names values (SLUG, FILE, json|table), never Python types, and lists only
the formats the command takes."""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from tracker.cli import audit, registry
from tracker.cli.main import app

runner = CliRunner()
# What typer shows when nobody names the value: <str>, <bool>, <list[Path]>, <float range> [x>=0.1] ...
TYPE_HINT = re.compile(r"(?<![\w:])<(str|bool|int|float|path|Path|float range|int range)>|<list\["
                       r"|\[x[<>]=|default: None\]|\b(TEXT|INTEGER|FLOAT|BOOLEAN)\b")


def _paths(command: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        found += _paths(sub, (*prefix, name))
    return found


COMMAND_PATHS = _paths(typer.main.get_command(app))


@functools.cache
def _help(path: tuple[str, ...]) -> str:
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "80", "TERMINAL_WIDTH": "80"})
    assert result.exit_code == 0, (path, result.output, result.exception)
    return result.output


def test_the_tree_is_walked() -> None:
    # Guards the parametrization below: a broken walk would check nothing.
    assert {("systems",), ("estimate",), ("registrations", "decide"), ("certificate", "keys", "list"),
            ("demo",), ("audit", "export")} <= set(COMMAND_PATHS)


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=lambda p: " ".join(p) or "tracker")
def test_help_shows_no_python_types(path: tuple[str, ...]) -> None:
    text = _help(path)
    assert not TYPE_HINT.search(text), text
    assert "{" not in text.split("\n", 3)[1]  # the usage line names arguments FILE, not {file}
    assert all(len(line) <= 80 for line in text.splitlines()), text


def _format_option(text: str) -> tuple[set[str], str]:
    """The choices shown beside --format, and the help text after them."""
    line = next(line for line in text.splitlines() if "--format" in line)
    match = re.search(r"--format\s+([a-z|]+)", line)
    assert match, line
    return set(match.group(1).split("|")), line[match.end():].lower()


def _format_choices(text: str) -> set[str]:
    return _format_option(text)[0]


@pytest.mark.parametrize(("path", "enum"), [
    (("systems",), registry.Format), (("estimate",), registry.EstimateFormat),
    (("audit", "export"), audit.ExportFormat),
])
def test_format_choices_are_the_enums(path: tuple[str, ...], enum: type[StrEnum]) -> None:
    assert _format_choices(_help(path)) == {member.value for member in enum}


def test_every_format_option_lists_exactly_what_it_accepts() -> None:
    checked = 0
    for path in COMMAND_PATHS:
        text = _help(path)
        if "--format" not in text:
            continue
        choices, words = _format_option(text)
        assert choices <= {"json", "table", "csv", "jsonl"}, (path, choices)
        # The help must not promise a format the option refuses: each format it names is accepted.
        for fmt in {"json", "table", "csv", "jsonl"} - choices:
            assert not re.search(rf"\b{fmt}\b", words), (path, words)
        checked += 1
    assert checked >= 8


def test_estimate_refuses_csv_as_its_help_says(tmp_path: Any) -> None:
    sample = tmp_path / "run.csv"
    sample.write_text("system,run_id,reported_flop\nacme-lm,r1,3.8e25\n", encoding="utf-8")
    result = runner.invoke(app, ["estimate", str(sample), "--format", "csv"])
    assert result.exit_code == 2 and "csv" in result.output
    assert "json|table" in _help(("estimate",)) and "json|table|csv" not in _help(("estimate",))


def test_demo_help_names_port_and_verbose() -> None:
    text = _help(("demo",))
    assert re.search(r"--port\s+PORT", text) and "--verbose" in text and "-v" in text


@pytest.mark.parametrize(("args", "expected"), [
    (["systems", "--format", "xml"], "Invalid value for '--format'"),
    (["estimate", "run.csv", "--format", "csv"], "'csv' is not one of 'json', 'table'"),
    (["ingest"], "Missing argument 'FILE'"),
])
def test_the_console_script_answers_a_usage_error_with_usage_and_exit_2(
        args: list[str], expected: str, tmp_path: Any) -> None:
    (tmp_path / "run.csv").write_text("system,run_id,reported_flop\nacme-lm,r1,3.8e25\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", "from tracker.cli.main import run; run()", *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert done.returncode == 2, done.stderr
    assert expected in done.stderr and "Usage: " in done.stderr and "Traceback" not in done.stderr
