"""What the registration services raise, mapped by every channel: rejected input (CLI exit 2, HTTP
400, or 409 when only the state refuses it), a registration the caller may not see (404, worded as
for a missing one), and a concurrent change (409)."""

from __future__ import annotations

from collections.abc import Sequence

from tracker.filing.problems import Problem


class RegistrationRejected(Exception):
    """Input refused: every problem, each naming its field (exit 2 / HTTP 400)."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems[:3]))


class RegistrationNotFound(LookupError):
    """No such registration for this caller (another provider's answers the same: HTTP 404)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "no such registration"


class RegistrationConflict(RuntimeError):
    """The registration changed state while this request was handled (HTTP 409)."""
