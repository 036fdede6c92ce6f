"""Read models for the admin pages and exports: surveys, their figures, alerts. Aggregates only.

Nothing here returns a response or an answer row: lists carry counts per survey, results carry
counts per option and sorted free texts. Cadre names are masked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.auth.models import Role, User
from backend.auth.scope import Scope, active_posting_filter, filter_villages
from backend.crypto import mask_name
from backend.org.models import POST_LABELS, Cadre, Posting, Town, Village
from backend.pagination import PER_PAGE, Page, page_bounds
from backend.surveys.models import (
    ALERT_STATUS_LABELS,
    SAMPLE_FLAG_LABELS,
    AlertStatus,
    Channel,
    Survey,
    SurveyAlert,
    SurveyInvitation,
    SurveyResponse,
    SurveyResult,
    TargetKind,
)
from backend.surveys.results import Satisfaction, alerts_query, satisfaction_of, threshold_for, visible_result
from backend.surveys.service import (
    STATUS_LABELS,
    Progress,
    load_survey,
    period_label,
    progress,
    status_of,
    surveys_query,
)
from backend.timeutil import now_utc, today_local


def target_label(session: Session, survey: Survey) -> str:
    """第一书记 张*明 / 驻村工作队: the post the cadre holds in the survey's village, name masked."""
    if survey.target_kind == TargetKind.village_team or survey.target_cadre is None:
        return "驻村工作队"
    post = session.scalar(
        select(Posting.post)
        .where(Posting.cadre_id == survey.target_cadre_id, Posting.village_id == survey.village_id)
        .order_by(Posting.start_on)
        .limit(1)
    )
    return f"{POST_LABELS[post] if post else '驻村干部'} {mask_name(survey.target_cadre.name)}"


@dataclass(frozen=True)
class SurveyRow:
    id: int
    title: str
    village_name: str
    target: str
    period: str
    opens_at: datetime
    closes_at: datetime
    status: str
    status_label: str
    progress: Progress
    satisfaction: Satisfaction | None
    has_alert: bool


def _progress_by_survey(session: Session, ids: list[int]) -> dict[int, Progress]:
    invited = dict(
        session.execute(
            select(SurveyInvitation.survey_id, func.count())
            .where(SurveyInvitation.survey_id.in_(ids))
            .group_by(SurveyInvitation.survey_id)
        ).all()
    )
    counts: dict[tuple[int, Channel], int] = {
        (sid, channel): n
        for sid, channel, n in session.execute(
            select(SurveyResponse.survey_id, SurveyResponse.channel, func.count())
            .where(SurveyResponse.survey_id.in_(ids))
            .group_by(SurveyResponse.survey_id, SurveyResponse.channel)
        )
    }
    return {
        sid: Progress(invited.get(sid, 0), counts.get((sid, Channel.phone), 0), counts.get((sid, Channel.paper), 0))
        for sid in ids
    }


def survey_page(
    session: Session, scope: Scope, *, status: str | None = None, page: int = 1, per_page: int = PER_PAGE
) -> Page[SurveyRow]:
    now = now_utc()
    stmt = surveys_query(scope)
    if status == "closed":
        stmt = stmt.where(Survey.frozen_at.is_not(None))
    elif status == "scheduled":
        stmt = stmt.where(Survey.frozen_at.is_(None), Survey.opens_at > now)
    elif status == "open":
        stmt = stmt.where(Survey.frozen_at.is_(None), Survey.opens_at <= now, Survey.closes_at > now)
    elif status == "closing":
        stmt = stmt.where(Survey.frozen_at.is_(None), Survey.closes_at <= now)
    total, page = page_bounds(session, stmt, page, per_page)
    surveys = list(
        session.scalars(
            stmt.order_by(Survey.closes_at.desc(), Survey.id.desc()).offset((page - 1) * per_page).limit(per_page)
        )
    )
    ids = [s.id for s in surveys]
    progress_of = _progress_by_survey(session, ids)
    results = {r.survey_id: r for r in session.scalars(select(SurveyResult).where(SurveyResult.survey_id.in_(ids)))}
    alerted = set(session.scalars(select(SurveyAlert.survey_id).where(SurveyAlert.survey_id.in_(ids))))
    rows = []
    for s in surveys:
        state = status_of(s, now)
        result = results.get(s.id)
        rows.append(
            SurveyRow(
                id=s.id,
                title=s.title,
                village_name=s.village.name,
                target=target_label(session, s),
                period=period_label(s.period),
                opens_at=s.opens_at,
                closes_at=s.closes_at,
                status=state,
                status_label=STATUS_LABELS[state],
                progress=progress_of[s.id],
                satisfaction=satisfaction_of(result) if result is not None and result.is_final else None,
                has_alert=s.id in alerted,
            )
        )
    return Page(rows, page, per_page, total)


