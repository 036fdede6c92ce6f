"""The schedule, declared as data: which task runs when, in Asia/Shanghai wall time.

RQ's own cron reads UTC, so "00:30 on the 1st" would fire at 08:30 (or on the wrong day). Instead
one scheduler loop (`flask schedule --loop`, started by `make run`; one per deployment, a second
is harmless) asks every minute which entries fell due in local time. Each due moment is claimed
once through a unique row (ScheduleRun), then enqueued with a job id derived from it, so
restarts, two schedulers or a late start never run a moment twice; a scheduler that was down
runs the latest missed moment of each entry when it comes back (not every one it missed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from croniter import croniter
from sqlalchemy import String, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from backend.db import Base, UTCDateTime
from backend.jobs.outbox import enqueue
from backend.timeutil import LOCAL_TZ, now_utc

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scheduled:
    name: str
    task: str
    cron: str  # five fields, Asia/Shanghai wall time
    # Task arguments from the local due moment (e.g. the month that just ended); none by default.
    kwargs: Callable[[datetime], dict[str, Any]] | None = None


SCHEDULE: dict[str, Scheduled] = {}


def scheduled(name: str, task: str, cron: str, kwargs: Callable[[datetime], dict[str, Any]] | None = None) -> None:
    """Declare an entry; domain jobs modules call this next to their @task definitions."""
    if name in SCHEDULE:
        raise ValueError(f"schedule entry {name} declared twice")
    if not croniter.is_valid(cron):
        raise ValueError(f"schedule entry {name}: invalid cron {cron!r}")
    SCHEDULE[name] = Scheduled(name, task, cron, kwargs)


class ScheduleRun(Base):
    """One due moment of one entry, claimed by the scheduler that enqueued it."""

    __tablename__ = "schedule_run"
    __table_args__ = (UniqueConstraint("name", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    enqueued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)


def last_due(entry: Scheduled, now: datetime) -> datetime:
    """The latest local moment ≤ now at which `entry` was due (timezone-aware, Asia/Shanghai)."""
    # get_prev is strict (< start): start one second after now so a moment exactly at now counts.
    start = now.astimezone(LOCAL_TZ).replace(microsecond=0) + timedelta(seconds=1)
    return croniter(entry.cron, start).get_prev(datetime)


def run_due(session: Session, now: datetime | None = None) -> list[str]:
    """Enqueue every entry whose latest due moment is not claimed yet; returns the job ids.

    Each claim is its own savepoint, so a second scheduler racing for the same moment loses that
    one entry only (unique name+due_at) and carries on with the rest.
    """
    now = now or now_utc()
    enqueued: list[str] = []
    for entry in SCHEDULE.values():
        due = last_due(entry, now)
        if session.scalar(select(ScheduleRun.id).where(ScheduleRun.name == entry.name, ScheduleRun.due_at == due)):
            continue
        try:
            with session.begin_nested():
                session.add(ScheduleRun(name=entry.name, due_at=due))
        except IntegrityError:
            continue
        kwargs = entry.kwargs(due) if entry.kwargs else {}
        job = enqueue(session, entry.task, job_id=f"{entry.name}-{due:%Y%m%d%H%M}", **kwargs)
        log.info("schedule %s due %s → job %s", entry.name, due.isoformat(), job.job_id)
        enqueued.append(job.job_id)
    return enqueued
