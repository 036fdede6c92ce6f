"""The schedule as data: due moments in Asia/Shanghai wall time, each run exactly once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask
from sqlalchemy import func, select

from backend.db import db
from backend.jobs import schedule
from backend.jobs.models import OutboxJob
from backend.jobs.schedule import SCHEDULE, Scheduled, last_due, run_due
from backend.timeutil import LOCAL_TZ
from backend.transaction import unit_of_work
from tests.test_jobs import seed_tokens, token_ids

MONTH_END = Scheduled("monthly", "auth.purge_tokens", "30 0 1 * *")


def test_month_start_entry_is_due_at_half_past_midnight_beijing_time_which_is_the_previous_utc_day():
    just_before = datetime(2026, 11, 30, 16, 29, 59, tzinfo=UTC)  # 2026-12-01 00:29:59 in Beijing
    at = datetime(2026, 11, 30, 16, 30, tzinfo=UTC)
    assert last_due(MONTH_END, just_before) == datetime(2026, 11, 1, 0, 30, tzinfo=LOCAL_TZ)
    assert last_due(MONTH_END, at) == datetime(2026, 12, 1, 0, 30, tzinfo=LOCAL_TZ)


def test_every_declared_entry_names_a_registered_task():
    from backend.jobs.tasks import TASKS, load_all_tasks

    load_all_tasks()
    assert SCHEDULE, "at least the nightly token purge is scheduled"
    assert {entry.task for entry in SCHEDULE.values()} <= set(TASKS)


@pytest.fixture
def only_token_purge(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schedule, "SCHEDULE", {"purge-tokens": SCHEDULE["purge-tokens"]})


def run(app: Flask, now: datetime) -> list[str]:
    with app.app_context(), unit_of_work(db.session) as session:
        job_ids = run_due(session, now)
    with app.app_context():
        db.session.remove()
    return job_ids


@pytest.mark.usefixtures("only_token_purge")
def test_a_due_task_runs_once_however_often_the_scheduler_checks(app: Flask):
    with app.app_context():
        _stale, live = seed_tokens(db.session)
    night = datetime(2026, 11, 24, 19, 20, tzinfo=UTC)  # 03:20 in Beijing: the 03:15 purge is due
    first = run(app, night)
    assert first == ["purge-tokens-202611250315"]
    assert token_ids(app) == {live}  # ran (in-process: the test app has no Redis)
    assert run(app, night) == []
    assert run(app, datetime(2026, 11, 25, 3, 0, tzinfo=UTC)) == []  # later the same day: nothing new
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OutboxJob)) == 1
    assert run(app, datetime(2026, 11, 25, 19, 15, tzinfo=UTC)) == ["purge-tokens-202611260315"]


@pytest.mark.usefixtures("only_token_purge")
def test_a_scheduler_started_after_a_long_outage_runs_the_latest_missed_moment_once(app: Flask):
    with app.app_context():
        _stale, live = seed_tokens(db.session)
    assert run(app, datetime(2026, 12, 5, 12, 0, tzinfo=UTC)) == ["purge-tokens-202612050315"]
    assert token_ids(app) == {live}
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OutboxJob)) == 1
