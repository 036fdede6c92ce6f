"""Compile runs a killed worker left hanging: the scheduled reconciler re-queues their unfinished towns, gives up
after a number of attempts with the reason on the runs page, and leaves a run that is still moving alone."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import time_machine
from flask import Flask
from sqlalchemy import func, select

from backend.db import db
from backend.jobs import schedule
from backend.jobs.models import OutboxJob
from backend.jobs.outbox import sweep_outbox
from backend.jobs.schedule import SCHEDULE, run_due
from backend.jobs.tasks import TASKS, load_all_tasks
from backend.ratings.compile import compile_month
from backend.ratings.models import CompileRun, RatingResult, RunStatus
from backend.timeutil import now_utc, today_local
from backend.transaction import unit_of_work
from tests.admin_helpers import html
from tests.factories import World
from tests.factories_ratings import rate_c1, snapshot

MONTH = f"{today_local().replace(day=1) - timedelta(days=1):%Y-%m}"


class WorkerKilledError(Exception):
    """A compile job that dies midway: none of its writes is committed, as when its worker is killed."""


@pytest.fixture
def killed_in(monkeypatch: pytest.MonkeyPatch) -> set[int | str]:
    """What dies mid-job while it is in the returned set: a town's compile (its id) or the county-wide "finish"."""
    load_all_tasks()
    compile_town, finalize = TASKS["ratings.compile_town"], TASKS["ratings.finalize"]
    dying: set[int | str] = set()

    def town_job(session, run_id: int, town_id: int) -> None:  # type: ignore[no-untyped-def]
        if town_id in dying:
            raise WorkerKilledError(f"town {town_id}")
        compile_town(session, run_id, town_id)

    def finish_job(session, run_id: int) -> None:  # type: ignore[no-untyped-def]
        if "finish" in dying:
            raise WorkerKilledError("finish")
        finalize(session, run_id)

    monkeypatch.setitem(TASKS, "ratings.compile_town", town_job)
    monkeypatch.setitem(TASKS, "ratings.finalize", finish_job)
    return dying


@pytest.fixture
def only_the_reconciler(monkeypatch: pytest.MonkeyPatch) -> None:
    load_all_tasks()
    monkeypatch.setattr(schedule, "SCHEDULE", {"ratings-reconcile": SCHEDULE["ratings-reconcile"]})


def start(app: Flask, world: World) -> int:
    """Start C1's compile; without Redis its town jobs run in-process before this returns."""
    with app.app_context():
        with unit_of_work(db.session) as s:
            run_id = compile_month(s, world.ids["C1"], MONTH).run.id
        db.session.remove()
    return run_id


def start_losing(
    app: Flask, world: World, database, killed_in: set[int | str], lost: int | str
) -> tuple[int, datetime]:  # type: ignore[no-untyped-def]
    """C1's month compiled while `lost` (a town id or "finish") dies with its worker; the run id and its start."""
    with database() as s:
        rate_c1(s, world, MONTH)
    started = now_utc()
    killed_in.add(lost)
    return start(app, world), started


def scheduler_at(app: Flask, moment: datetime) -> list[str]:
    """The scheduler's check at `moment`: the reconciler's job, and the jobs it queues, run in-process then."""
    with time_machine.travel(moment, tick=False), app.app_context():
        with unit_of_work(db.session) as s:
            job_ids = run_due(s)
        db.session.remove()
    return job_ids


def the_run(database, run_id: int) -> CompileRun:  # type: ignore[no-untyped-def]
    with database() as s:
        run = s.get(CompileRun, run_id)
        s.expunge(run)
    return run


def results(database) -> tuple[list[tuple], int]:  # type: ignore[no-untyped-def]
    with database() as s:
        return snapshot(s), s.scalar(select(func.count()).select_from(RatingResult))


@pytest.mark.usefixtures("only_the_reconciler")
def test_a_compile_stopped_by_a_killed_worker_is_requeued_on_schedule_and_ends_as_a_clean_run_would(
    app: Flask, world: World, database, killed_in: set[int | str]
) -> None:
    run_id, started = start_losing(app, world, database, killed_in, world.ids["T2"])
    stopped = the_run(database, run_id)
    assert (stopped.status, stopped.units_done, stopped.finished_at) == (RunStatus.running, 1, None)

    killed_in.clear()  # the workers are healthy again
    timeout = timedelta(seconds=app.config["COMPILE_UNIT_TIMEOUT"])
    assert scheduler_at(app, started + timeout + timedelta(minutes=2))

    run = the_run(database, run_id)
    assert (run.status, run.attempt, run.units_done) == (RunStatus.finished, 2, 2)
    [note] = run.notes
    assert note.endswith(" 第2次尝试：1 个乡镇任务超时，已重新排队")
    reconciled, count = results(database)
    assert count == len(reconciled) == 3 + 3 + 1, "ten-star and ranking per village, one first secretary"

    # The killed job turns up after all (the outbox sweep pushes it again): its town is done, nothing changes.
    with time_machine.travel(now_utc() + timedelta(minutes=1), tick=False), app.app_context():
        assert sweep_outbox(db.session) == 1
        db.session.remove()
    assert results(database) == (reconciled, count)
    assert the_run(database, run_id).units_done == 2

    with database() as s:
        s.execute(RatingResult.__table__.delete())
    start(app, world)
    assert results(database) == (reconciled, count), "the same rows as a compile nobody disturbed"


