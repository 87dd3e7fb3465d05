"""What is wrong with a disclosure file, in the words a provider can act on.

Every problem reads ``row N, column: what is wrong; expected what is right``. ``row`` counts data
records as a person does in the file: the first record under the header is row 1 (in a
spreadsheet that is sheet row 2; in JSON it is the first element of the records array). Problems
with the file as a whole have no row; their location is ``header`` (column names) or ``file``
(encoding, syntax, size).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# Shown when more problems exist than we report: a file with a million bad rows needs the first
# few hundred to be fixed, not a million-line answer.
MAX_PROBLEMS = 200


@dataclass(frozen=True, order=True)
class Problem:
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        if self.row is not None:
            where = f"row {self.row}, {self.column}" if self.column else f"row {self.row}"
        else:
            where = self.column or "file"
        return f"{where}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "message": self.message}

    @classmethod
    def header(cls, message: str) -> Problem:
        return cls(None, "header", message)

    @classmethod
    def file(cls, message: str) -> Problem:
        return cls(None, "file", message)


def _sort_key(p: Problem) -> tuple[int, int, str, str]:
    # File and header problems first, then rows in file order.
    return (0 if p.row is None else 1, p.row or 0, p.column or "", p.message)


class DisclosureRejected(Exception):
    """The only exception readers and validators raise for bad input: every problem at once."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        ordered = sorted(set(problems), key=_sort_key)
        if not ordered:
            raise ValueError("a rejection needs at least one problem")
        self.problems: list[Problem] = ordered
        super().__init__("; ".join(str(p) for p in ordered[:3]) + (" ..." if len(ordered) > 3 else ""))

    @classmethod
    def one(cls, problem: Problem) -> DisclosureRejected:
        return cls([problem])


def sorted_problems(problems: Iterable[Problem]) -> list[Problem]:
    return sorted(set(problems), key=_sort_key)


def truncated(problems: list[Problem], limit: int = MAX_PROBLEMS) -> list[Problem]:
    """At most ``limit`` problems, plus one line saying more exist."""
    ordered = sorted_problems(problems)
    if len(ordered) <= limit:
        return ordered
    return [*ordered[:limit], Problem.file(f"more problems not shown; the first {limit} are listed")]
