"""Cadre work in the demo county: twelve months of check-ins, leave, visits and problem closures (the
monthly ratings read that history), plus this and last month's daily records, some with real photos
sent through the photo pipeline, and the coverage gaps and overdue problems a town would chase.

Deterministic for a given "today" (its own random.Random); bulk inserts (`insert_many`) keep it under a second.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.auth.models import Role, User
from backend.auth.scope import scope_for
from backend.db import insert_many, insert_many_ids
from backend.demo.photos import demo_photo
from backend.months import Month
from backend.org.models import County, Household, Pairing, Post, Posting, Town, Village
from backend.photos.service import attach_photos
from backend.records.common import ZIYANG_VISITS, distance_m, in_fence
from backend.records.models import (
    CATEGORY_LABELS,
    CadreWorkSettings,
    Checkin,
    DailyRecord,
    DailyRecordAmendment,
    LeaveRequest,
    LeaveStatus,
    Problem,
    ProblemStatus,
    RecordCategory,
    Visit,
    VisitKind,
    daily_record_household,
)
from backend.timeutil import LOCAL_TZ, today_local

SEED = 20241104
HISTORY_MONTHS = 12
METRES_PER_DEGREE = 111_195
PHOTOS_PER_FIRST_SECRETARY = 2

PURPOSES = (
    "了解家庭收入情况",
    "宣传医保和养老保险政策",
    "回访产业帮扶落实",
    "了解务工就业情况",
    "查看住房安全",
    "了解子女上学情况",
)
FINDINGS = (
    "家中两人外出务工，收入稳定，茶园长势良好。",
    "户主慢性病，已签约家庭医生，按时服药。",
    "新修的猪圈已投入使用，存栏 6 头。",
    "孩子在镇中学读书，已享受教育补助。",
    "住房安全，饮水正常，庭院干净整洁。",
    "老人独居，子女每月回家，已安装一键呼叫。",
)
PROBLEMS = (
    ("饮水管道冻裂，需维修", 10),
    ("申请公益性岗位", 20),
    ("慢病卡办理", 15),
    ("危房改造进度跟进", 30),
    ("小额信贷续贷咨询", 15),
    ("入户道路硬化", 30),
)
CLOSING = (
    "已协调镇水管站维修，恢复供水。",
    "已上报镇人社所，安排护林员岗位。",
    "已陪同到县医院办理。",
    "已联系相关部门办结，群众满意。",
)
RECORDS: dict[RecordCategory, tuple[str, ...]] = {
    RecordCategory.visit: ("走访脱贫户，了解两不愁三保障落实情况。", "入户核实监测户收入变化。"),
    RecordCategory.meeting: ("参加村两委会议，研究产业路修缮方案。", "组织党员大会，学习乡村振兴政策。"),
    RecordCategory.industry: ("到茶叶合作社了解收购价格，协调销售渠道。", "查看魔芋种植基地，联系技术员指导。"),
    RecordCategory.policy: ("在村广场宣讲医保缴费政策。", "入户宣传防汛避险知识。"),
    RecordCategory.mediation: ("调解两户宅基地边界纠纷，双方达成一致。", "调解赡养纠纷，子女签订赡养协议。"),
    RecordCategory.service: ("为三户群众代办残疾证年审。", "代办养老保险认证 5 人。"),
    RecordCategory.other: ("整理帮扶台账，更新户档案。",),
}
CATEGORY_WEIGHTS = (30, 15, 15, 15, 8, 12, 5)
PLACES = ("村委会", "一组", "二组", "三组", "茶园基地", "村广场", "合作社")


@dataclass
class RecordsDemoSummary:
    checkins: int = 0
    leaves: int = 0
    visits: int = 0
    problems: int = 0
    daily_records: int = 0
    photos: int = 0


@dataclass(frozen=True)
class _Cadre:
    id: int
    village: Village
    post: Post
    user: User
    diligence: float


def _at(day: date, rng: random.Random, start_hour: int, end_hour: int) -> datetime:
    minute = rng.randrange(start_hour * 60, end_hour * 60)
    return datetime.combine(day, time(minute // 60, minute % 60), LOCAL_TZ).astimezone(UTC)


def _near(village: Village, rng: random.Random, metres: float) -> tuple[float, float]:
    bearing = rng.uniform(0, 2 * math.pi)
    lat = village.center_lat + metres * math.cos(bearing) / METRES_PER_DEGREE
    lng = village.center_lng + metres * math.sin(bearing) / (METRES_PER_DEGREE * math.cos(math.radians(lat)))
    return lat, lng


def _days(months: list[Month], today: date) -> dict[Month, list[date]]:
    """Each month's days up to today."""
    out = {}
    for month in months:
        first = month.first
        out[month] = [day for day in (first + timedelta(days=i) for i in range(month.days)) if day <= today]
    return out


