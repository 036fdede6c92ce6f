from __future__ import annotations

from sqlalchemy.orm import Session

from backend.inbox.service import DELIVER_TASK, deliver, push_settings, retry_pending_pushes
from backend.jobs.schedule import scheduled
from backend.jobs.tasks import task


@task(DELIVER_TASK)
def deliver_notification(session: Session, notification_id: int) -> str:
    return deliver(session, notification_id, push_settings()).value


@task("inbox.retry_pending")
def retry_pending(session: Session) -> int:
    """Pushes still pending because WeChat was unavailable."""
    return retry_pending_pushes(session, push_settings())


scheduled("retry-pushes", "inbox.retry_pending", "*/10 * * * *")
