"""Where a filer's work stands: a queued upload's job, and whether a filing's estimates are in.

Every read is for one provider: a job or filing of another provider is reported as unknown (None),
exactly like one that does not exist, so no caller can probe another provider's work.

A filing's estimates are in once an evaluation has read it: the newest evaluation's audit entry
records the newest filing it read (``filings_through``), and so does each evaluation job (one that
found nothing to write leaves no audit entry). Accepted filings commit in id order (the filing
service serialises them), so "read through N" covers every filing up to N.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from tracker.config import Settings
from tracker.filing.receipts import outcome_of
from tracker.store.models import Filing, FilingJob, Provider, columns
from tracker.worker.queue import open_jobs

NIGHTLY_UTC = (2, 0)  # the scheduler's whole-registry evaluation (tracker/scheduler/main.py)
FAILED_MESSAGE = ("the filing could not be completed after {attempts} attempt(s); nothing was filed. Please "
                  "file it again; if it fails again, tell the registry's operators (job {job})")


def evaluated_through(session: Session) -> int:
    """The newest filing id every filing up to which an evaluation has read (0: none)."""
    from tracker.registry.pipeline import last_evaluation

    last = last_evaluation(session)
    j = columns(FilingJob)
    latest_job = session.execute(
        sa.select(j.outcome_json).where(j.job_type == "evaluation", j.status == "done")
        .order_by(j.id.desc()).limit(1)
    ).scalar_one_or_none()
    from_job = int(json.loads(latest_job).get("read_through", 0)) if latest_job else 0
    return max(last.filings_through if last else 0, from_job)


def _next_nightly(now: datetime) -> datetime:
    hour, minute = NIGHTLY_UTC
    at = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return at if at > now else at + timedelta(days=1)


def evaluation_state(session: Session, settings: Settings, filing_id: int | None, status: str) -> dict[str, Any]:
    """``{"state": ...}``: ``done`` (estimates in), ``queued`` or ``running`` (an evaluation job will
    read it, with ``expected_within_s``), ``nightly`` (no job is queued: the nightly run reads it, at
    ``expected_by``) or ``not_needed`` (a rejected filing changes no estimate)."""
    if status != "accepted" or filing_id is None:
        return {"state": "not_needed"}
    if evaluated_through(session) >= filing_id:
        return {"state": "done"}
    waiting = open_jobs(session.connection(), "evaluation")
    for state in ("running", "queued"):
        if waiting.get(state):
            return {"state": state, "expected_within_s": settings.evaluation_expected_within_s}
    return {"state": "nightly", "expected_by": _next_nightly(datetime.now(UTC)).isoformat()}


def filing_evaluation(session: Session, settings: Settings, accession: str | None,
                      provider_id: int) -> dict[str, Any] | None:
    """The evaluation state of one of the provider's filings (None: no such filing of theirs)."""
    if not accession:
        return None
    g = columns(Filing)
    row = session.execute(sa.select(g.id, g.status).where(g.accession == accession, g.provider_id == provider_id)
                          ).first()
    return None if row is None else evaluation_state(session, settings, row.id, row.status)


def job_view(session: Session, settings: Settings, public_id: str, provider_id: int) -> dict[str, Any] | None:
    """A queued upload as its filer sees it (None: no such job of this provider's)."""
    j = columns(FilingJob)
    job = session.execute(sa.select(j).where(j.public_id == public_id, j.provider_id == provider_id,
                                             j.job_type == "filing")).mappings().first()
    if job is None:
        return None
    view: dict[str, Any] = {
        "job": job["public_id"], "status": job["status"], "filename": job["filename"], "size_bytes": job["size_bytes"],
        "queued_at": job["created_at"].isoformat(), "finished_at": job["finished_at"].isoformat()
        if job["finished_at"] else None, "receipt": None, "error": None, "evaluation": None,
    }
    if job["status"] == "failed":
        view["error"] = FAILED_MESSAGE.format(attempts=job["attempts"], job=job["public_id"])
    if job["accession"]:
        g = columns(Filing)
        filing = session.execute(sa.select(Filing).where(g.accession == job["accession"],
                                                         g.provider_id == provider_id)).scalar_one_or_none()
        provider = session.get(Provider, provider_id)
        if filing is not None and provider is not None:
            view["receipt"] = outcome_of(filing, provider.slug, session=session).to_dict()
            if filing.status == "accepted":  # as issued: the same bytes may have been filed before
                view["receipt"]["duplicate"] = bool(json.loads(job["outcome_json"] or "{}").get("duplicate"))
            view["evaluation"] = evaluation_state(session, settings, filing.id, filing.status)
    return view
