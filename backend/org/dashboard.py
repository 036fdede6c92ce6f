"""Headline counts for an admin's scope."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.auth.scope import Scope, active_posting_filter, filter_villages
from backend.org.models import Grid, Household, Posting, Resident
from backend.timeutil import today_local


def dashboard_counts(session: Session, scope: Scope) -> dict[str, int]:
    households = filter_villages(select(Household.id), scope, Household.village_id)
    flagged = households.where(Household.is_poor | Household.is_monitored)
    return {
        "villages": len(scope.village_ids),
        "grids": session.scalar(filter_villages(select(func.count(Grid.id)), scope, Grid.village_id)) or 0,
        "households": session.scalar(select(func.count()).select_from(households.subquery())) or 0,
        "residents": session.scalar(select(func.count(Resident.id)).where(Resident.household_id.in_(households))) or 0,
        "flagged_households": session.scalar(select(func.count()).select_from(flagged.subquery())) or 0,
        "cadres_on_post": session.scalar(
            filter_villages(
                select(func.count(func.distinct(Posting.cadre_id))).where(active_posting_filter(today_local())),
                scope,
                Posting.village_id,
            )
        )
        or 0,
    }
