"""Ratings read models for the admin UI and the API: a village's stars, boards, rankings, alerts, 整改 items,
runs and schemes.

Every read goes through the caller's Scope (backend.auth.scope): a town admin sees only their villages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.auth.scope import Scope, filter_villages, load_village
from backend.crypto import mask_name
from backend.months import Month
from backend.org.models import Cadre, Town, Village
from backend.pagination import PER_PAGE, Page, page_bounds
from backend.ratings.compile import previous_months
from backend.ratings.models import (
    ALERT_LABELS,
    ORIGIN_LABELS,
    CompileRun,
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
from backend.ratings.schemes import schemes_in_force, star_definition

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
        definition = {i["code"]: i for i in star_definition(session, village, month)["indicators"]}
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
