"""Monthly public notice (月公示): close a month → frozen publication → objection window (申诉) → lock.

Closing a month freezes it: from then on no ledger entry counts in it (ledger.entry_month sends later
changes, including corrections from upheld objections, to the next open month). The publication is a
snapshot (NoticeLine rows) plus the month's entries, which are immutable like every entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import Session, selectinload

from backend.auth.models import User
from backend.auth.scope import Scope, filter_households, filter_villages, load_household, load_village
from backend.crypto import mask_name
from backend.errors import (
    Forbidden,
    InvalidRequest,
    MonthAlreadyClosed,
    NotFound,
    NotInScope,
    ObjectionAlreadyDecided,
    ObjectionsPending,
    ObjectionWindowClosed,
    ObjectionWindowOpen,
)
from backend.inbox.service import notify
from backend.months import Month
from backend.org.models import Household, Resident, Village
from backend.points.ledger import ensure_account, post_entry
from backend.points.models import (
    EntryKind,
    LedgerEntry,
    MonthlyNotice,
    NoticeLine,
    NoticeStatus,
    Objection,
    ObjectionStatus,
)
from backend.points.rules import active_rule_book
from backend.timeutil import LOCAL_TZ, now_utc, to_local

# Entries a notice shows: what the panel decided, not base scores or shop movements.
NOTICE_KINDS = (EntryKind.earn, EntryKind.deduct, EntryKind.veto, EntryKind.correction)


def _require_panel(scope: Scope) -> None:
    if scope.household_id is not None:
        raise Forbidden()


def close_month(session: Session, scope: Scope, user: User, village_id: int, month: str) -> MonthlyNotice:
    """The review panel fixes the month's additions and deductions and posts them (月公示)."""
    _require_panel(scope)
    village = load_village(session, scope, village_id)
    closing = Month.parse(month)
    if closing > Month.current():
        raise InvalidRequest(errors={"month": ["不能关闭尚未开始的月份"]})
    # Exclusive lock on the village: entries take it shared (ledger.entry_month), so none lands mid-snapshot.
    session.execute(select(Village.id).where(Village.id == village.id).with_for_update())
    if session.scalar(
        select(MonthlyNotice.id).where(MonthlyNotice.village_id == village.id, MonthlyNotice.month == month)
    ):
        raise MonthAlreadyClosed()
    book = active_rule_book(session, village.id, closing.last)
    published_at = now_utc()
    deadline_day = to_local(published_at).date() + timedelta(days=book.objection_days)
    notice = MonthlyNotice(
        village_id=village.id,
        month=month,
        status=NoticeStatus.published if book.objection_days else NoticeStatus.locked,
        published_at=published_at,
        published_by_id=user.id,
        objection_deadline=datetime.combine(deadline_day, time(), LOCAL_TZ) if book.objection_days else published_at,
        locked_at=None if book.objection_days else published_at,
    )
    session.add(notice)
    session.flush()
    session.add_all(
        NoticeLine(notice_id=notice.id, **line) for line in _lines(session, village.id, month, book.base_score)
    )
    session.flush()
    return notice


def _lines(session: Session, village_id: int, month: str, base_score: int) -> list[dict]:
    in_month = LedgerEntry.month == month
    sums = (
        select(
            LedgerEntry.household_id,
            func.coalesce(func.sum(LedgerEntry.amount).filter(in_month, LedgerEntry.kind == EntryKind.earn), 0).label(
                "earned"
            ),
            func.coalesce(
                -func.sum(LedgerEntry.amount).filter(
                    in_month,
                    or_(
                        LedgerEntry.kind.in_([EntryKind.deduct, EntryKind.veto]),
                        and_(LedgerEntry.kind == EntryKind.correction, LedgerEntry.amount < 0),
                    ),
                ),
                0,
            ).label("deducted"),
            func.coalesce(
                func.sum(LedgerEntry.amount).filter(
                    in_month, LedgerEntry.kind == EntryKind.correction, LedgerEntry.amount > 0
                ),
                0,
            ).label("corrected_up"),
            # Balance at the month's end: everything up to it, and the base score whenever it was opened.
            func.sum(
                case((or_(LedgerEntry.month <= month, LedgerEntry.kind == EntryKind.base), LedgerEntry.amount), else_=0)
            ).label("balance"),
            func.count(LedgerEntry.id).filter(in_month, LedgerEntry.kind == EntryKind.veto).label("vetoes"),
        )
        .where(LedgerEntry.village_id == village_id)
        .group_by(LedgerEntry.household_id)
        .subquery()
    )
    rows = session.execute(
        select(Household, Resident.name, sums)
        .outerjoin(Resident, (Resident.household_id == Household.id) & Resident.is_head.is_(True))
        .outerjoin(sums, sums.c.household_id == Household.id)
        .where(Household.village_id == village_id)
        .order_by(Household.number)
    ).all()
    lines: dict[int, dict] = {}
    for household, head_name, *agg in rows:
        _id, earned, deducted, corrected_up, balance, vetoes = agg
        lines.setdefault(
            household.id,
            {
                "household_id": household.id,
                "household_number": household.number,
                "masked_name": mask_name(head_name)[:20],
                "earned": (earned or 0) + (corrected_up or 0),
                "deducted": deducted or 0,
                "balance": base_score if balance is None else balance,
                "vetoed": bool(vetoes),
            },
        )
    return list(lines.values())


