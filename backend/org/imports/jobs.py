"""Import background tasks: the dry run and the apply of one uploaded file (ids in, service call), and the
reconciler of runs whose job was lost."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy.orm import Session

from backend.jobs.schedule import scheduled
from backend.jobs.tasks import task
from backend.org.imports import service
from backend.org.imports.service import APPLY_TASK, CHECK_TASK


@task(CHECK_TASK)
def check_import(session: Session, run_id: int) -> None:
    service.check_run(session, run_id)


@task(APPLY_TASK)
def apply_import(session: Session, run_id: int) -> None:
    service.apply_run(session, run_id)


@task("org.import_reconcile")
def reconcile_imports(session: Session) -> list[int]:
    return service.reconcile_runs(session, timedelta(seconds=current_app.config["IMPORT_STALE_SECONDS"]))


# Every five minutes: a run whose worker was killed shows 导入失败 within IMPORT_STALE_SECONDS plus five minutes.
scheduled("import-reconcile", "org.import_reconcile", "*/5 * * * *")
