from __future__ import annotations

from sqlalchemy.orm import Session

from backend.inbox.service import DELIVER_TASK, deliver, push_settings
from backend.jobs.tasks import task


@task(DELIVER_TASK)
def deliver_notification(session: Session, notification_id: int) -> str:
    return deliver(session, notification_id, push_settings()).value
