"""The demo county shows cadre work: a year of check-ins, visits and closed problems for the monthly
ratings, and a current month with records (some with photos), coverage gaps and open problems."""

from __future__ import annotations

from sqlalchemy import func, select

from backend.auth.models import User
from backend.auth.scope import scope_for
from backend.months import Month
from backend.photos.models import Photo, PhotoFlag, PhotoStatus
from backend.records import queries
from backend.records.models import Checkin, DailyRecord, LeaveRequest, Problem, ProblemStatus, Visit
from backend.records.problems import problems_query
from backend.timeutil import today_local


def test_demo_county_has_a_year_of_cadre_work_and_a_lively_current_month(session, demo_county) -> None:  # type: ignore[no-untyped-def]
    this_month = Month.of(today_local())
    first_checkin = session.scalar(select(func.min(Checkin.local_date)))
    assert first_checkin >= this_month.shift(-11).first and first_checkin < this_month.shift(-10).first
    assert session.scalar(select(func.count(func.distinct(Checkin.cadre_id)))) > 50
    assert session.scalar(select(func.count()).where(Checkin.in_fence.is_(False))) > 0
    visits_by_month = session.scalar(
        select(func.count(Visit.id)).where(Visit.local_date >= this_month.shift(-11).first)
    )
    assert visits_by_month > 3000
    statuses = dict(session.execute(select(Problem.status, func.count()).group_by(Problem.status)).tuples().all())
    assert statuses[ProblemStatus.closed] > statuses.get(ProblemStatus.open, 0) > 0
    assert (
        session.scalar(
            select(func.count()).where(Problem.closed_at.is_not(None), Problem.status != ProblemStatus.closed)
        )
        == 0
    )
    assert session.scalar(select(func.count(DailyRecord.id)).where(DailyRecord.record_date >= this_month.first)) > 0
    photos = session.scalars(select(Photo).where(Photo.owner_type == "daily_record")).all()
    assert len(photos) >= 20 and all(p.status == PhotoStatus.ready for p in photos)  # processed after commit
    assert any(p.flag == PhotoFlag.duplicate for p in photos)
    # Only the deliberately re-used picture is flagged: demo scenes differ enough for the perceptual hash.
    all_photos = session.scalars(select(Photo)).all()
    assert not [p for p in all_photos if p.flag == PhotoFlag.near_duplicate]
    assert session.scalar(select(func.count()).where(LeaveRequest.status == "pending")) > 0


def test_demo_town_admin_sees_coverage_gaps_overdue_problems_and_cadres_below_the_line(session, demo_county) -> None:  # type: ignore[no-untyped-def]
    town_admin = session.scalar(select(User).where(User.username == "town_admin_qingshi"))
    scope = scope_for(session, town_admin)
    last_month = Month.of(today_local()).shift(-1)
    coverage = queries.coverage_table(session, scope, last_month)
    gaps = queries.coverage_table(session, scope, last_month, gaps_only=True)
    assert len(coverage) > 20 and 0 < len(gaps) < len(coverage) / 2
    assert session.scalars(problems_query(scope, overdue=True)).first() is not None
    attendance = queries.attendance_table(session, scope, last_month)
    assert any(row.attendance.met for row in attendance) and not all(row.attendance.met for row in attendance)
