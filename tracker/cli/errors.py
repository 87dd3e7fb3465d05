"""How the CLI reports failure: one clear sentence on stderr and a non-zero exit code."""

from __future__ import annotations

import sys
from typing import NoReturn

EXIT_FAILURE = 1
EXIT_REJECTED = 2  # the contract's code for a file that failed validation


class CliError(Exception):
    """An expected failure whose message is already a sentence for the user."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def fail(message: str, exit_code: int = EXIT_FAILURE) -> NoReturn:
    raise CliError(message, exit_code)


def report(exc: BaseException) -> int:
    if isinstance(exc, CliError):
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    # Unexpected: still one sentence, with the type so a bug report is actionable.
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    print(f"error: {type(exc).__name__}: {text}", file=sys.stderr)
    return EXIT_FAILURE