@dataclass(frozen=True)
class Publication:
    notice: MonthlyNotice
    village_name: str
    entries: list[LedgerEntry]
    household_numbers: dict[int, str]
    objections: list[Objection]

    @property
    def objection_open(self) -> bool:
        return self.notice.status == NoticeStatus.published and now_utc() < self.notice.objection_deadline


def _village_for(session: Session, scope: Scope, village_id: int | None) -> int:
    if village_id is None:
        if len(scope.village_ids) != 1:
            raise InvalidRequest(errors={"village_id": ["请指定村"]})
        return next(iter(scope.village_ids))
    return load_village(session, scope, village_id).id


def _notice(session: Session, village_id: int, month: str, *, lock: bool = False) -> MonthlyNotice:
    stmt = select(MonthlyNotice).where(
        MonthlyNotice.village_id == village_id, MonthlyNotice.month == str(Month.parse(month))
    )
    notice = session.scalar(stmt.with_for_update() if lock else stmt)
    if notice is None:
        raise NotFound("该月尚未公示")
    return notice


def publication(session: Session, scope: Scope, month: str, village_id: int | None = None) -> Publication:
    """What the village sees on the notice board; villagers see their own objections, the panel all."""
    village = session.get_one(Village, _village_for(session, scope, village_id))
    notice = _notice(session, village.id, month)
    entries = list(
        session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.village_id == village.id, LedgerEntry.month == month, LedgerEntry.kind.in_(NOTICE_KINDS))
            .options(selectinload(LedgerEntry.rule_item))
            .order_by(LedgerEntry.id)
        )
    )
    objections = list(
        session.scalars(
            filter_households(
                select(Objection).where(Objection.notice_id == notice.id),
                scope,
                Objection.household_id,
                Objection.village_id,
            ).order_by(Objection.id)
        )
    )
    numbers = {line.household_id: line.household_number for line in notice.lines}
    return Publication(notice, village.name, entries, numbers, objections)


def file_objection(
    session: Session, scope: Scope, user: User, month: str, *, entry_id: int | None, text: str
) -> Objection:
    """A villager objects to an entry of their village's notice (anyone's: the notice is for mutual
    supervision) or to the notice in general, while the window is open."""
    if scope.household_id is None:
        raise Forbidden("请先绑定户")
    household = load_household(session, scope, scope.household_id)
    if entry_id is not None:
        entry = session.get(LedgerEntry, entry_id)
        if entry is None:
            raise InvalidRequest(errors={"entry_id": ["记录不存在"]})
        if not scope.covers_village(entry.village_id):
            raise NotInScope()
        if entry.month != month or entry.kind not in NOTICE_KINDS:
            raise InvalidRequest(errors={"entry_id": ["该记录不在本月公示中"]})
    notice = _notice(session, household.village_id, month, lock=True)
    if notice.status != NoticeStatus.published or now_utc() >= notice.objection_deadline:
        raise ObjectionWindowClosed()
    objection = Objection(
        notice_id=notice.id,
        village_id=household.village_id,
        household_id=household.id,
        entry_id=entry_id,
        text=text,
        submitted_by_id=user.id,
    )
    session.add(objection)
    session.flush()
    return objection