def seed_records(session: Session, county: County, today: date | None = None) -> RecordsDemoSummary:
    rng = random.Random(SEED)
    today = today or today_local()
    summary = RecordsDemoSummary()
    session.add(CadreWorkSettings(county_id=county.id, required_days=20, **ZIYANG_VISITS))
    villages = {
        v.id: v
        for v in session.scalars(select(Village).join(Town).where(Town.county_id == county.id).order_by(Village.id))
    }
    users = {u.cadre_id: u for u in session.scalars(select(User).where(User.role == Role.cadre))}
    cadres: dict[int, _Cadre] = {}
    for cadre_id, village_id, post in session.execute(
        select(Posting.cadre_id, Posting.village_id, Posting.post)
        .where(Posting.village_id.in_(villages), Posting.post != Post.helper)
        .order_by(Posting.cadre_id)
    ):
        if cadre_id in users:
            # One cadre in nine is often away: the attendance page needs someone below the line.
            diligence = rng.uniform(0.45, 0.6) if rng.random() < 0.11 else rng.uniform(0.78, 0.97)
            cadres[cadre_id] = _Cadre(cadre_id, villages[village_id], post, users[cadre_id], diligence)
    town_admins = {u.town_id: u.id for u in session.scalars(select(User).where(User.role == Role.town_admin))}
    months = _days([Month.of(today).shift(-i) for i in reversed(range(HISTORY_MONTHS))], today)
    on_post = _seed_attendance(session, rng, cadres, town_admins, months, today, summary)
    _seed_visits(session, rng, cadres, months, today, summary)
    _seed_daily_records(session, rng, cadres, on_post, Month.of(today).shift(-1).first, summary)
    return summary


