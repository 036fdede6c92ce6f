"""Ratings background tasks (thin: ids in, service call), the month-end schedule and the stuck-run reconciler."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy.orm import Session

from backend.jobs.schedule import scheduled
from backend.jobs.tasks import task
from backend.months import Month
from backend.ratings import compile as ratings_compile


@task("ratings.compile_town")
def compile_town(session: Session, run_id: int, town_id: int) -> None:
    ratings_compile.compile_town(session, run_id, town_id)


@task("ratings.finalize")
def finalize(session: Session, run_id: int) -> None:
    ratings_compile.finalize_run(session, run_id)


@task("ratings.compile_counties")
def compile_counties(session: Session, month: str) -> list[int]:
    return ratings_compile.compile_counties(session, month)


@task("ratings.reconcile")
def reconcile(session: Session) -> list[int]:
    config = current_app.config
    timeout = timedelta(seconds=config["COMPILE_UNIT_TIMEOUT"])
    return ratings_compile.reconcile_runs(session, timeout, config["COMPILE_MAX_ATTEMPTS"])


def month_just_ended(due: datetime) -> dict[str, str]:
    """Due at 00:30 on the 1st, Beijing time: the month to compile is the one that ended an hour ago."""
    return {"month": str(Month.of(due.date()).shift(-1))}


scheduled("ratings-month-end", "ratings.compile_counties", "30 0 1 * *", kwargs=month_just_ended)
# Every two minutes: a run stopped by a killed worker moves again within COMPILE_UNIT_TIMEOUT plus two minutes.
scheduled("ratings-reconcile", "ratings.reconcile", "*/2 * * * *")
