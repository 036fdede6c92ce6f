"""Write to a household's inbox. Producers (claims, shop, monthly notice) call `notify` inside
their own unit of work, so a message exists exactly when the change it announces commits."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.inbox.models import Notification


def notify(
    session: Session,
    *,
    household_id: int,
    kind: str,
    title: str,
    body: str,
    ref_type: str | None = None,
    ref_id: int | None = None,
    dedupe_key: str | None = None,
) -> Notification:
    """Add one message; a second call with the same dedupe key (default kind:ref) returns the first."""
    key = dedupe_key or f"{kind}:{ref_type}:{ref_id}:{household_id}"
    existing = session.scalar(select(Notification).where(Notification.dedupe_key == key))
    if existing is not None:
        return existing
    notification = Notification(
        household_id=household_id,
        kind=kind,
        title=title[:60],
        body=body[:300],
        ref_type=ref_type,
        ref_id=ref_id,
        dedupe_key=key,
    )
    session.add(notification)
    session.flush()
    return notification
