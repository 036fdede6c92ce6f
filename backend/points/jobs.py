from __future__ import annotations

from sqlalchemy.orm import Session

from backend.jobs.schedule import scheduled
from backend.jobs.tasks import task
from backend.points.notice import lock_due_notices


@task("points.lock_due_notices")
def lock_notices(session: Session) -> int:
    """Locks notices whose objection window passed with no open objection."""
    return lock_due_notices(session)


scheduled("lock-notices", "points.lock_due_notices", "5 0 * * *")  # daily, 00:05
