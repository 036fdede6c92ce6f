"""日纪实/民情日记: what a cadre did today, where, with which households; editable on the day it was
written, afterwards corrected only by append-only amendments (补正) so the history stays readable."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from backend.auth.models import User
from backend.auth.scope import Scope, filter_villages, load_household
from backend.errors import Forbidden, InvalidRequest, NotFound, NotInScope, RecordLocked
from backend.months import Month
from backend.org.models import Household
from backend.photos.service import attach_photos
from backend.records.common import acting_cadre, capture, encode_location, record_village
from backend.records.models import DailyRecord, DailyRecordAmendment, RecordCategory
from backend.records.problems import RaisedProblem, raise_problems
from backend.timeutil import now_utc, today_local

# A record may be written up to a week after the day it tells of, never before that day.
BACKFILL_DAYS = 7


@dataclass(frozen=True)
class Effective:
    """What the record says now: the latest amendment, else the record itself."""

    category: RecordCategory
    content: str
    place: str


def effective(record: DailyRecord) -> Effective:
    source = record.amendments[-1] if record.amendments else record
    return Effective(source.category, source.content, source.place)


def _households(session: Session, scope: Scope, ids: list[int]) -> list[Household]:
    return [load_household(session, scope, household_id) for household_id in dict.fromkeys(ids)]


def create_record(
    session: Session,
    scope: Scope,
    user: User,
    *,
    record_date: date,
    category: RecordCategory,
    content: str,
    place: str,
    lat: float | None = None,
    lng: float | None = None,
    photo_ids: Sequence[str] = (),
    household_ids: Sequence[int] = (),
    village_id: int | None = None,
    problems: Sequence[RaisedProblem] = (),
    captured_at: datetime | None = None,
) -> DailyRecord:
    """A record as it was written: its date is checked against the day it was captured (written offline on
    Monday about Monday, sent on Tuesday, is on time), and that day is the one it may be edited on."""
    cadre = acting_cadre(user)
    moment = capture(captured_at)
    written = moment.day
    if record_date > written or record_date < written - timedelta(days=BACKFILL_DAYS):
        raise InvalidRequest(errors={"date": [f"日期须是填写当天或之前 {BACKFILL_DAYS} 天内"]})
    households = _households(session, scope, list(household_ids))
    village = record_village(session, scope, cadre, village_id, {h.village_id for h in households})
    if any(h.village_id != village for h in households):
        raise InvalidRequest(errors={"household_ids": ["涉及的农户须在同一个村"]})
    record = DailyRecord(
        cadre_id=cadre.id,
        author_id=user.id,
        village_id=village,
        record_date=record_date,
        category=category,
        content=content,
        place=place,
        location=encode_location(lat, lng),
        created_at=moment.received_at,
        captured_at=moment.captured_at,
        created_on=written,
        households=households,
    )
    session.add(record)
    session.flush()
    attach_photos(
        session,
        actor=scope,
        photo_ids=photo_ids,
        owner_type="daily_record",
        owner_id=record.id,
        village_id=village,
        household_id=households[0].id if len(households) == 1 else None,
    )
    raise_problems(
        session,
        user,
        raised=list(problems),
        village_id=village,
        household_id=households[0].id if len(households) == 1 else None,
        source_type="daily_record",
        source_id=record.id,
        default_owner_id=cadre.id,
        moment=moment,
    )
    return record


def load_record(session: Session, scope: Scope, record_id: int) -> DailyRecord:
    record = session.get(DailyRecord, record_id)
    if record is None:
        raise NotFound("纪实不存在")
    if not scope.covers_village(record.village_id) or scope.household_id is not None:
        raise NotInScope()
    return record


def _own_record(session: Session, scope: Scope, user: User, record_id: int) -> DailyRecord:
    record = load_record(session, scope, record_id)
    if record.author_id != user.id:
        raise Forbidden("只有填写人可以修改纪实")
    return record


def edit_record(
    session: Session,
    scope: Scope,
    user: User,
    record_id: int,
    *,
    category: RecordCategory | None = None,
    content: str | None = None,
    place: str | None = None,
    household_ids: list[int] | None = None,
) -> DailyRecord:
    """Same-day edit in place by the author; from the next day on the record is locked (amend instead)."""
    record = _own_record(session, scope, user, record_id)
    if record.created_on != today_local() or record.amendments:
        raise RecordLocked()
    if household_ids is not None:
        households = _households(session, scope, household_ids)
        if any(h.village_id != record.village_id for h in households):
            raise InvalidRequest(errors={"household_ids": ["涉及的农户须在同一个村"]})
        record.households = households
    record.category = category or record.category
    record.content = content if content is not None else record.content
    record.place = place if place is not None else record.place
    record.updated_at = now_utc()
    session.flush()
    return record


def amend_record(
    session: Session,
    scope: Scope,
    user: User,
    record_id: int,
    *,
    reason: str,
    category: RecordCategory | None = None,
    content: str | None = None,
    place: str | None = None,
) -> DailyRecord:
    """补正: a new row with the corrected values and why; the original and earlier amendments stay."""
    record = _own_record(session, scope, user, record_id)
    if category is None and content is None and place is None:
        raise InvalidRequest(errors={"content": ["补正至少要修改一项内容"]})
    now = effective(record)
    record.amendments.append(
        DailyRecordAmendment(
            author_id=user.id,
            reason=reason,
            category=category or now.category,
            content=content if content is not None else now.content,
            place=place if place is not None else now.place,
        )
    )
    session.flush()
    return record


def records_query(
    scope: Scope, month: Month, *, cadre_id: int | None = None, village_id: int | None = None
) -> Select[tuple[DailyRecord]]:
    """Records of the scope's villages in a business month; a villager's scope reads none."""
    stmt = filter_villages(select(DailyRecord), scope, DailyRecord.village_id).where(
        DailyRecord.record_date >= month.first, DailyRecord.record_date < month.next_first
    )
    if scope.household_id is not None:
        stmt = stmt.where(DailyRecord.id.is_(None))
    if cadre_id is not None:
        stmt = stmt.where(DailyRecord.cadre_id == cadre_id)
    if village_id is not None:
        stmt = stmt.where(DailyRecord.village_id == village_id)
    return stmt.options(selectinload(DailyRecord.households), selectinload(DailyRecord.amendments))
