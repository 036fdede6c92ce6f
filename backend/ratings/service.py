"""Ratings services for the admin UI and the API: the star sheet workflow and 整改 closure (reads: queries.py).

Every read goes through the caller's Scope (backend.auth.scope): a town admin sees only their villages.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from backend.auth.models import Role, User
from backend.auth.scope import Scope, load_village
from backend.errors import Conflict, Forbidden, InvalidRequest, NotFound, NotInScope
from backend.months import Month
from backend.org.models import Village
from backend.ratings.compile import compile_villages, finalize_month, village_rows
from backend.ratings.models import (
    EntryStage,
    RatingEntry,
    Rectification,
    SheetStage,
    StarSheet,
)
from backend.ratings.schemes import star_definition
from backend.timeutil import now_utc

# --- the star sheet workflow: 村创星 → 镇评星 → 县核星 ------------------------------------------------


def _sheet(session: Session, village_id: int, month: str) -> StarSheet:
    sheet = session.scalar(select(StarSheet).where(StarSheet.village_id == village_id, StarSheet.month == month))
    if sheet is None:
        sheet = StarSheet(village_id=village_id, month=month, stage=SheetStage.open)
        session.add(sheet)
        session.flush()
    return sheet


def _record(
    session: Session, village_id: int, month: str, stage: EntryStage, values: dict[str, tuple[float, str]], actor: User
) -> None:
    """Replace this stage's entries for the sheet: a stage may be re-submitted until the next one acts."""
    session.execute(
        delete(RatingEntry).where(
            RatingEntry.subject_type == "village",
            RatingEntry.subject_id == village_id,
            RatingEntry.period == month,
            RatingEntry.stage == stage,
            RatingEntry.key.like("item:S%") | RatingEntry.key.like("veto:S%"),
        )
    )
    session.add_all(
        RatingEntry(
            subject_type="village",
            subject_id=village_id,
            period=month,
            key=key,
            stage=stage,
            value=value,
            reason=reason,
            entered_by_id=actor.id,
        )
        for key, (value, reason) in values.items()
    )
    session.flush()


def _check_values(definition: dict[str, Any], scores: dict[str, float], vetoes: set[str]) -> None:
    maxima = {i["code"]: i["max"] for i in definition["indicators"]}
    veto_codes = {v["code"] for i in definition["indicators"] for v in i["vetoes"]}
    errors = {code: ["不是本方案的星"] for code in scores if code not in maxima}
    errors |= {
        code: [f"得分须在0到{maxima[code]:g}之间"]
        for code, v in scores.items()
        if code in maxima and not 0 <= v <= maxima[code]
    }
    errors |= {code: ["不是本方案的否决项"] for code in vetoes if code not in veto_codes}
    if errors:
        raise InvalidRequest(errors=errors)


def _refresh(session: Session, village: Village, month: str) -> None:
    """Re-evaluate the village at once so the sheet and the board show the new stage."""
    villages = village_rows(session, month, ids=[village.id])
    compile_villages(session, village.town.county_id, month, villages)
    finalize_month(session, village.town.county_id, month)


def self_assess(
    session: Session,
    scope: Scope,
    user: User,
    village_id: int,
    month: str,
    *,
    scores: dict[str, float],
    vetoes: set[str],
    note: str,
) -> StarSheet:
    """村创星: the village (its review panel or a cadre posted there) scores every star it claims."""
    Month.parse(month)
    village = load_village(session, scope, village_id)
    if user.role not in (Role.reviewer, Role.cadre):
        raise Forbidden("村创星由本村评议小组或驻村干部填报")
    sheet = _sheet(session, village.id, month)
    if sheet.stage not in (SheetStage.open, SheetStage.self_assessed):
        raise Conflict("镇已评星，村自评不能再修改")
    _check_values(star_definition(session, village, month), scores, vetoes)
    values = {f"item:{c}": (v, "") for c, v in scores.items()} | {f"veto:{c}": (1.0, "") for c in vetoes}
    _record(session, village.id, month, EntryStage.self, values, user)
    sheet.stage, sheet.self_note, sheet.self_by_id, sheet.self_at = SheetStage.self_assessed, note, user.id, now_utc()
    _refresh(session, village, month)
    return sheet


