"""The one place that decides which part of the region tree a user may see.

Every service that lists or loads household- or village-level data goes through these
functions, so a role can never reach outside its subtree by forgetting a filter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, Select, or_, select, true
from sqlalchemy.orm import Session

from backend.auth.models import Role, User
from backend.errors import NotFound, NotInScope
from backend.org.models import Cadre, Household, Posting, Town, Village
from backend.timeutil import today_local


@dataclass(frozen=True)
class Scope:
    user_id: int
    role: Role
    village_ids: frozenset[int]
    # Set for villagers: household-level data is limited to this one household.
    household_id: int | None = None

    def covers_village(self, village_id: int) -> bool:
        return village_id in self.village_ids

    def covers_household(self, household_id: int, village_id: int) -> bool:
        if self.household_id is not None:
            return household_id == self.household_id
        return village_id in self.village_ids


def active_posting_filter(on: date) -> ColumnElement[bool]:
    return (Posting.start_on <= on) & or_(Posting.end_on.is_(None), Posting.end_on >= on)


def scope_for(session: Session, user: User, on: date | None = None) -> Scope:
    on = on or today_local()
    ids: Select[tuple[int]]
    household_id = None
    if user.role == Role.villager:
        if user.household_id is None:
            return Scope(user.id, user.role, frozenset())
        household = session.get(Household, user.household_id)
        household_id = user.household_id
        return Scope(user.id, user.role, frozenset({household.village_id}) if household else frozenset(), household_id)
    if user.role == Role.cadre:
        ids = select(Posting.village_id).where(Posting.cadre_id == user.cadre_id, active_posting_filter(on))
    elif user.role == Role.reviewer:
        ids = select(Village.id).where(Village.id == user.village_id)
    elif user.role == Role.town_admin:
        ids = select(Village.id).where(Village.town_id == user.town_id)
    elif user.role == Role.county_admin:
        ids = select(Village.id).join(Town).where(Town.county_id == user.county_id)
    else:  # pragma: no cover - enum is closed
        raise NotInScope()
    return Scope(user.id, user.role, frozenset(session.scalars(ids)))


def filter_villages(stmt: Select, scope: Scope, village_column: ColumnElement[int]) -> Select:
    return stmt.where(village_column.in_(scope.village_ids)) if scope.village_ids else stmt.where(~true())


def filter_households(
    stmt: Select, scope: Scope, household_column: ColumnElement[int], village_column: ColumnElement[int]
) -> Select:
    if scope.household_id is not None:
        return stmt.where(household_column == scope.household_id)
    return filter_villages(stmt, scope, village_column)


def load_household(session: Session, scope: Scope, household_id: int) -> Household:
    """Load a household the user may see, or raise not_found / not_in_scope."""
    household = session.get(Household, household_id)
    if household is None:
        raise NotFound("户不存在")
    if not scope.covers_household(household.id, household.village_id):
        raise NotInScope()
    return household


def load_village(session: Session, scope: Scope, village_id: int) -> Village:
    village = session.get(Village, village_id)
    if village is None:
        raise NotFound("村不存在")
    if not scope.covers_village(village.id):
        raise NotInScope()
    return village


def posted_cadre_ids(scope: Scope) -> Select[tuple[int]]:
    """The cadres an admin manages: those posted (now or before) in one of the scope's villages."""
    return filter_villages(select(Posting.cadre_id), scope, Posting.village_id)


def load_cadre(session: Session, scope: Scope, cadre_id: int) -> Cadre:
    cadre = session.get(Cadre, cadre_id)
    if cadre is None:
        raise NotFound("干部不存在")
    if session.scalar(posted_cadre_ids(scope).where(Posting.cadre_id == cadre.id).limit(1)) is None:
        raise NotInScope()
    return cadre
