"""Survey jobs: compile on demand, and the closing sweep that freezes every survey past its closing time.

The sweep is on the schedule (backend/jobs/schedule.py) every five minutes. Each run is
idempotent: a frozen survey is skipped, so overlapping runs cannot double-alert.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from backend.jobs.schedule import scheduled
from backend.jobs.tasks import task
from backend.surveys.results import close_survey, compile_on_demand, due_surveys


@task("surveys.compile")
def compile_survey(session: Session, survey_id: int) -> int:
    return compile_on_demand(session, survey_id).survey_id


@task("surveys.close_due")
def close_due(session: Session) -> list[int]:
    closed = due_surveys(session)
    for survey_id in closed:
        close_survey(session, survey_id)
    return closed


scheduled("close-due-surveys", "surveys.close_due", "*/5 * * * *")