def town_rate(
    session: Session,
    scope: Scope,
    user: User,
    village_id: int,
    month: str,
    *,
    adjustments: dict[str, tuple[float, str]],
    vetoes: set[str],
) -> StarSheet:
    """镇评星: the town confirms the self-assessment, adjusting stars only with a written reason."""
    village = load_village(session, scope, village_id)
    if user.role != Role.town_admin:
        raise Forbidden("镇评星由乡镇管理员进行")
    sheet = _sheet(session, village.id, month)
    if sheet.stage not in (SheetStage.self_assessed, SheetStage.town_rated):
        raise Conflict("村尚未自评，或县已核星")
    _check_values(star_definition(session, village, month), {c: v for c, (v, _r) in adjustments.items()}, vetoes)
    missing = [code for code, (_v, reason) in adjustments.items() if not reason.strip()]
    if missing:
        raise InvalidRequest("调整星级得分须说明理由", errors={code: ["请填写调整理由"] for code in missing})
    values = {f"item:{c}": (v, r.strip()) for c, (v, r) in adjustments.items()}
    values |= {f"veto:{c}": (1.0, "镇评星认定") for c in vetoes}
    _record(session, village.id, month, EntryStage.town, values, user)
    sheet.stage, sheet.town_by_id, sheet.town_at = SheetStage.town_rated, user.id, now_utc()
    _refresh(session, village, month)
    return sheet


def county_verify(
    session: Session,
    scope: Scope,
    user: User,
    village_id: int,
    month: str,
    *,
    overrides: dict[str, float],
    vetoes: set[str],
    visit_on: date | None,
    findings: str,
) -> StarSheet:
    """县核星: the county verifies; any override needs the unannounced visit's date and written findings."""
    village = load_village(session, scope, village_id)
    if user.role != Role.county_admin:
        raise Forbidden("县核星由县级管理员进行")
    sheet = _sheet(session, village.id, month)
    if sheet.stage not in (SheetStage.town_rated, SheetStage.county_verified):
        raise Conflict("镇尚未评星")
    _check_values(star_definition(session, village, month), overrides, vetoes)
    if (overrides or vetoes) and (visit_on is None or not findings.strip()):
        raise InvalidRequest("县核星改分须记录暗访日期和书面发现", errors={"findings": ["请填写暗访发现"]})
    values = {f"item:{c}": (v, findings.strip()) for c, v in overrides.items()}
    values |= {f"veto:{c}": (1.0, findings.strip()) for c in vetoes}
    _record(session, village.id, month, EntryStage.county, values, user)
    sheet.stage, sheet.visit_on, sheet.findings = SheetStage.county_verified, visit_on, findings.strip()
    sheet.county_by_id, sheet.county_at = user.id, now_utc()
    _refresh(session, village, month)
    return sheet


def close_rectification(session: Session, scope: Scope, user: User, item_id: int, evidence: str) -> Rectification:
    """销号: closing needs the evidence of what was fixed; town and county admins close items of their villages."""
    item = session.get(Rectification, item_id)
    if item is None:
        raise NotFound("整改事项不存在")
    if not scope.covers_village(item.village_id):
        raise NotInScope()
    if user.role not in (Role.town_admin, Role.county_admin):
        raise Forbidden("销号由乡镇或县级管理员进行")
    if item.closed:
        raise Conflict("该整改事项已销号")
    if not evidence.strip():
        raise InvalidRequest(errors={"evidence": ["请填写整改佐证"]})
    item.evidence, item.closed, item.closed_at, item.closed_by_id = evidence.strip(), True, now_utc(), user.id
    session.flush()
    return item
