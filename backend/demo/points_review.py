"""Demo: this month's claims waiting in three villages' review queues, and a scheduled rule book version.

Through the real services: villagers declare a deed (one needing no photo), grid cadres record deeds and
misconduct for households of their village with photos as evidence, the review panel approves a few (so
balances and the month's trend move) and leaves the rest for the demo reviewer. The first village's town
admin schedules the village's own rule book from the 1st of next month. Deterministic (own random stream).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.auth.models import Role, User
from backend.auth.scope import scope_for
from backend.demo.photos import demo_photo
from backend.org.models import County, Household, Posting, Town, Village
from backend.photos.service import attach_photos
from backend.points.claims import approve_claim, period_bounds, submit_claim
from backend.points.models import CapPeriod, Claim, ItemKind
from backend.points.rules import ItemInput, VersionChanges, active_rule_book, start_version, update_version
from backend.timeutil import today_local

SEED = 20261201
DEMO_VILLAGES = 3
RECORDED_PER_VILLAGE = 5
APPROVED_PER_VILLAGE = 2


@dataclass
class ReviewDemoSummary:
    pending: int = 0
    approved: int = 0
    photos: int = 0
    scheduled_versions: int = 0


def seed_review_demo(session: Session, county: County, today: date | None = None) -> ReviewDemoSummary:
    rng = random.Random(SEED)
    today = today or today_local()
    summary = ReviewDemoSummary()
    villages = session.scalars(
        select(Village).join(Town).where(Town.county_id == county.id).order_by(Village.code).limit(DEMO_VILLAGES)
    ).all()
    for village in villages:
        _seed_village(session, rng, village, today, summary)
    if villages:
        _schedule_version(session, villages[0], today, summary)
    return summary


def _days_this_month(today: date) -> list[date]:
    start, _end = period_bounds(today, CapPeriod.month)
    return [start + timedelta(days=n) for n in range((today - start).days + 1)]


def _seed_village(
    session: Session, rng: random.Random, village: Village, today: date, summary: ReviewDemoSummary
) -> None:
    book = active_rule_book(session, village.id, today)
    # Villagers declare a deed needing no photo (P06 村民会议 in the preset); cadres record uncapped items, so
    # earlier months' demo claims can never fill a quarterly or yearly cap and refuse an approval here.
    declarable = [
        i
        for i in book.items
        if i.kind == ItemKind.positive and not i.evidence_required and i.cap_period in (None, CapPeriod.month)
    ][:1]
    recordable = [i for i in book.items if i.kind != ItemKind.veto and i.cap_count is None]
    days = _days_this_month(today)
    villagers = session.scalars(
        select(User)
        .join(Household, Household.id == User.household_id)
        .where(User.role == Role.villager, Household.village_id == village.id)
        .order_by(User.id)
    ).all()
    reviewer = session.scalar(
        select(User).where(User.role == Role.reviewer, User.village_id == village.id).order_by(User.id).limit(1)
    )
    cadre = session.scalar(
        select(User)
        .join(Posting, Posting.cadre_id == User.cadre_id)
        .where(User.role == Role.cadre, Posting.village_id == village.id)
        .order_by(User.id)
        .limit(1)
    )
    claims: list[Claim] = []
    for villager in villagers:
        scope = scope_for(session, villager, today)
        for item in declarable:
            claims.append(
                submit_claim(
                    session, scope, villager, rule_item_id=item.id, occurred_on=rng.choice(days), note=item.title
                )
            )
    if cadre is not None:
        scope = scope_for(session, cadre, today)
        households = session.scalars(
            select(Household).where(Household.village_id == village.id).order_by(Household.number)
        ).all()
        for household, item in zip(
            rng.sample(households, RECORDED_PER_VILLAGE), rng.sample(recordable, RECORDED_PER_VILLAGE), strict=True
        ):
            claim = submit_claim(
                session,
                scope,
                cadre,
                rule_item_id=item.id,
                occurred_on=rng.choice(days),
                note=f"网格员入户核实：{item.title}",
                household_id=household.id,
            )
            photos = [demo_photo(session, rng, user=cadre, scope=scope, event=item.title) for _ in range(2)]
            attach_photos(
                session,
                actor=scope,
                photo_ids=[p.id for p in photos],
                owner_type="claim",
                owner_id=claim.id,
                village_id=village.id,
                household_id=household.id,
            )
            summary.photos += len(photos)
            claims.append(claim)
    if reviewer is not None:
        review_scope = scope_for(session, reviewer, today)
        for claim in claims[:APPROVED_PER_VILLAGE]:
            approve_claim(session, review_scope, reviewer, claim.id)
        summary.approved += min(APPROVED_PER_VILLAGE, len(claims))
    summary.pending += max(0, len(claims) - APPROVED_PER_VILLAGE)


def _schedule_version(session: Session, village: Village, today: date, summary: ReviewDemoSummary) -> None:
    """The town admin gives the village its own book from next month: one deed worth more, one new deed."""
    admin = session.scalar(select(User).where(User.role == Role.town_admin, User.town_id == village.town_id))
    if admin is None:
        return
    _start, next_month = period_bounds(today, CapPeriod.month)
    book = start_version(session, admin, village, next_month)
    items = [
        ItemInput(
            code=i.code,
            kind=i.kind,
            title=i.title,
            points=i.points + (5 if position == 0 else 0),
            evidence_required=i.evidence_required,
            cap_count=i.cap_count,
            cap_period=i.cap_period,
        )
        for position, i in enumerate(book.items)
    ]
    items.append(ItemInput(code=None, kind=ItemKind.positive, title="参加“积分超市”志愿值守", points=3))
    update_version(
        session,
        scope_for(session, admin, today),
        admin,
        book.id,
        VersionChanges(
            title=f"{village.name}村民积分管理办法",
            effective_from=next_month,
            base_score=book.base_score,
            review_quorum=book.review_quorum,
            veto_blocks_redemption=book.veto_blocks_redemption,
            items=items,
        ),
    )
    summary.scheduled_versions += 1