@dataclass(frozen=True)
class SurveyDetail:
    survey: Survey
    target: str
    status: str
    status_label: str
    sample_label: str
    progress: Progress
    result: SurveyResult | None
    satisfaction: Satisfaction | None
    alert: SurveyAlert | None
    # The line this survey is judged by: the alert's when raised, else the county's current one.
    threshold_pct: int


def survey_detail(session: Session, scope: Scope, survey_id: int) -> SurveyDetail:
    survey, result = visible_result(session, scope, survey_id)
    state = status_of(survey)
    sample = SAMPLE_FLAG_LABELS[survey.sample_flag]
    if survey.sample_size is not None:
        sample += f"中随机抽取 {survey.sample_size} 户（随机种子 {survey.seed}）"
    else:
        sample += "全部参加"
    alert = session.scalar(select(SurveyAlert).where(SurveyAlert.survey_id == survey.id))
    return SurveyDetail(
        survey=survey,
        target=target_label(session, survey),
        status=state,
        status_label=STATUS_LABELS[state],
        sample_label=sample,
        progress=progress(session, survey.id),
        result=result,
        satisfaction=satisfaction_of(result) if result is not None else None,
        alert=alert,
        threshold_pct=alert.threshold_pct if alert else threshold_for(session, survey.county_id),
    )


def live_progress(session: Session, scope: Scope, survey_id: int) -> dict[str, object]:
    """What the live page polls: counts only."""
    survey = load_survey(session, scope, survey_id)
    counts = progress(session, survey.id)
    state = status_of(survey)
    return {
        "invited": counts.invited,
        "phone": counts.phone,
        "paper": counts.paper,
        "rate": f"{counts.response_rate:.1%}",
        "status": STATUS_LABELS[state],
    }


@dataclass(frozen=True)
class CreateChoices:
    villages: list[tuple[int, str]]
    cadres: list[tuple[int, str]]  # (cadre id, "村 · 第一书记 · 张*明")


def create_choices(session: Session, scope: Scope) -> CreateChoices:
    """Villages in scope, and cadres on post there (for a survey of one cadre)."""
    villages = session.execute(
        filter_villages(select(Village.id, Village.name, Town.name).join(Town), scope, Village.id).order_by(
            Village.code
        )
    ).all()
    postings = session.execute(
        filter_villages(
            select(Posting.cadre_id, Posting.post, Village.name, Cadre)
            .join(Village, Village.id == Posting.village_id)
            .join(Cadre, Cadre.id == Posting.cadre_id)
            .where(active_posting_filter(today_local())),
            scope,
            Posting.village_id,
        ).order_by(Village.code, Posting.post, Posting.cadre_id)
    ).all()
    return CreateChoices(
        villages=[(vid, f"{town} · {name}") for vid, name, town in villages],
        cadres=[
            (cid, f"{vname} · {POST_LABELS[post]} · {mask_name(cadre.name)}") for cid, post, vname, cadre in postings
        ],
    )


@dataclass(frozen=True)
class AlertRow:
    id: int
    survey_id: int
    survey_title: str
    village_name: str
    target: str
    period: str
    satisfaction: Satisfaction
    threshold_pct: int
    status: AlertStatus
    status_label: str
    note: str
    created_at: datetime


def alert_rows(session: Session, scope: Scope, status: AlertStatus | None = None) -> list[AlertRow]:
    alerts = session.scalars(alerts_query(scope, status).order_by(SurveyAlert.created_at.desc(), SurveyAlert.id.desc()))
    return [
        AlertRow(
            id=a.id,
            survey_id=a.survey_id,
            survey_title=a.survey.title,
            village_name=a.survey.village.name,
            target=target_label(session, a.survey),
            period=period_label(a.survey.period),
            satisfaction=Satisfaction(a.satisfied_answers, a.scored_answers),
            threshold_pct=a.threshold_pct,
            status=a.status,
            status_label=ALERT_STATUS_LABELS[a.status],
            note=a.note,
            created_at=a.created_at,
        )
        for a in alerts
    ]


def can_manage(user: User) -> bool:
    return user.role in (Role.town_admin, Role.county_admin)
