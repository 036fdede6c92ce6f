"""Demo points in the demo county, all through the real services: the county's rule book, three months of
notices in two villages and this month's review queues in three. Each part is deterministic for a given
date (its own random stream); months are relative to today.

Notices: per village, claims recorded and declared, approved or rejected by the village's review panel; the
month before last and the one before it closed, objected to (one upheld with a correction, one dismissed)
and locked; last month published with its objection window open. Rankings, honors and inbox messages
follow from these records.

Review queues: villagers declare a deed (one needing no photo), grid cadres record deeds and misconduct
for households of their village with photos as evidence, the review panel approves a few (so balances
and the month's trend move) and leaves the rest for the demo reviewer. The first village's town admin
schedules the village's own rule book from the 1st of next month.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.auth.models import Role, User
from backend.auth.scope import Scope, scope_for
from backend.demo.photos import demo_photo
from backend.errors import DomainError
from backend.months import Month
from backend.org.models import County, Household, Posting, Town, Village
from backend.photos.service import attach_photos
from backend.points import notice
from backend.points.claims import approve_claim, period_bounds, reject_claim, submit_claim
from backend.points.models import CapPeriod, Claim, ItemKind, LedgerEntry, RuleItem
from backend.points.rules import (
    ItemInput,
    VersionChanges,
    active_rule_book,
    install_preset,
    start_version,
    update_version,
)
from backend.timeutil import LOCAL_TZ, today_local

NOTICE_SEED = 20261125
NOTICE_VILLAGES = 2
CLAIMS_PER_MONTH = 8
REVIEW_SEED = 20261201
REVIEW_VILLAGES = 3
RECORDED_PER_VILLAGE = 5
APPROVED_PER_VILLAGE = 2


@dataclass(frozen=True)
class _Actor:
    user: User
    scope: Scope


@dataclass
class NoticeDemoSummary:
    claims: int = 0
    notices: int = 0
    objections: int = 0


@dataclass
class ReviewDemoSummary:
    pending: int = 0
    approved: int = 0
    photos: int = 0
    scheduled_versions: int = 0


def seed_rule_book(session: Session, county: County) -> None:
    """The county-wide points scheme every village inherits until it sets its own."""
    install_preset(session, county, "gaoyang", effective_from=date(2024, 1, 1))


def _first_villages(session: Session, county: County, count: int) -> Sequence[Village]:
    return session.scalars(
        select(Village).join(Town).where(Town.county_id == county.id).order_by(Village.code).limit(count)
    ).all()


def seed_notices(session: Session, county: County, today: date | None = None) -> NoticeDemoSummary:
    rng = random.Random(NOTICE_SEED)
    today = today or today_local()
    summary = NoticeDemoSummary()
    villages = _first_villages(session, county, NOTICE_VILLAGES)
    this_month = Month.of(today)
    months = this_month.shift(-3).through(this_month.shift(-1))
    for village in villages:
        _notice_village(session, rng, village, months, summary)
    return summary


def _actor(session: Session, user: User) -> _Actor:
    return _Actor(user, scope_for(session, user))


def _notice_village(
    session: Session, rng: random.Random, village: Village, months: list[Month], summary: NoticeDemoSummary
) -> None:
    reviewer = _actor(
        session, session.scalars(select(User).where(User.role == Role.reviewer, User.village_id == village.id)).first()
    )
    cadre = _actor(
        session,
        session.scalars(
            select(User)
            .join(Posting, Posting.cadre_id == User.cadre_id)
            .where(User.role == Role.cadre, Posting.village_id == village.id)
            .order_by(User.id)
        ).first(),
    )
    villagers = [
        _actor(session, u)
        for u in session.scalars(
            select(User).join(Household, Household.id == User.household_id).where(Household.village_id == village.id)
        )
    ]
    households = session.scalars(select(Household.id).where(Household.village_id == village.id)).all()
    items = active_rule_book(session, village.id, months[0].first).items
    positives = [i for i in items if i.kind == ItemKind.positive]
    negatives = [i for i in items if i.kind == ItemKind.negative]
    veto = next(i for i in items if i.kind == ItemKind.veto)
    for index, month in enumerate(months):
        for n in range(CLAIMS_PER_MONTH):
            on = month.first + timedelta(days=rng.randrange(month.days))
            declared = n < len(villagers) and rng.random() < 0.8
            if declared:
                item, by, household_id = rng.choice(positives), villagers[n], villagers[n].scope.household_id
            else:
                item = rng.choice(negatives) if rng.random() < 0.25 else rng.choice(positives)
                by, household_id = cadre, rng.choice(households)
            if index == 1 and n == 0:
                item, by, household_id = veto, cadre, rng.choice(households)
            _claim(session, rng, reviewer, by, item, household_id, on, summary)
        _publish(session, village, str(month), reviewer, villagers, index, months, summary)


def _claim(
    session: Session,
    rng: random.Random,
    reviewer: _Actor,
    by: _Actor,
    item: RuleItem,
    household_id: int | None,
    on: date,
    summary: NoticeDemoSummary,
) -> None:
    try:
        with session.begin_nested():
            # Villagers' evidence: a photo taken on the day, as the phone would upload it.
            photos = (
                [demo_photo(session, rng, user=by.user, scope=by.scope, event=item.title).id]
                if item.evidence_required and by.scope.household_id is not None
                else []
            )
            claim = submit_claim(
                session,
                by.scope,
                by.user,
                rule_item_id=item.id,
                occurred_on=on,
                note="",
                household_id=household_id,
                photo_ids=photos,
            )
            if rng.random() < 0.12:
                reject_claim(session, reviewer.scope, reviewer.user, claim.id, "证明材料不足，请补充后重新申报")
            else:
                approve_claim(session, reviewer.scope, reviewer.user, claim.id)
        summary.claims += 1
    except DomainError:  # a random pick hit a cap or a duplicate: the demo simply skips it
        return


def _publish(
    session: Session,
    village: Village,
    month: str,
    reviewer: _Actor,
    villagers: list[_Actor],
    index: int,
    months: list[Month],
    summary: NoticeDemoSummary,
) -> None:
    closed = notice.close_month(session, reviewer.scope, reviewer.user, village.id, month)
    summary.notices += 1
    # Published on the 1st of the following month at 09:00, as the village committee posts it.
    published = datetime.combine(Month.parse(month).next_first, time(9), LOCAL_TZ)
    closed.published_at = published
    if index == len(months) - 1:
        return  # last month: still within its objection window
    entries = session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.village_id == village.id, LedgerEntry.month == month)
        .order_by(LedgerEntry.id)
    ).all()
    objector = villagers[index % len(villagers)]
    target = next((e for e in entries if e.household_id != objector.scope.household_id and e.amount > 0), None)
    if index == 0 and target is not None:
        filed = notice.file_objection(
            session, objector.scope, objector.user, month, entry_id=target.id, text="该户当天外出务工，未参加此项活动"
        )
        notice.uphold_objection(
            session,
            reviewer.scope,
            reviewer.user,
            filed.id,
            amount=-target.amount,
            reason="经评议小组核实情况属实，予以更正",
        )
    else:
        filed = notice.file_objection(
            session, objector.scope, objector.user, month, entry_id=None, text="我家本月参加了两次公益劳动，只记了一次"
        )
        notice.dismiss_objection(
            session, reviewer.scope, reviewer.user, filed.id, reason="经核对签到表，本月仅参加一次，维持原记录"
        )
    summary.objections += 1
    closed.objection_deadline = published + timedelta(days=3)
    notice.lock_notice(session, reviewer.scope, reviewer.user, closed.id)
    closed.locked_at = closed.objection_deadline


def seed_review_queue(session: Session, county: County, today: date | None = None) -> ReviewDemoSummary:
    rng = random.Random(REVIEW_SEED)
    today = today or today_local()
    summary = ReviewDemoSummary()
    villages = _first_villages(session, county, REVIEW_VILLAGES)
    for village in villages:
        _review_village(session, rng, village, today, summary)
    if villages:
        _schedule_version(session, villages[0], today, summary)
    return summary


def _days_this_month(today: date) -> list[date]:
    start, _end = period_bounds(today, CapPeriod.month)
    return [start + timedelta(days=n) for n in range((today - start).days + 1)]


def _review_village(
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
