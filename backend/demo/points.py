"""Demo: three months of points in two villages of the demo county, all through the real services.

Per village: claims recorded and declared, approved or rejected by the village's review panel; the month
before last and the one before it closed, objected to (one upheld with a correction, one dismissed) and
locked; last month published with its objection window open. Rankings, honors and inbox messages follow
from these records. Deterministic for a given date (its own random stream); months are relative to today.
"""

from __future__ import annotations

import random
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
from backend.points import notice
from backend.points.claims import approve_claim, reject_claim, submit_claim
from backend.points.models import ItemKind, LedgerEntry, RuleItem
from backend.points.rules import active_rule_book
from backend.timeutil import LOCAL_TZ, today_local

SEED = 20261125
DEMO_VILLAGES = 2
CLAIMS_PER_MONTH = 8


@dataclass(frozen=True)
class _Actor:
    user: User
    scope: Scope


@dataclass
class NoticeDemoSummary:
    claims: int = 0
    notices: int = 0
    objections: int = 0


def seed_notice_demo(session: Session, county: County, today: date | None = None) -> NoticeDemoSummary:
    rng = random.Random(SEED)
    today = today or today_local()
    summary = NoticeDemoSummary()
    villages = session.scalars(
        select(Village).join(Town).where(Town.county_id == county.id).order_by(Village.code).limit(DEMO_VILLAGES)
    ).all()
    this_month = Month.of(today)
    months = this_month.shift(-3).through(this_month.shift(-1))
    for village in villages:
        _seed_village(session, rng, village, months, summary)
    return summary


def _actor(session: Session, user: User) -> _Actor:
    return _Actor(user, scope_for(session, user))


def _seed_village(
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
