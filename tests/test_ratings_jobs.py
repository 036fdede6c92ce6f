"""Compile on a real Redis and real RQ worker processes: a worker killed mid-compile (resumed by hand, or by the
reconciler), and two compiles at once."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from flask import Flask
from sqlalchemy import create_engine, func, select, text

from backend.db import db
from backend.ratings.compile import compile_month
from backend.ratings.models import CompileRun, CompileUnit, RatingResult, RunStatus
from backend.timeutil import now_utc, today_local
from backend.transaction import unit_of_work
from tests.factories import World
from tests.factories_ratings import rate_c1, snapshot
from tests.test_jobs import queue_name, redis_app  # noqa: F401
from tests.worker_process import PROJECT_ROOT, BurstWorker, worker_env

# Last month: the world's first secretary has been posted for 200 days, so he is rated too.
MONTH = f"{today_local().replace(day=1) - timedelta(days=1):%Y-%m}"


def seed(database, world: World) -> None:  # type: ignore[no-untyped-def]
    with database() as s:
        rate_c1(s, world, MONTH)


def start_compile(app: Flask, county_id: int) -> int:
    with app.app_context():
        with unit_of_work(db.session) as s:
            run_id = compile_month(s, county_id, MONTH).run.id
        db.session.remove()
    return run_id


def state(app: Flask) -> tuple[list[tuple], int, list[CompileRun]]:
    with app.app_context():
        rows = snapshot(db.session)
        count = db.session.scalar(select(func.count()).select_from(RatingResult))
        runs = list(db.session.scalars(select(CompileRun).order_by(CompileRun.id)))
        db.session.expunge_all()
        db.session.remove()
    return rows, count, runs


def clean_run(app: Flask, world: World, queue_name: str, burst_worker: BurstWorker) -> list[tuple]:  # noqa: F811
    """The reference: results wiped, compiled once from scratch by a worker nobody disturbs."""
    with app.app_context():
        with unit_of_work(db.session) as s:
            s.execute(RatingResult.__table__.delete())
        db.session.remove()
    start_compile(app, world.ids["C1"])
    done = burst_worker.run(app, queue_name)
    assert done.returncode == 0, done.stderr[-3000:]
    return state(app)[0]


@pytest.mark.redis
def test_worker_killed_mid_compile_then_resumed_gives_the_clean_result_without_duplicates(
    redis_app: Flask,  # noqa: F811
    queue_name: str,  # noqa: F811
    world: World,
    database,
    tmp_path: Path,
    burst_worker: BurstWorker,
) -> None:
    url = redis_app.config["SQLALCHEMY_DATABASE_URI"]
    if not url.startswith("postgresql"):
        pytest.skip("holding one row lock while the worker runs needs PostgreSQL (SQLite locks the whole file)")
    seed(database, world)
    run_id = start_compile(redis_app, world.ids["C1"])

    # Hold town T2's unit so the worker finishes T1 and then blocks inside T2's job, mid-compile.
    blocker = create_engine(url)
    conn = blocker.connect()
    tx = conn.begin()
    conn.execute(select(CompileUnit).where(CompileUnit.town_id == world.ids["T2"]).with_for_update())
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "worker", "--burst", "--queue", queue_name],
        cwd=PROJECT_ROOT,
        env=worker_env(redis_app, tmp_path / "killed"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        watcher = blocker.connect()
        while time.monotonic() < deadline:
            t1_done = watcher.execute(
                select(CompileUnit.finished_at).where(
                    CompileUnit.run_id == run_id, CompileUnit.town_id == world.ids["T1"]
                )
            ).scalar()
            waiting = watcher.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
            ).scalar()
            watcher.commit()
            if t1_done is not None and waiting:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the worker never reached town T2")
        watcher.close()
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
        tx.rollback()
        conn.close()
        blocker.dispose()

    _rows, _count, [run] = state(redis_app)
    assert run.finished_at is None and run.units_done == 1, "killed between the two towns"

    resumed = start_compile(redis_app, world.ids["C1"])
    done = burst_worker.run(redis_app, queue_name)
    assert done.returncode == 0, done.stderr[-3000:]

    after_crash, count, runs = state(redis_app)
    assert resumed == run_id and [(r.status, r.attempt, r.units_done) for r in runs] == [(RunStatus.finished, 2, 2)]
    assert count == len(after_crash) == 3 + 3 + 1, "ten-star and ranking per village, one first secretary"
    assert clean_run(redis_app, world, queue_name, burst_worker) == after_crash


@pytest.mark.redis
def test_a_town_job_lost_with_its_worker_is_requeued_by_the_reconciler_and_gives_the_clean_result(
    redis_app: Flask,  # noqa: F811
    queue_name: str,  # noqa: F811
    world: World,
    database,
    burst_worker: BurstWorker,
) -> None:
    from rq.job import Job

    from backend.ratings.jobs import reconcile

    seed(database, world)
    run_id = start_compile(redis_app, world.ids["C1"])
    queue = redis_app.extensions["xz_jobs"].queue
    lost = f"ratings-compile-c{world.ids['C1']}-{MONTH}-r{run_id}-a1-t{world.ids['T2']}"
    queue.remove(lost)  # a worker took town T2's job and was killed with it
    done = burst_worker.run(redis_app, queue_name)
    assert done.returncode == 0, done.stderr[-3000:]
    _rows, _count, [run] = state(redis_app)
    assert (run.finished_at, run.units_done) == (None, 1), "T1 done, T2 lost"

    with redis_app.app_context():
        for late_by in (-60, 60):  # within its time the run is left alone; past it, T2 is queued again
            after = timedelta(seconds=redis_app.config["COMPILE_UNIT_TIMEOUT"] + late_by)
            with time_machine.travel(now_utc() + after, tick=False), unit_of_work(db.session) as s:
                acted_on = reconcile(s)
            assert acted_on == ([run_id] if late_by > 0 else [])
        db.session.remove()
    assert queue.job_ids == [lost.replace("-a1-", "-a2-")]
    queue.enqueue_job(Job.fetch(lost, connection=queue.connection))  # the lost job turns up after all
    done = burst_worker.run(redis_app, queue_name)
    assert done.returncode == 0, done.stderr[-3000:]

    reconciled, count, runs = state(redis_app)
    assert [(r.status, r.attempt, r.units_done) for r in runs] == [(RunStatus.finished, 2, 2)]
    assert count == len(reconciled) == 7
    assert clean_run(redis_app, world, queue_name, burst_worker) == reconciled


@pytest.mark.redis
def test_two_compiles_started_at_once_make_one_run_and_one_set_of_results(
    redis_app: Flask,  # noqa: F811
    queue_name: str,  # noqa: F811
    world: World,
    database,
    burst_worker: BurstWorker,
) -> None:
    seed(database, world)
    barrier = threading.Barrier(2)
    run_ids: list[int] = []

    def start() -> None:
        with redis_app.app_context():
            barrier.wait()
            with unit_of_work(db.session) as s:
                run_ids.append(compile_month(s, world.ids["C1"], MONTH).run.id)
            db.session.remove()

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    done = burst_worker.run(redis_app, queue_name)
    assert done.returncode == 0, done.stderr[-3000:]

    together, count, runs = state(redis_app)
    assert len(set(run_ids)) == 1 and len(runs) == 1 and runs[0].status == RunStatus.finished
    assert count == len(together) == 7
    assert clean_run(redis_app, world, queue_name, burst_worker) == together


@pytest.mark.redis
def test_a_town_that_fails_for_real_is_a_failed_job_in_rq_and_its_error_is_on_the_run(
    redis_app: Flask,  # noqa: F811
    queue_name: str,  # noqa: F811
    world: World,
    database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from rq import SimpleWorker
    from rq.job import Job, JobStatus

    from backend.ratings import compile as ratings_compile

    real = ratings_compile.compile_villages

    def broken_in_t2(session, county_id, month, villages, *args):  # type: ignore[no-untyped-def]
        if villages[0].town_id == world.ids["T2"]:
            raise ValueError("方案定义缺少指标")
        return real(session, county_id, month, villages, *args)

    seed(database, world)
    monkeypatch.setattr(ratings_compile, "compile_villages", broken_in_t2)
    run_id = start_compile(redis_app, world.ids["C1"])
    queue = redis_app.extensions["xz_jobs"].queue
    prefix = f"ratings-compile-c{world.ids['C1']}-{MONTH}-r{run_id}-a1"
    town_jobs = {town: f"{prefix}-t{world.ids[town]}" for town in ("T1", "T2")}
    assert sorted(queue.job_ids) == sorted(town_jobs.values())

    # A worker in this process (the broken compile is patched in here), as `flask worker` runs them: no fork.
    with redis_app.app_context():
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
        db.session.remove()

    status = {name: Job.fetch(job_id, connection=queue.connection).get_status() for name, job_id in town_jobs.items()}
    assert status == {"T1": JobStatus.FINISHED, "T2": JobStatus.FAILED}
    assert queue.failed_job_registry.get_job_ids() == [town_jobs["T2"]]
    finalize = Job.fetch(f"ratings-finalize-r{run_id}-a1", connection=queue.connection)
    assert finalize.get_status() == JobStatus.FINISHED, "the failed town still counts as done"
    _rows, _count, [run] = state(redis_app)
    assert (run.status, run.units_done, run.errors) == (RunStatus.failed, 2, ["ValueError: 方案定义缺少指标"])
