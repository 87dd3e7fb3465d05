"""What a provider submits for a registration, checked as hostile input. Pure.

Every problem names the field, what is wrong and what is expected (``Problem(None, field, ...)``,
the filing layer's shape, so the API answers both in one format). Nothing is stored unless every
field passes.
"""

from __future__ import annotations

import hashlib
import json
import math
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import PurePath
from typing import Any

from tracker.filing.problems import Problem

EARLIEST_DATE = date(1990, 1, 1)
FUTURE_YEARS = 10
CONTACT_MAX_CHARS = 500
CONTEST_MAX_CHARS = 100_000
METHOD_MAX_CHARS = 64
NAME_MAX_CHARS = 200
VERSION_MAX_CHARS = 64
REGIME_MAX_CHARS = 80
ATTACHMENTS_MAX = 20
PDF_MAGIC = b"%PDF-"
# Text layout characters a long argument may contain; every other control character is refused.
_TEXT_LAYOUT = frozenset("\n\r\t")
# Bidirectional overrides make a text read differently from what it holds ("Trojan Source").
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes


@dataclass(frozen=True)
class SubmissionInput:
    """A provider's submission, as any channel received it (not yet checked)."""

    provider: str
    system: str
    regime: str
    version: str = ""
    compute_flop: float | None = None
    compute_method: str | None = None
    crossed_on: date | None = None
    contact: str | None = None
    contest_text: str | None = None
    voluntary: bool = False
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)

    @property
    def system_label(self) -> str:
        return f"{self.system}@{self.version}" if self.version else self.system


def bad_characters(text: str, *, multiline: bool) -> str | None:
    """A description of the first character a field may not hold, or None."""
    for position, char in enumerate(text, start=1):
        if char in _BIDI:
            return f"a bidirectional override (U+{ord(char):04X}) at character {position}"
        if unicodedata.category(char) == "Cc" and not (multiline and char in _TEXT_LAYOUT):
            return f"a control character (U+{ord(char):04X}) at character {position}"
    return None


def _text(problems: list[Problem], name: str, value: str | None, *, max_chars: int, required: bool = False,
          multiline: bool = False) -> None:
    if value is None or (not value.strip() and not required):
        if required:
            problems.append(Problem(None, name, "is missing; expected a non-empty text"))
        return
    if not value.strip():
        problems.append(Problem(None, name, "is empty; expected a non-empty text"))
    elif len(value) > max_chars:
        problems.append(Problem(None, name, f"has {len(value)} characters; expected at most {max_chars}"))
    else:
        bad = bad_characters(value, multiline=multiline)
        if bad:
            layout = "line breaks and tabs are allowed" if multiline else "plain text on one line"
            problems.append(Problem(None, name, f"contains {bad}; expected {layout}"))


def check_submission(submission: SubmissionInput, today: date, max_attachment_bytes: int) -> list[Problem]:
    """Every problem of ``submission``; empty when it may be stored."""
    problems: list[Problem] = []
    _text(problems, "provider", submission.provider, max_chars=64, required=True)
    _text(problems, "system", submission.system, max_chars=NAME_MAX_CHARS, required=True)
    _text(problems, "version", submission.version or None, max_chars=VERSION_MAX_CHARS)
    _text(problems, "regime", submission.regime, max_chars=REGIME_MAX_CHARS, required=True)
    _text(problems, "compute_method", submission.compute_method, max_chars=METHOD_MAX_CHARS)
    _text(problems, "contact", submission.contact, max_chars=CONTACT_MAX_CHARS)
    _text(problems, "contest", submission.contest_text, max_chars=CONTEST_MAX_CHARS, multiline=True)
    flop = submission.compute_flop
    if flop is not None and (not math.isfinite(flop) or flop <= 0):
        problems.append(Problem(None, "compute_flop", f"is {flop!r}; expected a finite number of FLOP above 0"))
    latest = today + timedelta(days=365 * FUTURE_YEARS)
    crossed = submission.crossed_on
    if crossed is not None and not EARLIEST_DATE <= crossed <= latest:
        problems.append(Problem(None, "crossed_on", f"is {crossed.isoformat()}; expected a date from "
                                f"{EARLIEST_DATE.isoformat()} to {latest.isoformat()}"))
    if submission.voluntary and submission.contest_text:
        problems.append(Problem(None, "contest", "a voluntary registration cannot be contested; expected "
                                "either a voluntary registration or a contest of an obligation"))
    if len(submission.attachments) > ATTACHMENTS_MAX:
        problems.append(Problem(None, "attachments", f"{len(submission.attachments)} files; expected at most "
                                f"{ATTACHMENTS_MAX}"))
    for index, attachment in enumerate(submission.attachments, start=1):
        problems += check_attachment(index, attachment, max_attachment_bytes)
    return problems


