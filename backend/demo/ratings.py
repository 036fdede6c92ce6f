"""Twelve months of compiled ratings for the demo county, so every board has history to show.

Automatic inputs come from the providers wherever the demo county has the records: attendance, visits and
problems from the cadre-work demo (the last twelve months), the first secretaries' frozen survey of last
quarter, points. Raters enter only what no record covers: village self-assessments (村创星) of the other
stars, some town adjustments and county visits (which may overrule a measured star, as in real life),
first-secretary and ranking scores, half-year committee scores and party-member bonuses/deductions, all
drawn from one seeded random generator. The inputs are gathered once and handed to the compile.
"""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db import insert_many
from backend.demo.records import HISTORY_MONTHS
from backend.months import Month
from backend.org.models import County, Household, Post, Posting, Resident, Town, Village
from backend.ratings.compile import Inputs, compile_month_now, half_year_of, previous_months
from backend.ratings.models import EntryStage, PartyMember, RatingEntry, SheetStage, StarSheet
from backend.ratings.presets import PRESETS
from backend.ratings.providers import Period, Subject
from backend.ratings.schemes import install_presets
from backend.timeutil import now_utc

SEED = 6006
# Inputs read from the demo's records. Points activity stays with the raters: the points demo gives only a few
# households a ledger, which would read as a county-wide participation of a few percent.
RECORD_KEYS = {"attendance_rate", "visit_coverage_rate", "problem_closure_rate"}
AUTO_KEYS = RECORD_KEYS | {"survey_satisfaction_rate"}
CATEGORIES = "ABCDEF"
TOWN_REASONS = ("走访台账缺少部分户签字", "问题整改佐证不全", "考勤记录与实际不符", "项目推进滞后于计划")
COUNTY_FINDINGS = ("暗访发现工作队员不在岗", "暗访发现走访记录补录", "暗访发现整改问题反弹")


def seed_ratings(session: Session, county: County) -> int:
    """Returns the number of months compiled."""
    rng = random.Random(SEED)
    this_month = Month.current()
    months = previous_months(str(this_month.shift(-1)), 12)
    install_presets(session, county.id, Month.parse(months[0]).first)
    villages = session.scalars(
        select(Village).join(Town).where(Town.county_id == county.id).order_by(Village.code)
    ).all()
    levels = {v.id: rng.choice((9.7, 9.3, 9.0, 8.7, 8.3)) for v in villages}
    _party_members(session, rng, villages)
    members = session.execute(
        select(PartyMember.id, PartyMember.village_id).where(PartyMember.village_id.in_([v.id for v in villages]))
    ).all()
    secretaries = session.execute(
        select(Posting.cadre_id, Posting.village_id).where(
            Posting.post == Post.first_secretary, Posting.village_id.in_([v.id for v in villages])
        )
    ).all()
    inputs = Inputs(session)
    entries: list[dict[str, Any]] = []
    sheets: list[dict[str, Any]] = []
    recorded = set(previous_months(str(this_month), HISTORY_MONTHS))  # months the cadre-work demo covers
    for index, month in enumerate(months):
        period = Period.month(month)
        keys = AUTO_KEYS if month in recorded else AUTO_KEYS - RECORD_KEYS
        village_subjects = {v.id: Subject("village", v.id, v.id) for v in villages}
        cadre_subjects = {c: Subject("cadre", c, v) for c, v in secretaries}
        inputs.prefetch(keys, [*village_subjects.values(), *cadre_subjects.values()], period)
        half = half_year_of(month)
        if half:
            inputs.prefetch(keys, list(village_subjects.values()), half)
        for village in villages:
            subject = village_subjects[village.id]
            entries += _star_sheet(
                sheets,
                rng,
                village.id,
                month,
                levels[village.id],
                index == len(months) - 1,
                _measured(inputs, keys, "ziyang_ten_star", subject, period),
            )
            ranked = _measured(inputs, keys, "guangyuan_ranking", subject, period)
            entries += _manual(
                rng,
                "village",
                village.id,
                month,
                [f"R0{n}" for n in range(1, 5) if f"R0{n}" not in ranked],
                20,
                levels[village.id],
            )
            if rng.random() < 0.06:
                entries.append(_entry("village", village.id, month, "major_problem", 1.0, "manual"))
            if half:
                measured = _measured(inputs, keys, "gaoyang_thousand_point", subject, half)
                entries += _thousand(rng, village.id, half.label, levels[village.id], measured)
        for cadre_id, village_id in secretaries:
            measured = _measured(inputs, keys, "baoji_first_secretary", cadre_subjects[cadre_id], period)
            entries += _secretary(rng, cadre_id, month, levels[village_id], measured)
        for member_id, _village_id in members:
            entries += _party(rng, member_id, month)
    insert_many(session, StarSheet.__table__, sheets)
    insert_many(session, RatingEntry.__table__, entries)
    for month in months:
        compile_month_now(session, county.id, month, inputs)
    return len(months)


def _measured(inputs: Inputs, keys: set[str], preset: str, subject: Subject, period: Period) -> set[str]:
    """Codes of the preset's indicators whose input (among `keys`) has data for this subject and period: the
    raters leave those to the records."""
    indicators = [i for i in PRESETS[preset]["definition"]["indicators"] if i.get("input") in keys]
    found = inputs({i["input"] for i in indicators}, subject, period)
    return {i["code"] for i in indicators if found[i["input"]]["available"]}


