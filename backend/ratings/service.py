"""Ratings services for the admin UI and the API: the star sheet workflow, 整改 closure, and scoped read models.

Every read goes through the caller's Scope (backend.auth.scope): a town admin sees only their villages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from backend.auth.models import Role, User
from backend.auth.scope import Scope, filter_villages, load_village
from backend.crypto import mask_name
from backend.errors import Conflict, Forbidden, InvalidRequest, NotFound, NotInScope
from backend.months import Month
from backend.org.models import Cadre, Town, Village
from backend.pagination import PER_PAGE, Page, page_bounds
from backend.ratings.compile import compile_villages, finalize_month, previous_months, village_rows
from backend.ratings.models import (
    ALERT_LABELS,
    ORIGIN_LABELS,
    CompileRun,
    EntryStage,
    RatingAlert,
    RatingEntry,
    RatingResult,
    RatingScheme,
    Rectification,
    SchemeKind,
    SheetStage,
    StarSheet,
)
from backend.ratings.providers import INPUT_LABELS, Period, available
from backend.ratings.schemes import schemes_in_force
from backend.timeutil import now_utc

FLAG_LABELS = {
    "red_flag": "流动红旗",
    "yellow_card": "黄牌警示",
    "lost_star": "失星",
    "veto": "否决",
    "quota_capped": "超出优秀名额",
    "annual_bottom": "年度后10%",
}
STAGE_LABELS = {
    SheetStage.open: "待村创星",
    SheetStage.self_assessed: "村已自评，待镇评星",
    SheetStage.town_rated: "镇已评星，待县核星",
    SheetStage.county_verified: "县已核星",
}
ORIGIN_TEXT = {
    "auto": "系统数据",
    "self": "村自评",
    "town": "镇评定",
    "county": "县核定",
    "manual": "人工录入",
    "none": "未评",
}


# --- the star sheet workflow: 村创星 → 镇评星 → 县核星 ------------------------------------------------


def _sheet(session: Session, village_id: int, month: str) -> StarSheet:
    sheet = session.scalar(select(StarSheet).where(StarSheet.village_id == village_id, StarSheet.month == month))
    if sheet is None:
        sheet = StarSheet(village_id=village_id, month=month, stage=SheetStage.open)
        session.add(sheet)
        session.flush()
    return sheet


def _star_definition(session: Session, village: Village, month: str) -> dict[str, Any]:
    scheme = schemes_in_force(session, village.town.county_id, Period.month(month).start).get(SchemeKind.ten_star)
    if scheme is None:
        raise NotFound("本县尚未设置星级评定方案")
    return scheme.definition


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
    _check_values(_star_definition(session, village, month), scores, vetoes)
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
    _check_values(_star_definition(session, village, month), {c: v for c, (v, _r) in adjustments.items()}, vetoes)
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
    _check_values(_star_definition(session, village, month), overrides, vetoes)
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


# --- read models ----------------------------------------------------------------------------------


@dataclass
class StarRow:
    code: str
    title: str
    content: str
    standard: float
    score: float
    origin: str
    lit: bool
    lost_reason: str
    reason: str
    input_key: str | None
    input_label: str
    input_available: bool  # the provider delivered a value for this village and month
    input_value: float | None
    sources: list[dict[str, Any]]
    stages: dict[str, float] = field(default_factory=dict)
    input_wired: bool = False  # a provider exists for the input (it may still have had no data this month)
    vetoes: list[tuple[str, str]] = field(default_factory=list)  # (code, title) the raters may tick


@dataclass
class VillageRating:
    village: Village
    month: str
    result: RatingResult | None
    sheet: StarSheet | None
    stars: list[StarRow]
    history: list[tuple[str, int | None]]
    rectifications: list[Rectification]


def village_rating(session: Session, scope: Scope, village_id: int, month: str) -> VillageRating:
    Month.parse(month)
    village = load_village(session, scope, village_id)
    result = session.scalar(
        select(RatingResult)
        .where(
            RatingResult.kind == SchemeKind.ten_star,
            RatingResult.subject_type == "village",
            RatingResult.subject_id == village.id,
            RatingResult.period == month,
        )
        .execution_options(populate_existing=True)
    )
    sheet = session.scalar(select(StarSheet).where(StarSheet.village_id == village.id, StarSheet.month == month))
    stages: dict[str, dict[str, float]] = {}
    for entry in session.scalars(
        select(RatingEntry).where(
            RatingEntry.subject_type == "village",
            RatingEntry.subject_id == village.id,
            RatingEntry.period == month,
            RatingEntry.key.like("item:%"),
        )
    ):
        stages.setdefault(entry.key[5:], {})[entry.stage.value] = entry.value
    stars = []
    if result is not None:
        for ind in result.detail["indicators"]:
            key = ind["input"]
            source = result.detail["inputs"].get(key, {}) if key else {}
            stars.append(
                StarRow(
                    ind["code"],
                    ind["title"],
                    "",
                    ind["max"],
                    ind["score"],
                    ind["origin"],
                    bool(ind["lit"]),
                    ind["lost_reason"],
                    ind["reason"],
                    key,
                    INPUT_LABELS.get(key, "") if key else "",
                    bool(source.get("available")),
                    ind["input_value"],
                    source.get("sources", []),
                    stages.get(ind["code"], {}),
                    available(key) if key else False,
                )
            )
        definition = {i["code"]: i for i in _star_definition(session, village, month)["indicators"]}
        for star in stars:
            star.content = definition.get(star.code, {}).get("content", "")
            star.vetoes = [(v["code"], v["title"]) for v in definition.get(star.code, {}).get("vetoes", [])]
    months = previous_months(month, 12)
    by_month = dict(
        session.execute(
            select(RatingResult.period, RatingResult.stars).where(
                RatingResult.kind == SchemeKind.ten_star,
                RatingResult.subject_id == village.id,
                RatingResult.subject_type == "village",
                RatingResult.period.in_(months),
            )
        ).all()
    )
    rects = list(
        session.scalars(
            select(Rectification)
            .where(Rectification.village_id == village.id, Rectification.period == month)
            .order_by(Rectification.id)
        )
    )
    return VillageRating(village, month, result, sheet, stars, [(m, by_month.get(m)) for m in months], rects)


@dataclass
class ResultRow:
    result: RatingResult
    village_name: str
    town_name: str
    subject_name: str = ""


def _result_rows(
    session: Session,
    scope: Scope,
    kind: SchemeKind,
    period: str,
    town_id: int | None = None,
    subject_names: bool = False,
) -> list[ResultRow]:
    stmt = (
        select(RatingResult, Village.name, Town.name)
        .join(Village, Village.id == RatingResult.village_id)
        .join(Town, Town.id == Village.town_id)
        .where(RatingResult.kind == kind, RatingResult.period == period)
    )
    if town_id:
        stmt = stmt.where(Village.town_id == town_id)
    stmt = filter_villages(stmt, scope, RatingResult.village_id)
    rows = [ResultRow(r, v, t) for r, v, t in session.execute(stmt)]
    if subject_names:
        cadres = {
            c.id: c
            for c in session.scalars(
                select(Cadre).where(
                    Cadre.id.in_([r.result.subject_id for r in rows if r.result.subject_type == "cadre"])
                )
            )
        }
        for row in rows:
            cadre = cadres.get(row.result.subject_id)
            row.subject_name = mask_name(cadre.name) if cadre else ""
    return rows


def grade_trend(
    session: Session, scope: Scope, month: str, town_id: int | None = None
) -> list[tuple[str, dict[str, int]]]:
    """Villages per grade for the twelve months up to `month` (the board's trend chart)."""
    months = previous_months(month, 12)
    stmt = (
        select(RatingResult.period, RatingResult.grade, func.count())
        .join(Village, Village.id == RatingResult.village_id)
        .where(RatingResult.kind == SchemeKind.ten_star, RatingResult.period.in_(months))
        .group_by(RatingResult.period, RatingResult.grade)
    )
    if town_id:
        stmt = stmt.where(Village.town_id == town_id)
    counts: dict[str, dict[str, int]] = {m: {} for m in months}
    for period, grade, n in session.execute(filter_villages(stmt, scope, RatingResult.village_id)):
        counts[period][grade] = n
    return list(counts.items())


def star_board(session: Session, scope: Scope, month: str, town_id: int | None = None) -> list[ResultRow]:
    rows = _result_rows(session, scope, SchemeKind.ten_star, str(Month.parse(month)), town_id)
    return sorted(rows, key=lambda r: (-(r.result.stars or 0), -r.result.score, r.town_name, r.village_name))


@dataclass
class SecretaryTable:
    rows: list[ResultRow]
    quota_grade: str
    quota_share: float
    quota_cap: int
    excellent: int
    capped: int


def secretary_table(session: Session, scope: Scope, month: str) -> SecretaryTable:
    rows = _result_rows(session, scope, SchemeKind.hundred_point, str(Month.parse(month)), subject_names=True)
    rows.sort(key=lambda r: (-r.result.score, r.village_name))
    quota: dict[str, Any] = {}
    if rows:
        scheme = schemes_in_force(session, rows[0].result.county_id, Period.month(month).start)
        quota = scheme[SchemeKind.hundred_point].definition.get("quota") or {}
    grade, share = quota.get("grade", "优秀"), quota.get("share", 1.0)
    # The cap counts the whole county's first secretaries, not only the rows this scope shows.
    county_total = (
        len(
            session.scalars(
                select(RatingResult.id).where(
                    RatingResult.kind == SchemeKind.hundred_point,
                    RatingResult.period == month,
                    RatingResult.county_id == rows[0].result.county_id,
                )
            ).all()
        )
        if rows
        else 0
    )
    return SecretaryTable(
        rows,
        grade,
        share,
        int(county_total * share + 1e-9),
        sum(1 for r in rows if r.result.grade == grade),
        sum(1 for r in rows if "quota_capped" in r.result.flags),
    )


def ranking_table(session: Session, scope: Scope, month: str) -> list[ResultRow]:
    rows = _result_rows(session, scope, SchemeKind.ranking, str(Month.parse(month)))
    return sorted(rows, key=lambda r: (r.result.rank or 10**6, r.village_name))


def latest_period(session: Session, scope: Scope, kind: SchemeKind) -> str | None:
    """The most recent compiled period of a kind the caller can see (half years close in June and December)."""
    stmt = select(func.max(RatingResult.period)).where(RatingResult.kind == kind)
    return session.scalar(filter_villages(stmt, scope, RatingResult.village_id))


def other_results(session: Session, scope: Scope, kind: SchemeKind, period: str) -> list[ResultRow]:
    rows = _result_rows(session, scope, kind, period)
    return sorted(rows, key=lambda r: (-r.result.score, r.village_name, r.result.subject_id))


@dataclass
class AlertRow:
    alert: RatingAlert
    label: str
    village_name: str
    cadre_name: str


def alert_list(session: Session, scope: Scope, month: str | None = None) -> list[AlertRow]:
    stmt = (
        select(RatingAlert, Village.name, Cadre)
        .join(Village, Village.id == RatingAlert.village_id)
        .outerjoin(Cadre, Cadre.id == RatingAlert.cadre_id)
    )
    if month:
        stmt = stmt.where(RatingAlert.period == month)
    stmt = filter_villages(stmt, scope, RatingAlert.village_id).order_by(RatingAlert.period.desc(), RatingAlert.id)
    return [AlertRow(a, ALERT_LABELS[a.kind], v, mask_name(c.name) if c else "") for a, v, c in session.execute(stmt)]


@dataclass
class RectificationRow:
    item: Rectification
    origin_label: str
    village_name: str
    owner_name: str
    overdue: bool


def rectification_page(
    session: Session,
    scope: Scope,
    *,
    open_only: bool = False,
    month: str | None = None,
    today: date,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> Page[RectificationRow]:
    """整改 items by deadline: a county accumulates hundreds a year, so the list pages like the others."""
    stmt = (
        select(Rectification, Village.name, Cadre)
        .join(Village, Village.id == Rectification.village_id)
        .outerjoin(Cadre, Cadre.id == Rectification.owner_cadre_id)
    )
    if open_only:
        stmt = stmt.where(Rectification.closed.is_(False))
    if month:
        stmt = stmt.where(Rectification.period == month)
    stmt = filter_villages(stmt, scope, Rectification.village_id).order_by(Rectification.deadline, Rectification.id)
    total, page = page_bounds(session, stmt, page, per_page)
    rows = session.execute(stmt.offset((page - 1) * per_page).limit(per_page))
    items = [
        RectificationRow(
            r, ORIGIN_LABELS[r.origin], v, mask_name(c.name) if c else "", not r.closed and r.deadline < today
        )
        for r, v, c in rows
    ]
    return Page(items, page, per_page, total)


def run_list(session: Session, scope: Scope, limit: int = 50) -> list[CompileRun]:
    """Compile runs of the counties the caller's villages belong to."""
    counties = select(Town.county_id).join(Village, Village.town_id == Town.id)
    counties = filter_villages(counties, scope, Village.id)
    return list(
        session.scalars(
            select(CompileRun).where(CompileRun.county_id.in_(counties)).order_by(CompileRun.id.desc()).limit(limit)
        )
    )


def input_status() -> list[tuple[str, str, bool]]:
    """Which automatic inputs are wired: the UI says plainly which ones fall back to manual entry."""
    return [(key, label, available(key)) for key, label in INPUT_LABELS.items()]


KIND_LABELS = {
    SchemeKind.ten_star: "星级评定（村）",
    SchemeKind.hundred_point: "第一书记百分制",
    SchemeKind.thousand_point: "村两委千分制（半年）",
    SchemeKind.party_member: "党员积分",
    SchemeKind.ranking: "月度排名",
}


@dataclass
class SchemeRow:
    scheme: RatingScheme
    kind_label: str
    in_force: bool


def scheme_list(session: Session, scope: Scope, on: date) -> list[SchemeRow]:
    """Every version of the schemes of the caller's counties, marking the one in force on `on` per kind."""
    counties = filter_villages(select(Town.county_id).join(Village, Village.town_id == Town.id), scope, Village.id)
    schemes = session.scalars(
        select(RatingScheme)
        .where(RatingScheme.county_id.in_(counties))
        .order_by(RatingScheme.county_id, RatingScheme.kind, RatingScheme.effective_from, RatingScheme.version)
    ).all()
    current = {
        s.id for county_id in {s.county_id for s in schemes} for s in schemes_in_force(session, county_id, on).values()
    }
    return [SchemeRow(s, KIND_LABELS[s.kind], s.id in current) for s in schemes]
