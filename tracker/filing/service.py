"""The one filing service every channel (CLI, inbox, API, portal) goes through.

A file is all or nothing: with any problem, nothing from it is stored except the rejected Filing
row (its errors as JSON) and its audit event. An accepted file is stored in one transaction with
its audit event. Filing byte-identical content again (same provider, same SHA-256 as an accepted
filing) returns the original receipt and stores nothing.

Unknown provider slugs are created on first filing through operator channels (CLI, inbox);
the API files only for the provider its token belongs to (``create_provider=False``).
"""

from __future__ import annotations

import hashlib
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path, PurePosixPath, PureWindowsPath

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tracker import text as text_rules
from tracker.catalog.accelerators import Catalog
from tracker.config import get_settings
from tracker.filing.conditions import store_conditions
from tracker.filing.kinds import CLUSTERS, INFERENCE_USAGE, SYSTEM_CONDITIONS, TRAINING_RUNS, get_kind
from tracker.filing.parse import Parsed, parse_source
from tracker.filing.problems import DisclosureRejected, Problem, truncated
from tracker.filing.read import detect_format
from tracker.filing.receipts import Receipt, Rejection, accession_for, errors_json, outcome_of
from tracker.filing.store import Stored, store_clusters, store_training_runs, store_usage
from tracker.filing.systems import BaseRef, resolve_bases
from tracker.store import audit
from tracker.store.models import Filing, Provider, RejectionRepeat
from tracker.store.types import utcnow

CHANNELS = ("cli", "inbox", "api", "portal")
SLUG = text_rules.SLUG  # fixed (issue 15): "^...$" let "alpha\n" in as a second provider
# Serialises filings on PostgreSQL: the duplicate check and the supersession of earlier records
# must see every committed filing, and filings are rare enough that one queue costs nothing.
_FILING_LOCK_KEY = 7_300_252
_MAX_FILENAME = 255


class FilingError(ValueError):
    """A request the service cannot act on (bad slug, unknown provider): not a file problem."""


def safe_filename(filename: str) -> str:
    """The base name only, without control characters: never a path to write to."""
    base = PureWindowsPath(PurePosixPath(filename or "").name).name
    # Control and format characters go too: a bidi override would make "evil\u202ecsv.exe" read as
    # "evilexe.csv" on every page that shows the name.
    base = unicodedata.normalize("NFC", base)
    base = "".join(c for c in base if unicodedata.category(c) not in ("Cc", "Cf")).strip().lstrip(".") or "upload"
    return base[-_MAX_FILENAME:]


def sha256_of(content: bytes | Path) -> tuple[str, int]:
    if isinstance(content, bytes):
        return hashlib.sha256(content).hexdigest(), len(content)
    with content.open("rb") as handle:
        digest = hashlib.file_digest(handle, "sha256")  # one reused buffer, no copy per chunk
        size = handle.tell()
    return digest.hexdigest(), size


@contextmanager
def _transaction(target: Engine | Session) -> Iterator[Session]:
    """Own transaction for an engine; for a caller's session, work inside it (caller commits)."""
    if isinstance(target, Session):
        with target.begin_nested():
            yield target
        return
    with Session(target, expire_on_commit=False) as session, session.begin():
        yield session


def _lock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _FILING_LOCK_KEY})
    else:
        # A write makes SQLite take its database lock now, before the duplicate check reads.
        session.execute(sa.text("DELETE FROM filing WHERE 1 = 0"))


def _provider(session: Session, slug: str) -> Provider | None:
    return session.exec(select(Provider).where(Provider.slug == slug)).first()


def _duplicate(session: Session, provider: Provider | None, sha256: str) -> Filing | None:
    if provider is None:
        return None
    return session.exec(
        select(Filing).where(Filing.provider_id == provider.id, Filing.sha256 == sha256,
                             Filing.status == "accepted").order_by(Filing.id)  # type: ignore[arg-type]
    ).first()


@dataclass(frozen=True)
class _Attempt:
    """A parse run ahead of the checks that may make it moot; its outcome is read after them."""

    parsed: Parsed | None = None
    problems: tuple[Problem, ...] = ()
    error: Exception | None = None

    @classmethod
    def of(cls, parse: Callable[[], Parsed]) -> _Attempt:
        try:
            return cls(parsed=parse())
        except DisclosureRejected as exc:
            return cls(problems=tuple(exc.problems))
        except Exception as exc:  # raised once the provider and duplicate checks have had their say
            return cls(error=exc)

    def outcome(self) -> tuple[Parsed | None, list[Problem]]:
        if self.error is not None:
            raise self.error
        return self.parsed, list(self.problems)