def _entry(
    subject_type: str, subject_id: int, period: str, key: str, value: float, stage: str, reason: str = ""
) -> dict[str, Any]:
    """One rater entry as a row for a bulk insert (thousands of them: ORM objects would be slow)."""
    return {
        "subject_type": subject_type,
        "subject_id": subject_id,
        "period": period,
        "key": key,
        "stage": EntryStage(stage),
        "value": round(value, 1),
        "reason": reason,
        "evidence": "",
        "entered_at": now_utc(),
    }


def _draw(rng: random.Random, level: float, top: float) -> float:
    return max(0.0, min(top, round(top * (level + rng.uniform(-1.5, 0.9)) / 10, 1)))


def _star_sheet(
    sheets: list[dict[str, Any]],
    rng: random.Random,
    village_id: int,
    month: str,
    level: float,
    latest: bool,
    measured: set[str],
) -> list[dict[str, Any]]:
    stars = [i["code"] for i in PRESETS["ziyang_ten_star"]["definition"]["indicators"]]
    out = [
        _entry("village", village_id, month, f"item:{code}", _draw(rng, level, 10), "self")
        for code in stars
        if code not in measured
    ]
    stage = rng.choice((SheetStage.self_assessed, SheetStage.town_rated)) if latest else SheetStage.county_verified
    sheet: dict[str, Any] = {
        "village_id": village_id,
        "month": month,
        "stage": stage,
        "self_note": "按月自评",
        "self_at": now_utc(),
        "town_at": None,
        "visit_on": None,
        "findings": "",
        "county_at": None,
    }
    if stage != SheetStage.self_assessed:
        sheet["town_at"] = now_utc()
        if rng.random() < 0.06:
            out.append(
                _entry("village", village_id, month, "item:S09", rng.uniform(5.5, 6.9), "town", "入户回访满意率偏低")
            )
        if rng.random() < 0.2:
            out.append(
                _entry(
                    "village",
                    village_id,
                    month,
                    f"item:{rng.choice(stars)}",
                    rng.uniform(6, 7.9),
                    "town",
                    rng.choice(TOWN_REASONS),
                )
            )
    if stage == SheetStage.county_verified:
        sheet["county_at"] = now_utc()
        if rng.random() < 0.12:
            finding = rng.choice(COUNTY_FINDINGS)
            sheet["visit_on"] = Month.parse(month).first.replace(day=rng.randint(10, 25))
            sheet["findings"] = finding
            out.append(
                _entry(
                    "village", village_id, month, f"item:{rng.choice(stars)}", rng.uniform(5, 7.5), "county", finding
                )
            )
            if rng.random() < 0.3:
                out.append(_entry("village", village_id, month, "veto:S01V1", 1.0, "county", finding))
    sheets.append(sheet)
    return out


def _manual(
    rng: random.Random, subject_type: str, subject_id: int, period: str, codes: list[str], top: float, level: float
) -> list[dict[str, Any]]:
    return [
        _entry(subject_type, subject_id, period, f"item:{code}", _draw(rng, level, top), "manual") for code in codes
    ]


def _secretary(rng: random.Random, cadre_id: int, month: str, level: float, measured: set[str]) -> list[dict[str, Any]]:
    definition = PRESETS["baoji_first_secretary"]["definition"]
    return [
        _entry("cadre", cadre_id, month, f"item:{i['code']}", _draw(rng, level + 0.4, i["max"]), "manual")
        for i in definition["indicators"]
        if i["code"] not in measured
    ]


def _thousand(rng: random.Random, village_id: int, half: str, level: float, measured: set[str]) -> list[dict[str, Any]]:
    definition = PRESETS["gaoyang_thousand_point"]["definition"]
    out = [
        _entry("village", village_id, half, f"item:{i['code']}", _draw(rng, level, i["max"]), "manual")
        for i in definition["indicators"]
        if i["code"] not in measured
    ]
    if rng.random() < 0.4:
        out.append(
            _entry(
                "village",
                village_id,
                half,
                f"bonus:{rng.choice(definition['bonuses'])['code']}",
                rng.randint(1, 2),
                "manual",
            )
        )
    if rng.random() < 0.3:
        out.append(
            _entry("village", village_id, half, f"deduct:{rng.choice(definition['deductions'])['code']}", 1, "manual")
        )
    return out


def _party(rng: random.Random, member_id: int, month: str) -> list[dict[str, Any]]:
    definition = PRESETS["gaoyang_party_member"]["definition"]
    out = []
    for item in rng.sample(definition["bonuses"], rng.randint(0, 2)):
        out.append(_entry("party_member", member_id, month, f"bonus:{item['code']}", rng.randint(1, 2), "manual"))
    if rng.random() < 0.25:
        out.append(
            _entry(
                "party_member", member_id, month, f"deduct:{rng.choice(definition['deductions'])['code']}", 1, "manual"
            )
        )
    return out


def _party_members(session: Session, rng: random.Random, villages: list[Village]) -> None:
    """Six members per village among adult residents, one of each category A–F."""
    for village in villages:
        residents = session.scalars(
            select(Resident.id)
            .join(Household)
            .where(Household.village_id == village.id, Resident.birth_year <= 2000)
            .order_by(Resident.id)
        ).all()
        for resident_id, category in zip(rng.sample(list(residents), len(CATEGORIES)), CATEGORIES, strict=True):
            session.add(PartyMember(resident_id=resident_id, village_id=village.id, category=category))
    session.flush()
