"""Reading the region tree and households within a user's scope."""

from __future__ import annotations

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, selectinload

from backend.auth.scope import Scope, filter_households, filter_villages, load_household
from backend.crypto import lookup_hash
from backend.org.models import Cadre, Household, Posting, Resident, Village

HOUSEHOLD_FLAGS = {
    "poor": (Household.is_poor, "脱贫户"),
    "monitored": (Household.is_monitored, "监测户"),
    "low_income": (Household.is_low_income, "低保户"),
    "relocated": (Household.is_relocated, "易地搬迁户"),
    "disabled": (Household.has_disabled, "残疾人户"),
    "serious_illness": (Household.has_serious_illness, "大病户"),
}


def household_flags(household: Household) -> list[str]:
    return [key for key, (column, _label) in HOUSEHOLD_FLAGS.items() if getattr(household, column.key)]


def households_query(
    scope: Scope, *, village_id: int | None = None, flag: str | None = None, search: str | None = None
) -> Select[tuple[Household]]:
    """Households the scope covers, optionally filtered; `search` matches 户号 or a member's exact name."""
    stmt = filter_households(select(Household), scope, Household.id, Household.village_id)
    if village_id is not None:
        stmt = stmt.where(Household.village_id == village_id)
    if flag in HOUSEHOLD_FLAGS:
        stmt = stmt.where(HOUSEHOLD_FLAGS[flag][0].is_(True))
    if search:
        term = search.strip()
        by_name = select(Resident.household_id).where(Resident.name_hash == lookup_hash(term))
        stmt = stmt.where(or_(Household.number.contains(term, autoescape=True), Household.id.in_(by_name)))
    return stmt.options(selectinload(Household.residents))


def household_detail(session: Session, scope: Scope, household_id: int) -> Household:
    return load_household(session, scope, household_id)


def villages_query(scope: Scope, search: str | None = None) -> Select[tuple[Village]]:
    stmt = filter_villages(select(Village), scope, Village.id)
    if search:
        term = search.strip()
        stmt = stmt.where(or_(Village.name.contains(term, autoescape=True), Village.code.startswith(term)))
    return stmt


def cadres_query(scope: Scope, search: str | None = None) -> Select[tuple[Cadre]]:
    """Cadres with a posting (any time) in a village of the scope."""
    posted = filter_villages(select(Posting.cadre_id), scope, Posting.village_id)
    stmt = select(Cadre).where(Cadre.id.in_(posted)).options(selectinload(Cadre.postings).selectinload(Posting.village))
    if search:
        stmt = stmt.where(Cadre.name_hash == lookup_hash(search.strip()))
    return stmt


def count(session: Session, stmt: Select) -> int:
    return session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