def _open_objection(session: Session, scope: Scope, objection_id: int) -> Objection:
    _require_panel(scope)
    objection = session.scalar(
        select(Objection)
        .where(Objection.id == objection_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if objection is None:
        raise NotFound("申诉不存在")
    if not scope.covers_village(objection.village_id):
        raise NotInScope()
    if objection.status != ObjectionStatus.open:
        raise ObjectionAlreadyDecided()
    return objection


# A sanity cap on one correction, far above any rule item (a typo such as 2147483000 must not reach a balance).
MAX_CORRECTION = 1000


def uphold_objection(
    session: Session,
    scope: Scope,
    user: User,
    objection_id: int,
    *,
    amount: int,
    reason: str,
    household_id: int | None = None,
) -> Objection:
    """The objection stands: a correction entry of `amount` (signed; 0 when nothing needs correcting) for
    the household concerned — by default the objected entry's, else the objector's. The entry counts in the
    next open month, never in the closed one."""
    if abs(amount) > MAX_CORRECTION:
        raise InvalidRequest(errors={"amount": [f"一次更正不能超过 {MAX_CORRECTION} 分"]})
    objection = _open_objection(session, scope, objection_id)
    target_id = household_id or (objection.entry.household_id if objection.entry else objection.household_id)
    target = load_household(session, scope, target_id)
    if target.village_id != objection.village_id:
        raise InvalidRequest(errors={"household_id": ["只能更正本村农户"]})
    if amount:
        book = active_rule_book(session, target.village_id, to_local(now_utc()).date())
        ensure_account(session, target, book.base_score, actor_id=user.id)
        entry = post_entry(
            session,
            household_id=target.id,
            village_id=target.village_id,
            kind=EntryKind.correction,
            amount=amount,
            source_type="objection",
            source_id=objection.id,
            rule_item_id=objection.entry.rule_item_id if objection.entry else None,
            actor_id=user.id,
            reason=f"申诉更正：{reason}"[:200],
        )
        objection.correction_entry_id = entry.id
    return _decide(session, objection, user, ObjectionStatus.upheld, reason)


def dismiss_objection(session: Session, scope: Scope, user: User, objection_id: int, *, reason: str) -> Objection:
    objection = _open_objection(session, scope, objection_id)
    return _decide(session, objection, user, ObjectionStatus.dismissed, reason)


def _decide(session: Session, objection: Objection, user: User, status: ObjectionStatus, reason: str) -> Objection:
    objection.status = status
    objection.answer = reason
    objection.decided_by_id = user.id
    objection.decided_at = now_utc()
    session.flush()
    notice = session.get_one(MonthlyNotice, objection.notice_id)
    verdict = "申诉成立，已更正" if status == ObjectionStatus.upheld else "申诉不成立"
    notify(
        session,
        household_id=objection.household_id,
        kind="objection_answered",
        title=f"{notice.month} 公示申诉已处理",
        body=f"{verdict}：{reason}",
        ref_type="objection",
        ref_id=objection.id,
    )
    _lock_if_due(session, notice)
    return objection


def _open_objections(session: Session, notice_id: int) -> int:
    return (
        session.scalar(
            select(func.count(Objection.id)).where(
                Objection.notice_id == notice_id, Objection.status == ObjectionStatus.open
            )
        )
        or 0
    )


def _lock_if_due(session: Session, notice: MonthlyNotice) -> bool:
    """Lock automatically once the window has passed and every objection is answered."""
    if notice.status != NoticeStatus.published or now_utc() < notice.objection_deadline:
        return False
    if _open_objections(session, notice.id):
        return False
    notice.status = NoticeStatus.locked
    notice.locked_at = now_utc()
    session.flush()
    return True


def lock_notice(session: Session, scope: Scope, user: User, notice_id: int) -> MonthlyNotice:
    """The panel locks the month by hand (after the window, with every objection answered)."""
    _require_panel(scope)
    notice = session.scalar(
        select(MonthlyNotice)
        .where(MonthlyNotice.id == notice_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if notice is None:
        raise NotFound("公示不存在")
    if not scope.covers_village(notice.village_id):
        raise NotInScope()
    if notice.status == NoticeStatus.locked:
        return notice
    if now_utc() < notice.objection_deadline:
        raise ObjectionWindowOpen()
    if _open_objections(session, notice.id):
        raise ObjectionsPending()
    notice.status = NoticeStatus.locked
    notice.locked_at = now_utc()
    notice.locked_by_id = user.id
    session.flush()
    return notice


def lock_due_notices(session: Session) -> int:
    """The scheduled sweep: every notice whose window has passed quietly is locked. Returns how many."""
    due = session.scalars(
        select(MonthlyNotice)
        .where(MonthlyNotice.status == NoticeStatus.published, MonthlyNotice.objection_deadline <= now_utc())
        .with_for_update()
    ).all()
    return sum(_lock_if_due(session, notice) for notice in due)


def notices_query(scope: Scope, village_id: int | None = None) -> Select[tuple[MonthlyNotice]]:
    stmt = filter_villages(select(MonthlyNotice), scope, MonthlyNotice.village_id)
    if village_id is not None:
        stmt = stmt.where(MonthlyNotice.village_id == village_id)
    return stmt


def load_notice(session: Session, scope: Scope, notice_id: int) -> MonthlyNotice:
    notice = session.get(MonthlyNotice, notice_id)
    if notice is None:
        raise NotFound("公示不存在")
    if not scope.covers_village(notice.village_id):
        raise NotInScope()
    return notice


@dataclass(frozen=True)
class NoticeRow:
    notice: MonthlyNotice
    village_name: str
    open_objections: int
    objections: int


def notice_rows(session: Session, scope: Scope, village_id: int | None = None, limit: int = 200) -> list[NoticeRow]:
    """Admin list: newest months first, with the objection counts the panel acts on."""
    counts = (
        select(
            Objection.notice_id,
            func.count(Objection.id).label("total"),
            func.count(Objection.id).filter(Objection.status == ObjectionStatus.open).label("open"),
        )
        .group_by(Objection.notice_id)
        .subquery()
    )
    rows = session.execute(
        notices_query(scope, village_id)
        .join(Village, Village.id == MonthlyNotice.village_id)
        .outerjoin(counts, counts.c.notice_id == MonthlyNotice.id)
        .add_columns(Village.name, counts.c.open, counts.c.total)
        .order_by(MonthlyNotice.month.desc(), Village.code)
        .limit(limit)
    ).all()
    return [NoticeRow(notice, name, open_ or 0, total or 0) for notice, name, open_, total in rows]
