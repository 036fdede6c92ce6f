from __future__ import annotations

from sqlalchemy.orm import Session

from backend.jobs.tasks import task
from backend.points.notice import lock_due_notices


@task("points.lock_due_notices")
def lock_notices(session: Session) -> int:
    """Run daily (e.g. 00:05 Asia/Shanghai = 16:05 UTC): locks notices whose objection window passed quietly."""
    return lock_due_notices(session)