def file_disclosure(
    target: Engine | Session, *, content: bytes | Path, filename: str, kind: str | None, provider_slug: str,
    filed_by: str, channel: str, dry_run: bool = False, create_provider: bool = True,
    catalog: Catalog | None = None, stored_path: Callable[[str], str] | None = None,
) -> Receipt | Rejection:
    """Validate and file one disclosure; see the module docstring for the guarantees.

    ``content`` is the file's bytes, or a path (large usage CSVs are then streamed). ``stored_path``
    maps the accession to where the channel will keep the file (recorded on the Filing row).
    """
    if channel not in CHANNELS:
        raise FilingError(f"unknown channel {channel!r}; expected one of {', '.join(CHANNELS)}")
    if not SLUG.match(provider_slug or ""):
        raise FilingError(f"provider slug {provider_slug!r} is not valid; expected lowercase letters, digits, "
                          "'-' or '_' (at most 64)")
    name = safe_filename(filename)
    fmt = detect_format(content[:8] if isinstance(content, bytes) else b"", name)
    with ThreadPoolExecutor(max_workers=1) as pool:
        # A file on disk is hashed while it is parsed (hashlib releases the GIL, and so does
        # polars): for a 1 GB file that is a second of work off the critical path. Bytes are
        # hashed first, and a duplicate returns before any parsing, as before.
        hashing = pool.submit(sha256_of, content)
        attempt = _Attempt.of(lambda: parse_source(content, name, kind, catalog)) if isinstance(content, Path) else None
        sha256, size = hashing.result()
    with Session(target.get_bind() if isinstance(target, Session) else target) as reader:
        provider = _provider(reader, provider_slug)
        if provider is None and not (create_provider or dry_run):
            raise FilingError(f"unknown provider {provider_slug!r}")
        original = _duplicate(reader, provider, sha256)
        if original is not None:
            return outcome_of(original, provider_slug, duplicate=True, session=reader)
    attempt = attempt or _Attempt.of(lambda: parse_source(content, name, kind, catalog))
    parsed, problems = attempt.outcome()
    # Only a known kind's name is stored: the field is the filer's, and may hold anything (NUL).
    kind_name = parsed.kind.name if parsed else (known.name if (known := get_kind(kind or "")) else "unknown")

    if dry_run:
        if parsed is not None and parsed.kind is TRAINING_RUNS:
            with Session(target.get_bind() if isinstance(target, Session) else target) as reader:
                provider = _provider(reader, provider_slug)
                problems = resolve_bases(reader, provider.id if provider else None, parsed.records)[1]
        if problems or parsed is None:
            return Rejection(None, provider_slug, kind_name, sha256, name, None, truncated(problems))
        return Receipt(None, provider_slug, parsed.kind.name, sha256, name, parsed.format, size, channel,
                       filed_by, None, parsed.records.height, 0, status="valid")
    if parsed is not None:
        try:
            return _store_accepted(target, parsed, provider_slug=provider_slug, sha256=sha256, size=size,
                                   name=name, channel=channel, filed_by=filed_by, stored_path=stored_path)
        except DisclosureRejected as exc:  # a problem only the registry could reveal (base systems)
            problems = exc.problems
    return _store_rejected(target, provider_slug=provider_slug, kind=kind_name, fmt=fmt, sha256=sha256,
                           size=size, name=name, channel=channel, filed_by=filed_by, problems=truncated(problems))


def _ensure_provider(session: Session, slug: str) -> Provider:
    provider = _provider(session, slug)
    if provider is None:
        provider = Provider(slug=slug, name=slug)
        session.add(provider)
        session.flush()
    return provider


def _new_filing(session: Session, provider: Provider, **fields: object) -> Filing:
    filed_at = utcnow()
    # Accession derives from the id, known only after the insert: a unique placeholder first.
    assert provider.id is not None
    filing = Filing(provider_id=provider.id, accession=f"pending-{uuid.uuid4().hex[:24]}", filed_at=filed_at,
                    **fields)  # type: ignore[arg-type]
    session.add(filing)
    session.flush()
    assert filing.id is not None
    filing.accession = accession_for(filing.id, filed_at)
    return filing


def _store_accepted(target: Engine | Session, parsed: Parsed, *, provider_slug: str, sha256: str, size: int,
                    name: str, channel: str, filed_by: str, stored_path: Callable[[str], str] | None
                    ) -> Receipt | Rejection:
    with _transaction(target) as session:
        _lock(session)
        provider = _ensure_provider(session, provider_slug)
        original = _duplicate(session, provider, sha256)  # again, under the lock: a racing twin
        if original is not None:
            return outcome_of(original, provider_slug, duplicate=True, session=session)
        bases: dict[str, BaseRef] = {}
        if parsed.kind is TRAINING_RUNS:
            bases, problems = resolve_bases(session, provider.id, parsed.records)
            if problems:
                raise DisclosureRejected(problems)
        filing = _new_filing(session, provider, kind=parsed.kind.name, status="accepted", sha256=sha256,
                             filename=name, file_format=parsed.format, size_bytes=size, channel=channel,
                             filed_by=filed_by)
        stored = _store_records(session, filing, parsed, bases)
        filing.record_count = stored.records
        filing.superseded_count = stored.superseded
        filing.stored_path = stored_path(filing.accession) if stored_path else None
        if parsed.kind is TRAINING_RUNS and stored.system_ids:
            from tracker.filing.public import record_public_discrepancies

            record_public_discrepancies(session, stored.system_ids)
        entry = audit.record(session, actor=filed_by, action="filing.accepted", entity="filing",
                             entity_id=filing.accession, details={
                                 "provider": provider_slug, "kind": parsed.kind.name, "sha256": sha256,
                                 "channel": channel, "filename": name, "records": stored.records,
                                 "rows_read": parsed.rows_read, "superseded": stored.superseded})
        if parsed.kind is TRAINING_RUNS and stored.system_ids:
            # An amended registered system: its certificate no longer binds the record; reissue.
            from tracker.registration.certificates import supersede_on_amendment

            supersede_on_amendment(session, stored.system_ids, actor=filed_by)
        session.flush()
        return outcome_of(filing, provider_slug, audit_head=audit.head_of(entry))