@pytest.mark.usefixtures("only_the_reconciler")
def test_a_finish_lost_with_its_worker_is_queued_again_and_the_run_completes(
    app: Flask, world: World, database, killed_in: set[int | str]
) -> None:
    run_id, started = start_losing(app, world, database, killed_in, "finish")
    assert (the_run(database, run_id).units_done, the_run(database, run_id).finished_at) == (2, None)

    killed_in.clear()
    scheduler_at(app, started + timedelta(seconds=app.config["COMPILE_UNIT_TIMEOUT"], minutes=2))

    run = the_run(database, run_id)
    assert (run.status, run.attempt, run.units_done, run.counts["ten_star"]) == (RunStatus.finished, 2, 2, 3)
    assert [note.split(" ", 2)[2] for note in run.notes] == ["第2次尝试：县级汇总超时，已重新排队"]


@pytest.mark.usefixtures("only_the_reconciler")
def test_a_compile_that_keeps_stopping_is_failed_after_three_attempts_and_the_runs_page_says_why(
    app: Flask, world: World, database, killed_in: set[int | str], admin
) -> None:
    run_id, started = start_losing(app, world, database, killed_in, world.ids["T2"])
    step = timedelta(seconds=app.config["COMPILE_UNIT_TIMEOUT"]) + timedelta(minutes=2)
    for n in (1, 2, 3):
        scheduler_at(app, started + n * step)

    run = the_run(database, run_id)
    assert (run.status, run.attempt, run.units_done) == (RunStatus.failed, 3, 1)
    assert run.finished_at is not None
    assert [note.split(" ", 2)[2] for note in run.notes] == [
        "第2次尝试：1 个乡镇任务超时，已重新排队",
        "第3次尝试：1 个乡镇任务超时，已重新排队",
        "第3次尝试仍超时，已放弃，汇总标记为失败",
    ]
    reason = (
        "汇总未完成：乡镇任务（河口镇）尝试3次，每次超过5分钟没有进展，已放弃。"
        "请确认后台任务进程（flask worker）在运行，再重新发起汇总"
    )
    assert run.errors == [reason]

    page = html(admin("county_admin").get("/admin/ratings/runs"))
    assert "失败（第3次尝试）" in page and "1/2 个乡镇" in page
    assert "第2次尝试：1 个乡镇任务超时，已重新排队" in page and reason in page

    killed_in.clear()
    again = start(app, world)
    assert again != run_id and the_run(database, again).status == RunStatus.finished, "a failed run can start over"


@pytest.mark.usefixtures("only_the_reconciler")
def test_a_running_compile_within_its_time_is_left_alone(
    app: Flask, world: World, database, killed_in: set[int | str]
) -> None:
    run_id, started = start_losing(app, world, database, killed_in, world.ids["T2"])
    killed_in.clear()
    with database() as s:
        queued = s.scalar(select(func.count()).select_from(OutboxJob))

    timeout = timedelta(seconds=app.config["COMPILE_UNIT_TIMEOUT"])
    assert scheduler_at(app, started + timeout - timedelta(minutes=1)), "the reconciler ran"

    run = the_run(database, run_id)
    assert (run.status, run.attempt, run.units_done, run.notes) == (RunStatus.running, 1, 1, [])
    with database() as s:
        assert s.scalar(select(func.count()).select_from(OutboxJob)) == queued + 1, "its own job, nothing else"


def test_flask_compile_resuming_a_run_says_how_many_town_jobs_it_queued(
    app: Flask, world: World, database, killed_in: set[int | str]
) -> None:
    with database() as s:
        rate_c1(s, world, MONTH)
    killed_in.add(world.ids["T2"])
    cli = app.test_cli_runner()
    first = cli.invoke(args=["compile", "--county", "610999", "--month", MONTH])
    assert "(attempt 1): 2 town job(s) enqueued" in first.output, first.output

    killed_in.clear()
    resumed = cli.invoke(args=["compile", "--county", "610999", "--month", MONTH])
    assert resumed.exit_code == 0, resumed.output
    assert "(attempt 2): 1 town job(s) enqueued" in resumed.output
    with database() as s:
        [run] = s.scalars(select(CompileRun)).all()
        assert (run.status, run.units_done) == (RunStatus.finished, 2)
        assert [note.split(" ", 2)[2] for note in run.notes] == ["第2次尝试：手动续跑，1 个乡镇任务已重新排队"]
