"""Supermarket background work.

Schedule: run `shop.expire_redemptions` hourly (RQ cron, or `flask expire-redemptions` from cron);
it is idempotent, so a missed or doubled run only moves expiries by at most an hour.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from backend.jobs.tasks import task
from backend.shop.redemptions import expire_overdue


@task("shop.expire_redemptions")
def expire_redemptions(session: Session) -> int:
    return expire_overdue(session)
