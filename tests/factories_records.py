"""Cadre-work rows for the shared test world: one daily record, one visit with an open problem (V1/H1)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from backend.auth.models import User
from backend.records.models import DailyRecord, Problem, RecordCategory, Visit
from backend.timeutil import now_utc, to_local


def add_cadre_work(session: Session, author: User, village_id: int, household_id: int) -> dict[str, int]:
    now = now_utc()
    today = to_local(now).date()
    record = DailyRecord(
        cadre_id=author.cadre_id,
        author_id=author.id,
        village_id=village_id,
        record_date=today,
        category=RecordCategory.meeting,
        content="召开村两委会议，研究产业路修缮",
        place="村委会",
        created_at=now,
        created_on=today,
    )
    visit = Visit(
        cadre_id=author.cadre_id,
        author_id=author.id,
        household_id=household_id,
        village_id=village_id,
        at=now,
        local_date=today,
        purpose="了解务工情况",
        findings="户主在家养伤",
    )
    session.add_all([record, visit])
    session.flush()
    problem = Problem(
        village_id=village_id,
        household_id=household_id,
        source_type="visit",
        source_id=visit.id,
        description="房屋漏雨需维修",
        owner_cadre_id=author.cadre_id,
        deadline=today + timedelta(days=15),
        raised_by_id=author.id,
    )
    session.add(problem)
    session.flush()
    return {"daily_record": record.id, "visit": visit.id, "problem": problem.id}
