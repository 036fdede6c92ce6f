"""The closing job on a real Redis: `flask schedule` queues it, a real RQ worker process freezes."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from backend.db import db
from backend.surveys.models import Survey, SurveyAlert, SurveyResult
from backend.timeutil import now_utc
from tests.test_jobs import queue_name, redis_app  # noqa: F401  (fixtures)
from tests.test_surveys import seed_known_answers
from tests.worker_process import BurstWorker


@pytest.mark.redis
def test_a_real_worker_compiles_freezes_and_alerts_what_the_cli_queued(
    redis_app: Flask,  # noqa: F811
    queue_name: str,  # noqa: F811
    world,  # type: ignore[no-untyped-def]
    burst_worker: BurstWorker,
) -> None:
    survey_id = world.ids["survey"]
    seed_known_answers(redis_app, survey_id)
    with redis_app.app_context():
        db.session.execute(update(Survey).where(Survey.id == survey_id).values(closes_at=now_utc()))
        db.session.commit()
        db.session.remove()

    queued = redis_app.test_cli_runner().invoke(args=["schedule"])

    assert queued.exit_code == 0, queued.output
    queue = redis_app.extensions["xz_jobs"].queue
    assert [job_id for job_id in queue.job_ids if job_id.startswith("close-due-surveys-")]
    with redis_app.app_context():
        assert db.session.get(SurveyResult, survey_id) is None, "nothing compiled in the web process"
        db.session.remove()

    done = burst_worker.run(redis_app, queue_name)

    assert done.returncode == 0, done.stderr[-3000:]
    with redis_app.app_context():
        result = db.session.get(SurveyResult, survey_id)
        assert result is not None and result.is_final
        assert (result.scored_answers, result.satisfied_answers) == (30, 17)
        assert db.session.get(Survey, survey_id).frozen_at is not None
        assert db.session.scalar(select(func.count()).select_from(SurveyAlert)) == 1
        db.session.remove()
