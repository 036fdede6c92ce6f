"""Import background tasks: the dry run and the apply of one uploaded file (ids in, service call)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from backend.jobs.tasks import task
from backend.org.imports import service
from backend.org.imports.service import APPLY_TASK, CHECK_TASK


@task(CHECK_TASK)
def check_import(session: Session, run_id: int) -> None:
    service.check_run(session, run_id)


@task(APPLY_TASK)
def apply_import(session: Session, run_id: int) -> None:
    service.apply_run(session, run_id)
