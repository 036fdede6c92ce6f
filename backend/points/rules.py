"""Rule books: versioned per county, town or village; a village uses the most specific one in force."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from backend.auth.scope import Scope
from backend.errors import InvalidRequest, NoRuleBook, NotInScope
from backend.org.models import County, Town, Village
from backend.points.models import CapPeriod, ItemKind, RuleBook, RuleItem
from backend.points.presets import PRESETS, PresetItem
from backend.timeutil import today_local

Owner = County | Town | Village


def _owner_key(owner: Owner) -> str:
    return f"{owner.__tablename__}:{owner.id}"


def create_rule_book(
    session: Session,
    owner: Owner,
    *,
    title: str,
    effective_from: date,
    base_score: int,
    items: list[PresetItem],
    review_quorum: int = 1,
    actor_id: int | None = None,
) -> RuleBook:
    """Add the next version for this owner. Earlier versions stay as they were: claims point at them."""
    codes = [item["code"] for item in items]
    if len(codes) != len(set(codes)):
        raise InvalidRequest(errors={"items": ["事项编号不能重复"]})
    key = _owner_key(owner)
    version = (session.scalar(select(func.max(RuleBook.version)).where(RuleBook.owner == key)) or 0) + 1
    book = RuleBook(
        owner=key,
        county_id=owner.id if isinstance(owner, County) else None,
        town_id=owner.id if isinstance(owner, Town) else None,
        village_id=owner.id if isinstance(owner, Village) else None,
        version=version,
        title=title,
        effective_from=effective_from,
        base_score=base_score,
        review_quorum=review_quorum,
        created_by_id=actor_id,
    )
    book.items = [
        RuleItem(
            code=item["code"],
            kind=ItemKind(item["kind"]),
            title=item["title"],
            points=item["points"],
            evidence_required=item.get("evidence_required", False),
            cap_count=item.get("cap_count"),
            cap_period=CapPeriod(item["cap_period"]) if item.get("cap_period") else None,
            position=position,
        )
        for position, item in enumerate(items)
    ]
    session.add(book)
    session.flush()
    return book


def install_preset(
    session: Session, owner: Owner, preset: str, effective_from: date, actor_id: int | None = None
) -> RuleBook:
    data = PRESETS[preset]
    return create_rule_book(
        session,
        owner,
        title=data["title"],
        effective_from=effective_from,
        base_score=data["base_score"],
        items=data["items"],
        actor_id=actor_id,
    )


def active_rule_book(session: Session, village_id: int, on: date) -> RuleBook:
    """The village's own book if it has one in force, else its town's, else its county's."""
    village = session.get_one(Village, village_id)
    for owner in (village, village.town, village.town.county):
        book = session.scalar(
            select(RuleBook)
            .where(RuleBook.owner == _owner_key(owner), RuleBook.effective_from <= on)
            .order_by(RuleBook.effective_from.desc(), RuleBook.version.desc())
            .options(selectinload(RuleBook.items))
            .limit(1)
        )
        if book is not None:
            return book
    raise NoRuleBook()


def rules_in_force(session: Session, scope: Scope, village_id: int | None) -> RuleBook:
    """The book a caller's village uses today; callers covering several villages must name one."""
    if village_id is None:
        if len(scope.village_ids) != 1:
            raise InvalidRequest(errors={"village_id": ["请指定村"]})
        village_id = next(iter(scope.village_ids))
    if not scope.covers_village(village_id):
        raise NotInScope()
    return active_rule_book(session, village_id, today_local())
