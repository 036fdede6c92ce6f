"""Supermarket background work.

`shop.expire_redemptions` runs hourly from the schedule; it is idempotent, so a missed or doubled
run only moves expiries by at most an hour.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from backend.jobs.schedule import scheduled
from backend.jobs.tasks import task
from backend.shop.redemptions import expire_overdue


@task("shop.expire_redemptions")
def expire_redemptions(session: Session) -> int:
    return expire_overdue(session)


scheduled("expire-redemptions", "shop.expire_redemptions", "20 * * * *")  # hourly, twenty past
