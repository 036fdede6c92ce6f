"""Enqueue-after-commit through an outbox row.

`enqueue` writes the row in the caller's transaction. After the boundary commits,
`dispatch_after_commit` pushes the new rows to RQ, or, in the embedded mode without Redis,
runs them in-process; a request hands its rows to `dispatch_after_response` instead, which pushes
them once the answer has been sent. Rows that could not be pushed are picked up by `sweep_outbox`;
after Redis failed, the process's `RedisBreaker` leaves new rows to it too for a cool-down.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import redis
from flask import current_app
from rq import Queue
from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session

from backend.db import db, write_intent
from backend.jobs.models import OutboxJob
from backend.timeutil import now_utc

log = logging.getLogger(__name__)

_PENDING_KEY = "xz_outbox_pending"
# RQ 3 refuses job ids with anything but letters, digits, "_" and "-" (ValueError on enqueue).
_JOB_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_JOB_ID_MAX = 120  # OutboxJob.job_id


def rq_job_id(job_id: str) -> str:
    """A job id RQ accepts. Valid ids pass unchanged; others (e.g. "points.compile:2026-05:v7") are
    rewritten deterministically, with a hash of the original so distinct ids stay distinct."""
    if _JOB_ID_UNSAFE.search(job_id) is None and 0 < len(job_id) <= _JOB_ID_MAX:
        return job_id
    safe = _JOB_ID_UNSAFE.sub("-", job_id).strip("-")[:100] or "job"
    return f"{safe}-{hashlib.sha256(job_id.encode()).hexdigest()[:12]}"


def enqueue(session: Session, task: str, *, job_id: str | None = None, **kwargs: Any) -> OutboxJob:
    """Write the job in the caller's transaction; it is pushed (or run in-process) after commit.

    `job_id` makes the job deterministic (idempotent re-enqueue); without one a unique id is made.
    """
    return enqueue_many(session, task, [(job_id, kwargs)])[0]


def enqueue_many(session: Session, task: str, jobs: list[tuple[str | None, dict[str, Any]]]) -> list[OutboxJob]:
    """`enqueue` for several jobs of one task, (job id, kwargs) each, written in one statement (a compile's towns)."""
    rows = [
        OutboxJob(
            task=task, kwargs=kwargs, job_id=rq_job_id(job_id or f"{_JOB_ID_UNSAFE.sub('_', task)}-{uuid.uuid4().hex}")
        )
        for job_id, kwargs in jobs
    ]
    session.add_all(rows)
    session.flush()
    session.info.setdefault(_PENDING_KEY, []).extend(row.id for row in rows)
    return rows


def dispatch_after_commit(session: Session) -> None:
    ids = session.info.pop(_PENDING_KEY, [])
    if ids:
        dispatch(session, ids)


def dispatch_after_response(session: Session, call_on_close: Callable[[Callable[[], None]], object]) -> None:
    """After a request's commit: with RQ, push its jobs once the answer is out (`call_on_close`: the server
    calls it after sending), so the phone never waits for Redis; without Redis, run them now, before the
    answer, as the embedded mode promises. A push lost with the process is left to the sweep, like any other."""
    ids = session.info.pop(_PENDING_KEY, [])
    if not ids:
        return
    if current_app.extensions["xz_jobs"].inline:
        dispatch(session, ids)
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def push() -> None:
        # Let the reader of the answer (nginx, a client on this machine) run first: Linux often wakes it
        # on this CPU, where it would otherwise wait for the push (measured: +1.5 ms on a 2-core machine).
        if hasattr(os, "sched_yield"):
            os.sched_yield()
        with app.app_context():
            try:
                dispatch(db.session, ids)
            except Exception:
                log.exception("pushing %d job(s) after the response failed; the sweep will push them", len(ids))

    call_on_close(push)


def discard_pending(session: Session) -> None:
    """After a rollback the outbox rows are gone too; forget their ids."""
    session.info.pop(_PENDING_KEY, None)


def dispatch(session: Session, ids: list[int]) -> int:
    """Push (or, without Redis, run) the given undispatched rows; returns how many went through.

    A dead Redis or a job RQ refuses never raises here: this runs after the commit, and the caller's
    answer must not depend on Redis; while the breaker is open it does not even try. Its transactions are
    writes from their first statement: on SQLite a read that later writes fails at once ("database is
    locked") if a worker marked a row in between, which stopped the scheduler (and with it `make run`)
    when it pushed a batch while the worker ran them.
    """
    jobs = current_app.extensions["xz_jobs"]
    if not jobs.inline and not jobs.breaker.allow():
        return 0  # Redis failed moments ago: the rows wait for the sweep, at no cost to this caller
    with write_intent():
        # Plain rows, not objects: each job commits, and expired objects would be reloaded one SELECT at a time.
        rows = session.execute(
            select(OutboxJob.id, OutboxJob.task, OutboxJob.kwargs, OutboxJob.job_id).where(
                OutboxJob.id.in_(ids), OutboxJob.dispatched_at.is_(None)
            )
        ).all()
        if jobs.inline:
            return sum(_run_inline(session, row) for row in rows)
        return _push(session, jobs, rows) or 0


def _push(session: Session, jobs: Any, rows: Sequence[Row[Any]]) -> int | None:
    """Queue the rows' jobs in one Redis round trip (a compile's towns start together), then mark them
    dispatched; returns how many went through, None if Redis itself failed (the sweep retries, and the
    breaker opens: each further try would cost another socket timeout). A batch RQ refuses is pushed one
    job at a time, so one bad job does not hold back the others."""
    from backend.jobs.runner import run_task

    if not rows:
        return 0
    batch = [
        Queue.prepare_data(run_task, (row.task, row.kwargs), {"outbox_id": row.id}, job_id=row.job_id) for row in rows
    ]
    try:
        jobs.queue.enqueue_many(batch)
    except redis.RedisError as exc:
        jobs.breaker.failed(exc)
        session.rollback()
        return None
    except Exception:
        session.rollback()
        if len(rows) > 1:
            done = 0
            for row in rows:
                if (pushed := _push(session, jobs, [row])) is None:
                    break
                done += pushed
            return done
        log.exception("could not queue job %s; it stays in the outbox", rows[0].job_id)
        return 0
    jobs.breaker.succeeded()
    session.execute(update(OutboxJob).where(OutboxJob.id.in_([row.id for row in rows])).values(dispatched_at=now_utc()))
    session.commit()
    return len(rows)


def _run_inline(session: Session, row: Row[Any]) -> bool:
    from backend.jobs.runner import execute
    from backend.jobs.tasks import RecordedError

    task, kwargs, row_id = row.task, dict(row.kwargs), row.id
    session.commit()
    try:
        execute(task, kwargs, outbox_id=row_id)
    except RecordedError:
        log.exception("in-process job %s failed; it recorded its failure and is not run again", task)
        return False
    except Exception:
        log.exception("in-process job %s failed; it stays in the outbox for the next sweep", task)
        return False
    return True


def sweep_outbox(session: Session, older_than: timedelta = timedelta(seconds=30)) -> int:
    """Push rows that missed their after-commit dispatch (Redis was down, process died); returns how many
    went through. Rows younger than `older_than` may still be on their way from the request that wrote them."""
    cutoff = now_utc() - older_than
    ids = list(
        session.scalars(select(OutboxJob.id).where(OutboxJob.dispatched_at.is_(None), OutboxJob.created_at <= cutoff))
    )
    session.commit()
    return dispatch(session, ids) if ids else 0