def _store_records(session: Session, filing: Filing, parsed: Parsed, bases: dict[str, BaseRef]) -> Stored:
    if parsed.kind is TRAINING_RUNS:
        return store_training_runs(session, filing, parsed.records, bases)
    if parsed.kind is INFERENCE_USAGE:
        return store_usage(session, filing, parsed.records)
    if parsed.kind is SYSTEM_CONDITIONS:
        return store_conditions(session, filing, parsed.records)
    assert parsed.kind is CLUSTERS
    return store_clusters(session, filing, parsed.records)


def _store_rejected(target: Engine | Session, *, provider_slug: str, kind: str, fmt: str, sha256: str,
                    size: int, name: str, channel: str, filed_by: str, problems: list[Problem]) -> Rejection:
    with _transaction(target) as session:
        provider = _ensure_provider(session, provider_slug)
        filing = _new_filing(session, provider, kind=kind, status="rejected", sha256=sha256, filename=name,
                             file_format=fmt, size_bytes=size, channel=channel, filed_by=filed_by,
                             errors_json=errors_json(problems))
        entry = audit.record(session, actor=filed_by, action="filing.rejected", entity="filing",
                             entity_id=filing.accession, details={
                                 "provider": provider_slug, "kind": kind, "sha256": sha256, "channel": channel,
                                 "filename": name, "errors": len(problems)})
        _alert_rejection(session, filing, provider, problems)
        return Rejection(filing.accession, provider_slug, kind, sha256, name, filing.filed_at, problems,
                         audit_head=audit.head_of(entry))


def _alert_rejection(session: Session, filing: Filing, provider: Provider, problems: list[Problem]) -> None:
    """Tell the provider's and the regulator's people in the rejection's own transaction (the
    outbox), with the first problems so the alert can be triaged without opening the filing."""
    from tracker.alerts.outbox import enqueue

    repeat = _repeat_of(session, filing, provider, problems)
    if repeat is None:
        return  # the same bytes, rejected for the same problems a moment ago: one alert, counted
    alert = enqueue(session, kind="filing_rejected", idempotency_key=f"filing_rejected:{filing.accession}",
                    provider_id=provider.id, payload={
                        "accession": filing.accession, "status": "rejected", "filename": filing.filename,
                        "kind_of_filing": filing.kind, "channel": filing.channel, "errors": len(problems),
                        "first_errors": [str(p) for p in problems[:5]],
                    })
    repeat.alert_id = alert.id if alert is not None else None
    session.add(repeat)


def _repeat_of(session: Session, filing: Filing, provider: Provider,
               problems: list[Problem]) -> RejectionRepeat | None:
    """None (after counting it) when the provider filed the same bytes with the same problems within
    the window since the last such rejection; else the new series this rejection starts.

    Fixed (issue 15): twenty identical rejected uploads in a second raised twenty open alerts.
    """
    # No filing lock here: this runs after the audit entry, whose chain lock (held to commit) already
    # serialises rejections, and taking the filing lock after it would invert the accepted path's
    # order (filing lock, then audit lock) and deadlock.
    errors_sha256 = hashlib.sha256(errors_json(problems).encode("utf-8")).hexdigest()
    since = filing.filed_at - timedelta(seconds=get_settings().rejection_repeat_window_s)
    series = session.exec(
        select(RejectionRepeat).where(RejectionRepeat.provider_id == provider.id,
                                      RejectionRepeat.sha256 == filing.sha256,
                                      RejectionRepeat.errors_sha256 == errors_sha256,
                                      RejectionRepeat.last_at >= since)
        .order_by(RejectionRepeat.id.desc())  # type: ignore[union-attr]
    ).first()
    assert filing.id is not None and provider.id is not None
    if series is not None:
        series.count += 1
        series.last_at, series.last_filing_id = filing.filed_at, filing.id
        session.add(series)
        return None
    return RejectionRepeat(provider_id=provider.id, sha256=filing.sha256, errors_sha256=errors_sha256,
                           first_filing_id=filing.id, last_filing_id=filing.id, first_at=filing.filed_at,
                           last_at=filing.filed_at)
