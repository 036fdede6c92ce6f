"""What a worker runs: one task inside its own app context and transaction boundary."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app, has_app_context
from sqlalchemy import update

from backend.db import db
from backend.jobs.models import OutboxJob
from backend.jobs.tasks import TASKS, RecordedError, load_all_tasks
from backend.timeutil import now_utc
from backend.transaction import unit_of_work

log = logging.getLogger(__name__)

_worker_app: Flask | None = None


def set_worker_app(app: Flask) -> None:
    global _worker_app
    _worker_app = app


def _app() -> Flask:
    global _worker_app
    if _worker_app is None:
        from backend.app import create_app

        _worker_app = create_app()
    return _worker_app


def execute(task: str, kwargs: dict[str, Any], outbox_id: int | None = None) -> Any:
    """Run a task in the current app context: its work and the outbox mark commit together.

    A task that raises RecordedError has its writes (the record of its failure) committed too, and then fails.
    """
    load_all_tasks()
    func = TASKS[task]
    result: Any = None
    failed: RecordedError | None = None
    with unit_of_work(db.session):
        try:
            result = func(db.session, **kwargs)
        except RecordedError as exc:
            failed = exc
        if outbox_id is not None:
            db.session.execute(
                update(OutboxJob)
                .where(OutboxJob.id == outbox_id, OutboxJob.dispatched_at.is_(None))
                .values(dispatched_at=now_utc())
            )
    if failed is not None:
        raise failed
    return result


def run_task(task: str, kwargs: dict[str, Any], outbox_id: int | None = None) -> Any:
    """RQ entry point."""
    if has_app_context():
        return execute(task, kwargs, outbox_id)
    with _app().app_context():
        log.info("job %s started", task)
        result = execute(task, kwargs, outbox_id)
        current_app.logger.info("job %s finished", task)
        return result