def check_attachment(index: int, attachment: Attachment, max_bytes: int) -> list[Problem]:
    where = f"attachment {index}"
    problems: list[Problem] = []
    name = attachment.filename
    bad = bad_characters(name, multiline=False)
    if not name or bad or len(name) > 255 or PurePath(name).name != name or name in (".", ".."):
        what = f"contains {bad}" if bad else f"is {name[:80]!r}"
        problems.append(Problem(None, where, f"file name {what}; expected a plain file name of at most 255 "
                                "characters, without a folder"))
    size = len(attachment.content)
    if size == 0:
        problems.append(Problem(None, where, "is empty; expected a PDF or a UTF-8 text file"))
    elif size > max_bytes:
        problems.append(Problem(None, where, f"is {size} bytes; expected at most {max_bytes} bytes"))
    elif media_type(attachment.content) is None:
        problems.append(Problem(None, where, "is neither a PDF (starting with %PDF-) nor UTF-8 text; "
                                "expected a PDF or a UTF-8 text file"))
    return problems


def media_type(content: bytes) -> str | None:
    """``application/pdf`` or ``text/plain`` by content (never by the name the sender chose), or None."""
    if content.startswith(PDF_MAGIC):
        return "application/pdf"
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return None if bad_characters(text, multiline=True) else "text/plain"


def record_sha256(fields: Mapping[str, Any], attachments: Sequence[Mapping[str, Any]]) -> str:
    """SHA-256 of a submission's canonical JSON with its attachments' hashes: what the record says,
    fixed, so a later change to a stored row or file shows."""
    body = {**{k: (v.isoformat() if isinstance(v, date) else v) for k, v in fields.items()},
            "attachments": sorted((dict(a) for a in attachments), key=lambda a: (a["sha256"], a["filename"]))}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def parse_fields(raw: Mapping[str, Any], provider: str, attachments: Sequence[Attachment] = ()
                 ) -> tuple[SubmissionInput | None, list[Problem]]:
    """A submission from a JSON body or form fields (API, portal); problems for what cannot be read."""
    problems: list[Problem] = []
    known = {"system", "version", "regime", "compute_flop", "compute_method", "crossed_on", "contact",
             "contest", "voluntary", "provider"}
    for name in sorted(set(raw) - known):
        problems.append(Problem(None, str(name)[:64], f"is not a submission field; expected one of "
                                f"{', '.join(sorted(known))}"))
    texts: dict[str, str | None] = {}
    for name in ("system", "version", "regime", "compute_method", "contact", "contest"):
        value = raw.get(name)
        if value is not None and not isinstance(value, str):
            problems.append(Problem(None, name, f"is a {type(value).__name__}; expected text"))
            value = None
        texts[name] = value
    flop: float | None = None
    given = raw.get("compute_flop")
    if isinstance(given, bool) or (given is not None and not isinstance(given, int | float | str)):
        problems.append(Problem(None, "compute_flop", f"is a {type(given).__name__}; expected a number of FLOP"))
    elif isinstance(given, str) and given.strip():
        try:
            flop = float(given)
        except ValueError:
            problems.append(Problem(None, "compute_flop", f"is {given[:40]!r}; expected a number such as 3.8e25"))
    elif isinstance(given, int | float):
        flop = float(given)
    crossed: date | None = None
    given = raw.get("crossed_on")
    if given not in (None, ""):
        try:
            crossed = date.fromisoformat(given) if isinstance(given, str) and len(given) == 10 else None
        except ValueError:
            crossed = None
        if crossed is None:
            problems.append(Problem(None, "crossed_on", f"is {str(given)[:40]!r}; expected an ISO date such as "
                                    "2024-07-01"))
    voluntary = raw.get("voluntary", False)
    if isinstance(voluntary, str) and voluntary.lower() in ("true", "false", "1", "0", ""):
        voluntary = voluntary.lower() in ("true", "1")
    if not isinstance(voluntary, bool):
        problems.append(Problem(None, "voluntary", f"is {str(voluntary)[:40]!r}; expected true or false"))
        voluntary = False
    named = raw.get("provider")
    if named not in (None, "", provider):
        problems.append(Problem(None, "provider", "names another provider; expected the token's own provider "
                                "or nothing"))
    if problems:
        return None, problems
    return SubmissionInput(
        provider=provider, system=texts["system"] or "", version=texts["version"] or "", regime=texts["regime"] or "",
        compute_flop=flop, compute_method=texts["compute_method"], crossed_on=crossed, contact=texts["contact"],
        contest_text=texts["contest"], voluntary=voluntary, attachments=tuple(attachments),
    ), []
