"""到岗: GPS check-ins against the village fence, leave (请假) decided by the town, monthly attendance."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, Select, and_, bindparam, case, distinct, func, or_, select
from sqlalchemy.orm import Session

from backend.auth.models import Role, User
from backend.auth.scope import Scope, filter_villages, load_village
from backend.db import any_of, read_rows
from backend.errors import Forbidden, InvalidRequest, LeaveAlreadyDecided, LeaveOverlap, NotFound, NotInScope, NotPosted
from backend.inbox.service import notify
from backend.months import Month
from backend.org.models import Cadre, Post, Posting, Village
from backend.photos.service import attach_photos
from backend.records.common import (
    acting_cadre,
    capture,
    distance_m,
    encode_location,
    in_fence,
    record_village,
    settings_for_county,
)
from backend.records.models import Checkin, LeaveRequest, LeaveStatus
from backend.timeutil import now_utc, today_local

MAX_LEAVE_DAYS = 60
LEAVE_BACKDATE_DAYS = 31
# A check-in's photos: the cadre on post, at most a few (it is a clock-in, not a report).
CHECKIN_MAX_PHOTOS = 3


def check_in(
    session: Session,
    scope: Scope,
    user: User,
    *,
    lat: float,
    lng: float,
    accuracy: float,
    village_id: int | None,
    captured_at: datetime | None = None,
    photo_ids: Sequence[str] = (),
) -> Checkin:
    """Record where the cadre was, for the named village or the nearest one they are posted to.

    An offline check-in counts as it was captured: for the business day of its capture time (08:55 on Monday,
    sent on Tuesday, is Monday's attendance), and in or out of the fence by the position captured with it.
    Photos (0–3) are required when the county says so.
    """
    cadre = acting_cadre(user)
    moment = capture(captured_at)
    if village_id is not None:
        villages = [load_village(session, scope, village_id)]
    else:
        villages = list(session.scalars(filter_villages(select(Village), scope, Village.id)))
    if not villages:
        raise NotPosted()
    settings = settings_for_county(session, cadre.county_id)

    def gap(v: Village) -> float:
        return distance_m(lat, lng, v.center_lat, v.center_lng) - v.fence_radius_m

    village = min(villages, key=gap)
    distance = distance_m(lat, lng, village.center_lat, village.center_lng)
    checkin = Checkin(
        cadre_id=cadre.id,
        village_id=village.id,
        at=moment.received_at,
        captured_at=moment.captured_at,
        local_date=moment.day,
        location=encode_location(lat, lng),
        accuracy_m=accuracy,
        distance_m=round(distance),
        in_fence=in_fence(distance, accuracy, village.fence_radius_m, settings.accuracy_cap_m),
    )
    session.add(checkin)
    session.flush()
    attach_photos(
        session,
        actor=scope,
        photo_ids=photo_ids,
        owner_type="checkin",
        owner_id=checkin.id,
        min_count=1 if settings.checkin_photo_required else 0,
        max_count=CHECKIN_MAX_PHOTOS,
        village_id=village.id,
    )
    return checkin


def checkins_query(scope: Scope, month: Month, cadre_id: int) -> Select[tuple[Checkin]]:
    """A cadre's check-ins of a business month, at the scope's villages."""
    return filter_villages(select(Checkin), scope, Checkin.village_id).where(
        Checkin.cadre_id == cadre_id, Checkin.local_date >= month.first, Checkin.local_date < month.next_first
    )


# --- 请假 ---


def request_leave(
    session: Session,
    scope: Scope,
    user: User,
    *,
    start_on: date,
    end_on: date,
    reason: str,
    village_id: int | None = None,
) -> LeaveRequest:
    cadre = acting_cadre(user)
    if end_on < start_on:
        raise InvalidRequest(errors={"end_on": ["结束日期不能早于开始日期"]})
    if (end_on - start_on).days + 1 > MAX_LEAVE_DAYS:
        raise InvalidRequest(errors={"end_on": [f"一次请假最长 {MAX_LEAVE_DAYS} 天"]})
    if start_on < today_local() - timedelta(days=LEAVE_BACKDATE_DAYS):
        raise InvalidRequest(errors={"start_on": [f"只能补请 {LEAVE_BACKDATE_DAYS} 天内的假"]})
    village = record_village(session, scope, cadre, village_id, set())
    # One cadre's requests are serialised so two overlapping ones cannot both pass the check.
    session.execute(select(Cadre.id).where(Cadre.id == cadre.id).with_for_update())
    overlapping = session.scalar(
        select(func.count(LeaveRequest.id)).where(
            LeaveRequest.cadre_id == cadre.id,
            LeaveRequest.status != LeaveStatus.rejected,
            LeaveRequest.start_on <= end_on,
            LeaveRequest.end_on >= start_on,
        )
    )
    if overlapping:
        raise LeaveOverlap()
    leave = LeaveRequest(
        cadre_id=cadre.id,
        village_id=village,
        start_on=start_on,
        end_on=end_on,
        reason=reason,
        requested_by_id=user.id,
    )
    session.add(leave)
    session.flush()
    return leave


def decide_leave(
    session: Session, scope: Scope, user: User, leave_id: int, *, approve: bool, note: str
) -> LeaveRequest:
    """The town (镇) of the cadre's village approves or rejects; a decision is final."""
    if user.role != Role.town_admin:
        raise Forbidden("请假由驻村所在镇审批")
    leave = session.scalar(
        select(LeaveRequest)
        .where(LeaveRequest.id == leave_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if leave is None:
        raise NotFound("请假申请不存在")
    if not scope.covers_village(leave.village_id):
        raise NotInScope()
    if leave.status != LeaveStatus.pending:
        raise LeaveAlreadyDecided()
    leave.status = LeaveStatus.approved if approve else LeaveStatus.rejected
    leave.decided_by_id = user.id
    leave.decided_at = now_utc()
    leave.decision_note = note or None
    session.flush()
    verdict = "已批准" if approve else "未批准"
    notify(
        session,
        cadre_id=leave.cadre_id,
        kind="leave_approved" if approve else "leave_rejected",
        title=f"请假{verdict}",
        body=f"{leave.start_on:%m月%d日}至{leave.end_on:%m月%d日}的请假{verdict}" + (f"：{note}" if note else ""),
        ref_type="leave",
        ref_id=leave.id,
    )
    return leave


def leaves_query(scope: Scope, user: User, status: LeaveStatus | None = None) -> Select[tuple[LeaveRequest]]:
    """A cadre sees their own requests; admins those of the villages in their scope."""
    stmt = select(LeaveRequest)
    if user.role == Role.cadre:
        stmt = stmt.where(LeaveRequest.cadre_id == user.cadre_id)
    else:
        stmt = filter_villages(stmt, scope, LeaveRequest.village_id)
    if status is not None:
        stmt = stmt.where(LeaveRequest.status == status)
    return stmt


# --- 考勤 ---


class DayStatus:
    on_post = "on_post"  # 在岗: at least one check-in inside the fence
    outside = "outside"  # 打卡在围栏外
    leave = "leave"  # 请假 (approved)
    absent = "absent"  # 未到岗
    future = "future"


DAY_LABELS = {
    DayStatus.on_post: "在岗",
    DayStatus.outside: "围栏外",
    DayStatus.leave: "请假",
    DayStatus.absent: "未到岗",
    DayStatus.future: "",
}


@dataclass(frozen=True)
class Attendance:
    """One cadre's month: days on post against the required days, approved leave taken off the requirement.

    required = max(0, county's required days − approved leave days that were not also on post).
    The counts come from SQL; the day marks behind the calendar are read only when asked for (a cadre's own
    month), so a county-wide compile or the attendance table reads one row per cadre.
    """

    cadre_id: int
    month: Month
    days_on_post: int
    leave_days: int  # approved leave days not also on post
    base_required: int
    marks: dict[date, bool] | None = None  # days with check-ins: True if any was in the fence
    leave: frozenset[date] = frozenset()  # approved leave days within the month

    @property
    def calendar(self) -> list[tuple[date, str]]:
        if self.marks is None:
            raise ValueError("attendance read without its calendar")
        today = today_local()
        out = []
        for offset in range(self.month.days):
            day = self.month.first + timedelta(days=offset)
            mark = self.marks.get(day)
            if mark:
                status = DayStatus.on_post
            elif day in self.leave:
                status = DayStatus.leave
            elif mark is False:
                status = DayStatus.outside
            else:
                status = DayStatus.future if day > today else DayStatus.absent
            out.append((day, status))
        return out

    @property
    def required(self) -> int:
        return max(0, self.base_required - self.leave_days)

    @property
    def met(self) -> bool:
        return self.days_on_post >= self.required

    @property
    def short_by(self) -> int:
        return max(0, self.required - self.days_on_post)

    @property
    def in_progress(self) -> bool:
        """The month is still running: a shortfall is not final yet."""
        return self.month.first <= today_local() <= self.month.last


# Built once (the compile runs them for every town); the cadres and the month are parameters.
_FIRST, _NEXT_FIRST = bindparam("first", type_=Date), bindparam("next_first", type_=Date)
_IN_MONTH = (any_of(Checkin.cadre_id, "cadres"), Checkin.local_date >= _FIRST, Checkin.local_date < _NEXT_FIRST)
_DAY_MARKS = (
    select(Checkin.cadre_id, Checkin.local_date, func.max(case((Checkin.in_fence.is_(True), 1), else_=0)))
    .where(*_IN_MONTH)
    .group_by(Checkin.cadre_id, Checkin.local_date)
)
_APPROVED_LEAVE = select(LeaveRequest.cadre_id, LeaveRequest.start_on, LeaveRequest.end_on).where(
    any_of(LeaveRequest.cadre_id, "cadres"),
    LeaveRequest.status == LeaveStatus.approved,
    LeaveRequest.start_on < _NEXT_FIRST,
    LeaveRequest.end_on >= _FIRST,
)
_INSIDE = Checkin.in_fence.is_(True)
# Per cadre: days on post, and how many of them were approved leave days (those do not count as leave).
_DAYS_ON_POST = (
    select(
        Checkin.cadre_id,
        func.count(distinct(case((_INSIDE, Checkin.local_date)))),
        func.count(distinct(case((and_(_INSIDE, LeaveRequest.id.is_not(None)), Checkin.local_date)))),
    )
    .outerjoin(
        LeaveRequest,
        and_(
            LeaveRequest.cadre_id == Checkin.cadre_id,
            LeaveRequest.status == LeaveStatus.approved,
            LeaveRequest.start_on <= Checkin.local_date,
            LeaveRequest.end_on >= Checkin.local_date,
        ),
    )
    .where(*_IN_MONTH)
    .group_by(Checkin.cadre_id)
)


def _params(cadre_ids: list[int], month: Month) -> dict[str, Any]:
    return {"cadres": cadre_ids, "first": month.first, "next_first": month.next_first}


def _day_marks(session: Session, cadre_ids: list[int], month: Month) -> dict[int, dict[date, bool]]:
    """Per cadre and day: True if any check-in was in the fence, False if all were outside. One GROUP BY."""
    marks: dict[int, dict[date, bool]] = defaultdict(dict)
    for cadre_id, day, any_inside in read_rows(session, _DAY_MARKS, _params(cadre_ids, month)):
        marks[cadre_id][day] = bool(any_inside)
    return marks


def _days_on_post(session: Session, cadre_ids: list[int], month: Month) -> dict[int, tuple[int, int]]:
    """Per cadre, in SQL: days with a check-in in the fence, and how many of those were approved leave days."""
    rows = read_rows(session, _DAYS_ON_POST, _params(cadre_ids, month))
    return {cadre_id: (days, on_leave) for cadre_id, days, on_leave in rows}


def _leave_days(session: Session, cadre_ids: list[int], month: Month) -> dict[int, set[date]]:
    days: dict[int, set[date]] = defaultdict(set)
    leaves = read_rows(session, _APPROVED_LEAVE, _params(cadre_ids, month))
    for cadre_id, start, end in leaves:
        day = max(start, month.first)
        while day <= min(end, month.last):
            days[cadre_id].add(day)
            day += timedelta(days=1)
    return days


def attendance_for(session: Session, cadres: list[Cadre], month: Month, *, calendar: bool = False) -> list[Attendance]:
    """Attendance of several cadres in three or four queries (check-ins, leave, settings per county)."""
    return attendance_of(session, [(c.id, c.county_id) for c in cadres], month, calendar=calendar)


def attendance_of(
    session: Session, cadres: list[tuple[int, int]], month: Month, *, calendar: bool = False
) -> list[Attendance]:
    """`attendance_for` by (cadre id, county id): callers that batch many villages need not load the cadres.
    With `calendar`, the day marks are read too (one row per cadre and day instead of one per cadre)."""
    ids = [cadre_id for cadre_id, _county in cadres]
    leaves = _leave_days(session, ids, month)
    marks = _day_marks(session, ids, month) if calendar else None
    if marks is not None:
        counted = {
            c: (sum(1 for inside in m.values() if inside), sum(1 for day in leaves.get(c, ()) if m.get(day)))
            for c, m in marks.items()
        }
    else:
        counted = _days_on_post(session, ids, month)
    out = []
    for cadre_id, county_id in cadres:
        leave = frozenset(leaves.get(cadre_id, ()))
        days_on_post, on_post_during_leave = counted.get(cadre_id, (0, 0))
        out.append(
            Attendance(
                cadre_id=cadre_id,
                month=month,
                days_on_post=days_on_post,
                leave_days=len(leave) - on_post_during_leave,
                base_required=settings_for_county(session, county_id).required_days,
                marks=marks.get(cadre_id, {}) if marks is not None else None,
                leave=leave,
            )
        )
    return out


# The resident work team (驻村工作队) whose attendance a village answers for; helpers and grid workers are not on it.
TEAM_POSTS = (Post.first_secretary, Post.team_leader, Post.team_member)


_TEAM_POSTINGS = (
    select(Posting.village_id, Posting.cadre_id, Cadre.county_id)
    .join(Cadre, Cadre.id == Posting.cadre_id)
    .where(
        any_of(Posting.village_id, "villages"),
        Posting.post.in_(TEAM_POSTS),
        Posting.start_on < _NEXT_FIRST,
        or_(Posting.end_on.is_(None), Posting.end_on >= _FIRST),
    )
    .order_by(Posting.village_id, Posting.cadre_id)
)


def team_attendance(session: Session, village_ids: list[int], month: Month) -> dict[int, list[Attendance]]:
    """Per village, the attendance of every team member posted there at any time of the month (four queries)."""
    posted = read_rows(
        session, _TEAM_POSTINGS, {"villages": village_ids, "first": month.first, "next_first": month.next_first}
    ).all()
    cadres = sorted({(cadre_id, county_id) for _village, cadre_id, county_id in posted})
    by_cadre = {a.cadre_id: a for a in attendance_of(session, cadres, month)} if cadres else {}
    teams: dict[int, list[Attendance]] = defaultdict(list)
    for village_id, cadre_id, _county in dict.fromkeys(posted):
        teams[village_id].append(by_cadre[cadre_id])
    return teams


def attendance_rate(attendances: list[Attendance]) -> float | None:
    """Days on post over required days (approved leave taken off), each cadre capped at what was required.

    All required days excused by leave counts as fully on post; no cadre at all is no data (None).
    """
    if not attendances:
        return None
    required = sum(a.required for a in attendances)
    if required == 0:
        return 1.0
    return sum(min(a.days_on_post, a.required) for a in attendances) / required


def cadres_posted_in(session: Session, scope: Scope, month: Month) -> list[Cadre]:
    """Cadres with a posting in the scope's villages at any time of the month."""
    posted = filter_villages(select(Posting.cadre_id), scope, Posting.village_id).where(
        Posting.start_on < month.next_first, or_(Posting.end_on.is_(None), Posting.end_on >= month.first)
    )
    return list(session.scalars(select(Cadre).where(Cadre.id.in_(posted)).order_by(Cadre.id)))


def own_attendance(session: Session, user: User, month: Month) -> Attendance:
    return attendance_for(session, [acting_cadre(user)], month, calendar=True)[0]
