"""Tables for people in a terminal: readable at 80 columns, figures never broken across lines.

Every CLI table is printed here. Figure and date columns are as wide as their widest value and
never wrap, so ``3.8 × 10²⁵`` and ``2026-12-04 04:05`` always read whole; text columns (names,
regimes, states) share what is left and wrap at spaces. The width is the terminal's (``COLUMNS``
when set; 80 for a pipe), so a narrow terminal gets a narrow table instead of a cropped one.
Regimes are shown by name; their ids stay in the JSON output.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from sqlmodel import Session

from tracker.units import UNKNOWN, format_datetime, format_flop, format_scientific

GAP = 2  # between two columns: two spaces, no rule
MIN_TEXT_WIDTH = 8
WORD_WIDTH = 16  # a text column is never narrower than its longest word, up to this


@dataclass(frozen=True)
class Column:
    header: str
    figure: bool = False  # a number or a date: its column is never narrower than its values
    ratio: int = 1  # a text column's share of the width the figures leave
    right: bool = False


def console() -> Console:
    # No fixed width: rich reads the terminal (or COLUMNS); a pipe gets 80 columns.
    return Console(file=sys.stdout)


def _lines_width(text: str) -> int:
    return max((cell_len(line) for line in text.splitlines()), default=0)


def _longest_word(text: str) -> int:
    return max((cell_len(word) for word in text.split()), default=0)


def _natural(columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> list[int]:
    return [max([_lines_width(row[i]) for row in rows] + [_longest_word(c.header)]) for i, c in enumerate(columns)]


def column_widths(columns: Sequence[Column], rows: Sequence[Sequence[str]], total: int) -> list[int]:
    """Each column's width on a ``total``-wide terminal: figures their widest value, text columns
    their natural width when everything fits, else a share of the rest by ratio."""
    natural = _natural(columns, rows)
    widths = list(natural)
    room = total - GAP * (len(columns) - 1) - sum(w for w, c in zip(natural, columns, strict=True) if c.figure)
    text = [i for i, c in enumerate(columns) if not c.figure]
    if sum(natural[i] for i in text) <= room:
        return widths
    # Water-filling: a column narrower than its share keeps its natural width, one whose longest word
    # is wider than its share keeps that word whole; the others split what remains by ratio.
    least = {i: max(MIN_TEXT_WIDTH, min(WORD_WIDTH, max(_longest_word(row[i]) for row in rows) if rows else 0))
             for i in text}
    if sum(least.values()) > room:  # a very narrow terminal: cut words rather than figures
        least = dict.fromkeys(text, MIN_TEXT_WIDTH)
    pending = list(text)
    while pending:
        share = room / sum(columns[i].ratio for i in pending)
        done = {i: natural[i] for i in pending if natural[i] <= share * columns[i].ratio} or \
            {i: least[i] for i in pending if least[i] >= share * columns[i].ratio}
        if not done:
            for i in pending:
                widths[i] = math.floor(share * columns[i].ratio)
            break
        for i, width in done.items():
            widths[i] = width
            room -= width
            pending.remove(i)
    return widths


def print_table(title: str | None, columns: Sequence[Column], rows: Sequence[Sequence[str]],
                *, out: Console | None = None) -> None:
    out = out or console()
    widths = column_widths(columns, rows, out.width)
    # A blank line between rows once a cell takes two lines, so each row reads as one block.
    spaced = any("\n" in cell for row in rows for cell in row) or widths != _natural(columns, rows)
    table = Table(title=title, box=None, pad_edge=False, padding=(0, 1), title_justify="left",
                  header_style="bold")
    for column, width in zip(columns, widths, strict=True):
        table.add_column(column.header, width=width, no_wrap=column.figure,
                         overflow="ellipsis" if column.figure else "fold",
                         justify="right" if column.right else "left")
    for number, row in enumerate(rows):
        if spaced and number:
            table.add_row(*([""] * len(columns)))
        table.add_row(*row)
    out.print(table)


def interval_text(low: float | None, high: float | None) -> str:
    """A 90% interval as narrow as it reads: ``3.0–4.7 × 10²⁵`` when both bounds share an
    exponent, else one bound a line (``4.2 × 10²⁴ –`` over ``2.7 × 10²⁵``); ``—`` when unknown."""
    if low is None or high is None:
        return UNKNOWN
    low_text, high_text = format_scientific(low), format_scientific(high)
    low_mantissa, _, low_power = low_text.partition(" × 10")
    high_mantissa, _, high_power = high_text.partition(" × 10")
    if low_power and low_power == high_power:
        return f"{low_mantissa}–{high_mantissa} × 10{high_power}"
    return f"{low_text} –\n{high_text}"


def instant_text(value: datetime | date | str | None) -> str:
    """``2026-12-04 04:05 UTC`` as two lines (day over time): a date column 10 characters wide."""
    return format_datetime(value).replace(" ", "\n", 1)


def flop_text(value: float | None) -> str:
    """A compute figure without its unit (the title or header names it)."""
    return format_flop(value, unit="")


def regime_names(session: Session | None, regime_ids: Iterable[str]) -> dict[str, str]:
    """``{id: name}`` for the regimes given: the names the dashboard shows (the id when unnamed)."""
    from tracker.store.queries import regime_labels

    wanted = [rid for rid in regime_ids if rid]
    found = regime_labels.regime_names(session, wanted) if session is not None else {}
    return {rid: found.get(rid) or regime_labels.regime_name(rid) for rid in wanted}
