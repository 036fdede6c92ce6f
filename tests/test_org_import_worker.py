"""A large import runs in a real RQ worker process: the upload answers at once, the dry run and the apply happen
in the worker, and the page reads their outcome (and, meanwhile, their progress) from the import's row."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from backend.db import db
from backend.org.imports.models import ImportRun, ImportStatus
from backend.org.imports.service import progress_reporter
from backend.org.models import Household, Village
from backend.timeutil import now_utc
from backend.transaction import unit_of_work
from tests.admin_helpers import PASSWORD, html, post_login
from tests.factories import World
from tests.test_jobs import queue_name, redis_app  # noqa: F401  (fixtures)
from tests.test_org_import import FULL_FILE, NEW_VILLAGE, confirm, upload
from tests.worker_process import BurstWorker


def status(app: Flask, run_id: int) -> ImportStatus:
    with app.app_context():
        value = db.session.get(ImportRun, run_id).status
        db.session.remove()
    return value


@pytest.mark.redis
def test_a_worker_process_checks_and_then_applies_an_uploaded_file(
    redis_app: Flask,  # noqa: F811  (the fixture imported above)
    queue_name: str,  # noqa: F811
    world: World,
    with_password,  # type: ignore[no-untyped-def]
    burst_worker: BurstWorker,
) -> None:
    browser = redis_app.test_client()
    assert post_login(browser, with_password("county_admin"), PASSWORD).status_code == 302
    run_id = upload(browser, FULL_FILE)
    queue = redis_app.extensions["xz_jobs"].queue
    assert queue.job_ids == [f"import-check-{run_id}"]
    assert status(redis_app, run_id) == ImportStatus.checking, "the web process must not do the work"
    assert "检查中" in html(browser.get(f"/admin/imports?run={run_id}"))

    done = burst_worker.run(redis_app, queue_name)
    assert done.returncode == 0, done.stderr[-3000:]
    assert status(redis_app, run_id) == ImportStatus.ready
    assert browser.get(f"/admin/imports?run={run_id}&format=json").json["running"] is False

    assert confirm(browser, run_id).status_code == 302
    assert browser.get(f"/admin/imports?run={run_id}&format=json").json == {
        "status": "applying",
        "status_label": "导入中",
        "progress": 0,
        "running": True,
    }
    done = burst_worker.run(redis_app, queue_name)
    assert done.returncode == 0, done.stderr[-3000:]
    assert status(redis_app, run_id) == ImportStatus.applied
    with redis_app.app_context():
        count = db.session.scalar(
            select(func.count()).select_from(Household).join(Village).where(Village.code == NEW_VILLAGE)
        )
        db.session.remove()
    assert count == 2


@pytest.mark.real_commits  # the page's connection reads what the job's second connection committed
def test_the_page_sees_a_running_job_s_progress_and_its_last_move_before_the_job_commits(
    app: Flask, world: World, database
) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("progress is written on a second connection on PostgreSQL only (SQLite has one writer)")
    with database() as s:
        run = ImportRun(
            user_id=world.ids["user:county_admin"], county_id=world.ids["C1"], file_name="a.xlsx",
            file_data=b"", status=ImportStatus.applying, progress=0, progressed_at=now_utc() - timedelta(hours=1),
        )  # fmt: skip
        s.add(run)
        s.flush()
        run_id = run.id
    with app.app_context(), unit_of_work(db.session) as job:
        job.execute(select(ImportRun.status).where(ImportRun.id == run_id))  # the job's transaction is open
        progress_reporter(job, run_id, 50, 100)(0.5)
        with db.engine.connect() as page:
            progress, moved_at = page.execute(
                select(ImportRun.progress, ImportRun.progressed_at).where(ImportRun.id == run_id)
            ).one()
        assert progress == 75
        assert moved_at > now_utc() - timedelta(minutes=5), "a moving job is not taken for a lost one"
