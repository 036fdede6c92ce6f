"""Read models of cadre work for the admin UI and its Excel exports: attendance, a cadre's month,
visit coverage, the problem ledger, leave requests, daily records. Names come out masked and GPS
never comes out at all, so a template cannot leak what it never gets. Work a phone captured offline
carries its `Capture` (capture and receipt time) for the pages to show both."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.auth.models import User
from backend.auth.scope import Scope, filter_villages, load_village
from backend.crypto import mask_name
from backend.errors import NotFound, NotInScope
from backend.months import Month
from backend.org.models import Cadre, Posting, Village
from backend.pagination import PER_PAGE, Page, page_bounds
from backend.photos.models import Photo
from backend.photos.service import photos_of
from backend.records import checkins, daily_records, problems, visits
from backend.records.checkins import Attendance
from backend.records.models import (
    CATEGORY_LABELS,
    LEAVE_STATUS_LABELS,
    PROBLEM_STATUS_LABELS,
    VISIT_KIND_LABELS,
    Capture,
    Checkin,
    DailyRecord,
    LeaveRequest,
    LeaveStatus,
    Problem,
    ProblemStatus,
    Visit,
)
from backend.records.visits import CoverageRow
from backend.timeutil import today_local


def _village_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.execute(select(Village.id, Village.name).where(Village.id.in_(ids))).tuples().all())


def _cadre_names(session: Session, ids: set[int]) -> dict[int, str]:
    """Masked names (张*明) by cadre id."""
    if not ids:
        return {}
    rows = session.execute(select(Cadre.id, Cadre.name).where(Cadre.id.in_(ids))).tuples().all()
    return {cadre_id: mask_name(name) for cadre_id, name in rows}


# --- 考勤 ---


@dataclass(frozen=True)
class AttendanceRow:
    cadre_id: int
    name: str
    work_unit: str
    villages: str
    attendance: Attendance


def attendance_table(session: Session, scope: Scope, month: Month) -> list[AttendanceRow]:
    cadres = checkins.cadres_posted_in(session, scope, month)
    villages = _posted_villages(session, scope, [c.id for c in cadres])
    return [
        AttendanceRow(c.id, mask_name(c.name), c.work_unit, "、".join(villages.get(c.id, [])), a)
        for c, a in zip(cadres, checkins.attendance_for(session, cadres, month), strict=True)
    ]


def _posted_villages(session: Session, scope: Scope, cadre_ids: list[int]) -> dict[int, list[str]]:
    rows = session.execute(
        filter_villages(
            select(Posting.cadre_id, Village.name).join(Village, Village.id == Posting.village_id),
            scope,
            Posting.village_id,
        )
        .where(Posting.cadre_id.in_(cadre_ids))
        .distinct()
        .order_by(Posting.cadre_id, Village.name)
    )
    out: dict[int, list[str]] = {}
    for cadre_id, name in rows:
        out.setdefault(cadre_id, []).append(name)
    return out


# --- one cadre's month: timeline and attendance calendar ---


@dataclass(frozen=True)
class TimelineEntry:
    capture: Capture
    day: date
    kind: str  # 民情日记 / 入户走访 / 电话联系
    title: str
    text: str
    village: str
    household: str | None
    photos: list[Photo]
    amended: bool = False


@dataclass(frozen=True)
class CheckinRow:
    id: int
    day: date
    capture: Capture
    village: str
    in_fence: bool
    distance_m: int  # to the village centre, for the audit; never the position itself
    photos: list[Photo]


@dataclass(frozen=True)
class CadreMonth:
    cadre_id: int
    name: str
    work_unit: str
    month: Month
    attendance: Attendance
    weeks: list[list[tuple[date, str] | None]]
    timeline: list[TimelineEntry] = field(default_factory=list)
    checkins: list[CheckinRow] = field(default_factory=list)


def _weeks(calendar: list[tuple[date, str]]) -> list[list[tuple[date, str] | None]]:
    """Monday-first weeks for a calendar grid, padded with None."""
    cells: list[tuple[date, str] | None] = [None] * calendar[0][0].weekday() + list(calendar)
    cells += [None] * (-len(cells) % 7)
    return [cells[i : i + 7] for i in range(0, len(cells), 7)]


def cadre_month(session: Session, scope: Scope, cadre_id: int, month: Month) -> CadreMonth:
    """A cadre posted in the scope: their month's attendance and, from the scope's villages only, their check-ins
    (with photos) and a timeline of records and visits."""
    cadre = session.get(Cadre, cadre_id)
    if cadre is None:
        raise NotFound("干部不存在")
    if cadre.id not in {c.id for c in checkins.cadres_posted_in(session, scope, month)}:
        raise NotInScope()
    [attendance] = checkins.attendance_for(session, [cadre], month, calendar=True)
    records = list(session.scalars(daily_records.records_query(scope, month, cadre_id=cadre.id)))
    visit_rows = list(session.scalars(visits.visits_query(scope, month, cadre_id=cadre.id)))
    checked_in = list(session.scalars(checkins.checkins_query(scope, month, cadre.id).order_by(Checkin.id)))
    record_photos = photos_of(session, "daily_record", [r.id for r in records])
    visit_photos = photos_of(session, "visit", [v.id for v in visit_rows])
    checkin_photos = photos_of(session, "checkin", [c.id for c in checked_in])
    names = _village_names(
        session,
        {r.village_id for r in records} | {v.village_id for v in visit_rows} | {c.village_id for c in checked_in},
    )
    timeline = [
        TimelineEntry(
            capture=r.capture,
            day=r.record_date,
            kind="民情日记",
            title=CATEGORY_LABELS[daily_records.effective(r).category],
            text=daily_records.effective(r).content,
            village=names[r.village_id],
            household="、".join(h.number for h in r.households) or None,
            photos=record_photos.get(r.id, []),
            amended=bool(r.amendments),
        )
        for r in records
    ] + [
        TimelineEntry(
            capture=v.capture,
            day=v.local_date,
            kind=VISIT_KIND_LABELS[v.kind],
            title=v.purpose,
            text=v.findings,
            village=names[v.village_id],
            household=v.household.number,
            photos=visit_photos.get(v.id, []),
        )
        for v in visit_rows
    ]
    timeline.sort(key=lambda e: (e.day, e.capture.at), reverse=True)
    rows = [
        CheckinRow(
            c.id, c.local_date, c.capture, names[c.village_id], c.in_fence, c.distance_m, checkin_photos.get(c.id, [])
        )
        for c in sorted(checked_in, key=lambda c: c.capture.at)
    ]
    return CadreMonth(
        cadre.id,
        mask_name(cadre.name),
        cadre.work_unit,
        month,
        attendance,
        _weeks(attendance.calendar),
        timeline,
        rows,
    )


# --- 走访覆盖 ---


@dataclass(frozen=True)
class CoverageLine:
    row: CoverageRow
    helper: str  # masked


def coverage_table(
    session: Session, scope: Scope, month: Month, *, village_id: int | None = None, gaps_only: bool = False
) -> list[CoverageLine]:
    """Paired households in scope against the county's visiting rule; `gaps_only` is the town's overdue list."""
    rows = visits.coverage(session, scope, month, village_id=village_id)
    if gaps_only:
        rows = [r for r in rows if not r.met]
    return [CoverageLine(r, mask_name(r.cadre_name)) for r in rows]


# --- 问题台账 ---


@dataclass(frozen=True)
class ProblemRow:
    id: int
    village: str
    household: str | None
    description: str
    source: str
    owner: str
    raised: Capture
    deadline: date
    status: str
    status_label: str
    overdue: bool
    closed: Capture | None
    closing_evidence: str | None
    photos: list[Photo]

    @property
    def raised_on(self) -> date:
        return self.raised.day

    @property
    def closed_on(self) -> date | None:
        return self.closed.day if self.closed else None


def problem_page(
    session: Session,
    scope: Scope,
    *,
    status: ProblemStatus | None = None,
    overdue: bool = False,
    village_id: int | None = None,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> Page[ProblemRow]:
    if village_id is not None:
        load_village(session, scope, village_id)
    stmt = problems.problems_query(scope, status=status, overdue=overdue, village_id=village_id)
    total, page = page_bounds(session, stmt, page, per_page)
    items = list(
        session.scalars(stmt.order_by(Problem.deadline, Problem.id).limit(per_page).offset((page - 1) * per_page))
    )
    villages = _village_names(session, {p.village_id for p in items})
    owners = _cadre_names(session, {p.owner_cadre_id for p in items})
    photos = photos_of(session, "problem_closing", [p.id for p in items])
    today = today_local()
    rows = [
        ProblemRow(
            id=p.id,
            village=villages[p.village_id],
            household=p.household.number if p.household else None,
            description=p.description,
            source="入户走访" if p.source_type == "visit" else "民情日记",
            owner=owners.get(p.owner_cadre_id, ""),
            raised=p.raised,
            deadline=p.deadline,
            status=p.status.value,
            status_label=PROBLEM_STATUS_LABELS[p.status],
            overdue=p.is_overdue(today),
            closed=p.closed,
            closing_evidence=p.closing_evidence,
            photos=photos.get(p.id, []),
        )
        for p in items
    ]
    return Page(rows, page, per_page, total)


# --- 请假 ---


@dataclass(frozen=True)
class LeaveRow:
    id: int
    cadre: str
    village: str
    start_on: date
    end_on: date
    days: int
    reason: str
    status: str
    status_label: str
    requested_at: datetime
    decided_at: datetime | None
    decision_note: str | None


def leave_rows(session: Session, scope: Scope, user: User, status: LeaveStatus | None) -> list[LeaveRow]:
    leaves = list(session.scalars(checkins.leaves_query(scope, user, status).order_by(LeaveRequest.id.desc())))
    villages = _village_names(session, {leave.village_id for leave in leaves})
    cadres = _cadre_names(session, {leave.cadre_id for leave in leaves})
    return [
        LeaveRow(
            leave.id,
            cadres.get(leave.cadre_id, ""),
            villages[leave.village_id],
            leave.start_on,
            leave.end_on,
            leave.days,
            leave.reason,
            leave.status.value,
            LEAVE_STATUS_LABELS[leave.status],
            leave.requested_at,
            leave.decided_at,
            leave.decision_note,
        )
        for leave in leaves
    ]


# --- 民情日记 and 走访 ledgers (export) ---


@dataclass(frozen=True)
class RecordRow:
    id: int
    day: date
    cadre: str
    village: str
    category: str
    content: str
    place: str
    households: str
    amendments: int
    photo_count: int
    capture: Capture


def record_rows(session: Session, scope: Scope, month: Month, *, village_id: int | None = None) -> list[RecordRow]:
    if village_id is not None:
        load_village(session, scope, village_id)
    records: list[DailyRecord] = list(
        session.scalars(
            daily_records.records_query(scope, month, village_id=village_id).order_by(
                DailyRecord.record_date, DailyRecord.id
            )
        )
    )
    villages = _village_names(session, {r.village_id for r in records})
    cadres = _cadre_names(session, {r.cadre_id for r in records})
    photos = photos_of(session, "daily_record", [r.id for r in records])
    rows = []
    for r in records:
        now = daily_records.effective(r)
        rows.append(
            RecordRow(
                r.id,
                r.record_date,
                cadres.get(r.cadre_id, ""),
                villages[r.village_id],
                CATEGORY_LABELS[now.category],
                now.content,
                now.place,
                "、".join(h.number for h in r.households),
                len(r.amendments),
                len(photos.get(r.id, [])),
                r.capture,
            )
        )
    return rows


@dataclass(frozen=True)
class VisitRow:
    id: int
    day: date
    cadre: str
    village: str
    household: str
    kind: str
    purpose: str
    findings: str
    problems: int
    capture: Capture


def visit_rows(session: Session, scope: Scope, month: Month, *, village_id: int | None = None) -> list[VisitRow]:
    if village_id is not None:
        load_village(session, scope, village_id)
    rows: list[Visit] = list(
        session.scalars(visits.visits_query(scope, month, village_id=village_id).order_by(Visit.local_date, Visit.id))
    )
    villages = _village_names(session, {v.village_id for v in rows})
    cadres = _cadre_names(session, {v.cadre_id for v in rows})
    raised: dict[int, int] = {}
    if rows:
        for source_id in session.scalars(
            select(Problem.source_id).where(Problem.source_type == "visit", Problem.source_id.in_([v.id for v in rows]))
        ):
            raised[source_id] = raised.get(source_id, 0) + 1
    return [
        VisitRow(
            v.id,
            v.local_date,
            cadres.get(v.cadre_id, ""),
            villages[v.village_id],
            v.household.number,
            VISIT_KIND_LABELS[v.kind],
            v.purpose,
            v.findings,
            raised.get(v.id, 0),
            v.capture,
        )
        for v in rows
    ]
