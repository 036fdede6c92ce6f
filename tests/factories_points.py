"""Points helpers for tests: record and approve claims through the services, months relative to today."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.auth.models import User
from backend.auth.scope import Scope, scope_for
from backend.months import Month
from backend.points.claims import approve_claim, submit_claim
from backend.points.models import LedgerEntry
from backend.timeutil import today_local
from tests.factories import World

TODAY = today_local()
THIS_MONTH = str(Month.of(TODAY))
LAST_DAY_OF_PREV = TODAY.replace(day=1) - timedelta(days=1)
PREV_MONTH = str(Month.of(LAST_DAY_OF_PREV))


def acting(session: Session, world: World, name: str) -> tuple[User, Scope]:
    user = session.get_one(User, world.ids[f"user:{name}"])
    return user, scope_for(session, user)


def record_and_approve(session: Session, world: World, household: str, item: str, on: date) -> int:
    """A cadre records the item for the household and the V1 review panel approves it; returns the claim id."""
    cadre, cadre_scope = acting(session, world, "cadre")
    claim = submit_claim(
        session,
        cadre_scope,
        cadre,
        rule_item_id=world.ids[f"item:{item}"],
        occurred_on=on,
        note="",
        household_id=world.ids[household],
    )
    reviewer, reviewer_scope = acting(session, world, "reviewer")
    approve_claim(session, reviewer_scope, reviewer, claim.id)
    return claim.id


def entry_of_claim(session: Session, claim_id: int) -> LedgerEntry:
    return session.scalars(
        select(LedgerEntry).where(LedgerEntry.source_type == "claim", LedgerEntry.source_id == claim_id)
    ).one()