def _seed_attendance(
    session: Session,
    rng: random.Random,
    cadres: dict[int, _Cadre],
    town_admins: dict[int, int],
    months: dict[Month, list[date]],
    today: date,
    summary: RecordsDemoSummary,
) -> dict[int, list[date]]:
    """Morning check-ins on most working days; some months a short approved leave; a few pending requests."""
    checkins: list[dict] = []
    leaves: list[dict] = []
    on_post: dict[int, list[date]] = defaultdict(list)
    for cadre in cadres.values():
        village = cadre.village
        for days in months.values():
            leave: set[date] = set()
            if rng.random() < 0.18 and len(days) > 10:
                start = rng.choice(days[:-5])
                leave = {start + timedelta(days=i) for i in range(rng.randint(1, 4))}
                decided = datetime.combine(start - timedelta(days=2), time(10), LOCAL_TZ).astimezone(UTC)
                leaves.append(
                    {
                        "cadre_id": cadre.id,
                        "village_id": village.id,
                        "start_on": min(leave),
                        "end_on": max(leave),
                        "reason": rng.choice(("家中老人住院", "参加县里培训", "子女升学", "病假")),
                        "status": LeaveStatus.approved,
                        "requested_by_id": cadre.user.id,
                        "requested_at": decided - timedelta(days=1),
                        "decided_by_id": town_admins.get(village.town_id),
                        "decided_at": decided,
                    }
                )
            for day in days:
                working = day.weekday() < 5 or rng.random() < 0.25
                if day in leave or not working or rng.random() > cadre.diligence:
                    continue
                outside = rng.random() < 0.05
                metres = (
                    rng.uniform(1.5, 4) * village.fence_radius_m
                    if outside
                    else rng.uniform(0, 0.6) * village.fence_radius_m
                )
                lat, lng = _near(village, rng, metres)
                accuracy = rng.choice((8.0, 15.0, 30.0, 65.0))
                distance = distance_m(lat, lng, village.center_lat, village.center_lng)
                inside = in_fence(distance, accuracy, village.fence_radius_m, 100)
                checkins.append(
                    {
                        "cadre_id": cadre.id,
                        "village_id": village.id,
                        "at": _at(day, rng, 7, 10),
                        "local_date": day,
                        "location": f"{lat:.6f},{lng:.6f}",
                        "accuracy_m": accuracy,
                        "distance_m": round(distance),
                        "in_fence": inside,
                    }
                )
                if inside:
                    on_post[cadre.id].append(day)
    # Requests waiting for the town in the coming week.
    for cadre in list(cadres.values())[:: max(1, len(cadres) // 3)][:3]:
        start = today + timedelta(days=rng.randint(2, 6))
        leaves.append(
            {
                "cadre_id": cadre.id,
                "village_id": cadre.village.id,
                "start_on": start,
                "end_on": start + timedelta(days=rng.randint(0, 2)),
                "reason": "回派出单位述职",
                "status": LeaveStatus.pending,
                "requested_by_id": cadre.user.id,
                "requested_at": datetime.combine(today, time(8), LOCAL_TZ).astimezone(UTC),
                "decided_by_id": None,
                "decided_at": None,
            }
        )
    insert_many(session, Checkin.__table__, checkins)
    insert_many(session, LeaveRequest.__table__, leaves)
    summary.checkins, summary.leaves = len(checkins), len(leaves)
    return on_post


def _seed_visits(
    session: Session,
    rng: random.Random,
    cadres: dict[int, _Cadre],
    months: dict[Month, list[date]],
    today: date,
    summary: RecordsDemoSummary,
) -> None:
    """Most paired households get their two visits a month; some get fewer (the coverage gaps)."""
    pairings = session.execute(
        select(Pairing.cadre_id, Pairing.household_id, Household.village_id)
        .join(Household, Household.id == Pairing.household_id)
        .where(Pairing.cadre_id.in_(cadres), Pairing.end_on.is_(None))
        .order_by(Pairing.household_id)
    ).all()
    rows: list[dict] = []
    for cadre_id, household_id, village_id in pairings:
        author = cadres[cadre_id].user.id
        for month, days in months.items():
            count = rng.choices((0, 1, 2, 3), (4, 12, 70, 14))[0]
            if len(days) < month.days:  # the running month: visits so far
                count = round(count * len(days) / month.days)
            for day in sorted(rng.sample(days, min(count, len(days)))):
                rows.append(
                    {
                        "cadre_id": cadre_id,
                        "author_id": author,
                        "household_id": household_id,
                        "village_id": village_id,
                        "kind": VisitKind.visit,
                        "at": _at(day, rng, 9, 18),
                        "local_date": day,
                        "purpose": rng.choice(PURPOSES),
                        "findings": rng.choice(FINDINGS),
                    }
                )
    ids = insert_many_ids(session, Visit.__table__, rows)
    problems: list[dict] = []
    for visit_id, visit in zip(ids, rows, strict=True):
        if rng.random() > 0.12:
            continue
        description, days_allowed = rng.choice(PROBLEMS)
        raised: date = visit["local_date"]
        deadline = raised + timedelta(days=days_allowed)
        took = rng.choice((2, 5, 8, 12, 18, days_allowed + rng.randint(1, 10)))
        closed_on = raised + timedelta(days=took)
        closed = closed_on <= today and rng.random() < 0.92
        started = closed or (raised + timedelta(days=2) <= today and rng.random() < 0.6)
        problems.append(
            {
                "village_id": visit["village_id"],
                "household_id": visit["household_id"],
                "source_type": "visit",
                "source_id": visit_id,
                "description": description,
                "owner_cadre_id": visit["cadre_id"],
                "deadline": deadline,
                "status": ProblemStatus.closed
                if closed
                else ProblemStatus.in_progress
                if started
                else ProblemStatus.open,
                "raised_by_id": visit["author_id"],
                "raised_at": visit["at"],
                "started_at": visit["at"] + timedelta(days=1) if started else None,
                "closed_at": _at(closed_on, rng, 9, 18) if closed else None,
                "closed_by_id": visit["author_id"] if closed else None,
                "closing_evidence": rng.choice(CLOSING) if closed else None,
            }
        )
    insert_many(session, Problem.__table__, problems)
    summary.visits, summary.problems = len(rows), len(problems)


def _seed_daily_records(
    session: Session,
    rng: random.Random,
    cadres: dict[int, _Cadre],
    on_post: dict[int, list[date]],
    first: date,
    summary: RecordsDemoSummary,
) -> None:
    """民情日记 on about half the days on post in the last two months; first secretaries add photos."""
    households_by_village: dict[int, list[int]] = defaultdict(list)
    for household_id, village_id in session.execute(
        select(Household.id, Household.village_id).where(
            Household.village_id.in_({c.village.id for c in cadres.values()})
        )
    ):
        households_by_village[village_id].append(household_id)
    categories = list(RECORDS)
    rows: list[dict] = []
    links: list[int | None] = []
    for cadre in cadres.values():
        for day in on_post[cadre.id]:
            if day < first or rng.random() > 0.5:
                continue
            category = rng.choices(categories, CATEGORY_WEIGHTS)[0]
            at = _at(day, rng, 18, 22)
            rows.append(
                {
                    "cadre_id": cadre.id,
                    "author_id": cadre.user.id,
                    "village_id": cadre.village.id,
                    "record_date": day,
                    "category": category,
                    "content": rng.choice(RECORDS[category]),
                    "place": rng.choice(PLACES),
                    "created_at": at,
                    "created_on": day,
                }
            )
            village_households = households_by_village[cadre.village.id]
            links.append(rng.choice(village_households) if category == RecordCategory.visit else None)
    ids = insert_many_ids(session, DailyRecord.__table__, rows)
    pairs = [{"daily_record_id": i, "household_id": h} for i, h in zip(ids, links, strict=True) if h is not None]
    insert_many(session, daily_record_household, pairs)
    # A few later corrections (补正), so the history shows in the timeline.
    amended = rng.sample(range(len(ids)), min(5, len(ids)))
    insert_many(
        session,
        DailyRecordAmendment.__table__,
        [
            {
                "daily_record_id": ids[i],
                "author_id": rows[i]["author_id"],
                "at": rows[i]["created_at"] + timedelta(days=1),
                "reason": "补记参加人员",
                "category": rows[i]["category"],
                "content": rows[i]["content"] + "（参加人员：村两委成员 5 人）",
                "place": rows[i]["place"],
            }
            for i in amended
        ],
    )
    summary.daily_records = len(rows)
    summary.photos = _attach_demo_photos(session, rng, cadres, ids, rows)


def _attach_demo_photos(
    session: Session, rng: random.Random, cadres: dict[int, _Cadre], ids: list[int], rows: list[dict]
) -> int:
    """Synthetic pictures through the photo pipeline (processed after commit) on first secretaries'
    latest records; the fourth one repeats the first picture, so the duplicate flag shows."""
    latest: dict[int, list[int]] = defaultdict(list)
    for index in sorted(range(len(rows)), key=lambda i: rows[i]["record_date"], reverse=True):
        cadre = cadres[rows[index]["cadre_id"]]
        if cadre.post == Post.first_secretary and len(latest[cadre.id]) < PHOTOS_PER_FIRST_SECRETARY:
            latest[cadre.id].append(index)
    picture_seeds = [rng.randrange(2**32) for _ in range(sum(len(v) for v in latest.values()))]
    picture_seeds[3:4] = picture_seeds[:1]
    count = 0
    for cadre_id, indexes in latest.items():
        user = cadres[cadre_id].user
        scope = scope_for(session, user)
        for index in indexes:
            row = rows[index]
            photo = demo_photo(
                session,
                random.Random(picture_seeds[count]),
                user=user,
                scope=scope,
                event=CATEGORY_LABELS[row["category"]],
            )
            attach_photos(
                session,
                actor=scope,
                photo_ids=[photo.id],
                owner_type="daily_record",
                owner_id=ids[index],
                village_id=row["village_id"],
            )
            count += 1
    return count
