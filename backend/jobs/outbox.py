"""Enqueue-after-commit through an outbox row.

`enqueue` writes the row in the caller's transaction. After the boundary commits,
`dispatch_after_commit` pushes the new rows to RQ, or, in the embedded mode without Redis,
runs them in-process. Rows that could not be pushed are picked up by `sweep_outbox`.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

import redis
from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.jobs.models import OutboxJob
from backend.timeutil import now_utc

log = logging.getLogger(__name__)

_PENDING_KEY = "xz_outbox_pending"


def enqueue(session: Session, task: str, *, job_id: str | None = None, **kwargs: Any) -> OutboxJob:
    row = OutboxJob(task=task, kwargs=kwargs, job_id=job_id or f"{task}:{uuid.uuid4().hex}")
    session.add(row)
    session.flush()
    session.info.setdefault(_PENDING_KEY, []).append(row.id)
    return row


def dispatch_after_commit(session: Session) -> None:
    ids = session.info.pop(_PENDING_KEY, [])
    if ids:
        dispatch(session, ids)


def discard_pending(session: Session) -> None:
    """After a rollback the outbox rows are gone too; forget their ids."""
    session.info.pop(_PENDING_KEY, None)


def dispatch(session: Session, ids: list[int]) -> None:
    jobs = current_app.extensions["xz_jobs"]
    rows = session.scalars(select(OutboxJob).where(OutboxJob.id.in_(ids), OutboxJob.dispatched_at.is_(None))).all()
    for row in rows:
        if jobs.inline:
            _run_inline(session, row)
        else:
            _push(session, jobs, row)


def _push(session: Session, jobs: Any, row: OutboxJob) -> None:
    from backend.jobs.runner import run_task

    try:
        jobs.queue.enqueue(run_task, row.task, row.kwargs, job_id=row.job_id, outbox_id=row.id)
    except redis.RedisError as exc:
        log.warning("redis unavailable, job %s stays in the outbox: %s", row.job_id, type(exc).__name__)
        session.rollback()
        return
    session.execute(update(OutboxJob).where(OutboxJob.id == row.id).values(dispatched_at=now_utc()))
    session.commit()


def _run_inline(session: Session, row: OutboxJob) -> None:
    from backend.jobs.runner import execute

    task, kwargs, row_id = row.task, dict(row.kwargs), row.id
    session.commit()
    try:
        execute(task, kwargs, outbox_id=row_id)
    except Exception:
        log.exception("in-process job %s failed; it stays in the outbox for the next sweep", task)


def sweep_outbox(session: Session, older_than: timedelta = timedelta(seconds=30)) -> int:
    """Push rows that missed their after-commit dispatch (Redis was down, process died)."""
    cutoff = now_utc() - older_than
    ids = list(
        session.scalars(select(OutboxJob.id).where(OutboxJob.dispatched_at.is_(None), OutboxJob.created_at <= cutoff))
    )
    session.commit()
    if ids:
        dispatch(session, ids)
    return len(ids)
