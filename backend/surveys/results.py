"""Results: compiled in SQL from the anonymous answers, frozen at close, and the alert for a low score.

The satisfaction rule (one number per survey, compared with the county threshold):

    satisfaction = satisfied scored answers / scored answers

where a *scored answer* is any answer, phone or paper, to a question marked `scored` (only a
rating question, or a single-choice question whose options are exactly 满意/基本满意/不满意), and it
is *satisfied* when it is 满意 or 基本满意, or a rating of 4 or 5. Skipped optional questions
count in neither. With no scored answer there is no rate and no alert. An alert is raised when
satisfied × 100 < threshold × scored (integers, so 69.99% is below 70% and 70% exactly is not).
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from backend.auth.models import Role, User
from backend.auth.scope import Scope, filter_villages
from backend.db import any_of, read_rows
from backend.errors import Forbidden, InvalidRequest, NotFound, NotInScope
from backend.jobs.outbox import enqueue
from backend.months import Month
from backend.surveys.models import (
    DEFAULT_THRESHOLD_PCT,
    SATISFIED_CHOICES,
    SATISFIED_RATING,
    AlertStatus,
    QuestionKind,
    Survey,
    SurveyAlert,
    SurveyAnswer,
    SurveyResponse,
    SurveyResult,
    SurveySetting,
    SurveyTemplate,
    TargetKind,
)
from backend.surveys.service import close_now, load_survey, progress, quarter_of
from backend.timeutil import now_utc

# Provisional figures of an open survey are shown only from this many responses on, so that
# comparing two compiles cannot single out one household's answers too easily.
MIN_PROVISIONAL_RESPONSES = 5


def is_satisfied(kind: QuestionKind, number: int | None, choice: str | None) -> bool:
    if kind == QuestionKind.rating:
        return number is not None and number >= SATISFIED_RATING
    return choice in SATISFIED_CHOICES


@dataclass(frozen=True)
class Satisfaction:
    satisfied: int
    scored: int

    @property
    def rate(self) -> float | None:
        return self.satisfied / self.scored if self.scored else None

    def below(self, threshold_pct: int) -> bool:
        return self.scored > 0 and self.satisfied * 100 < threshold_pct * self.scored


def threshold_for(session: Session, county_id: int) -> int:
    setting = session.get(SurveySetting, county_id)
    return setting.threshold_pct if setting is not None else DEFAULT_THRESHOLD_PCT


def set_threshold(session: Session, user: User, threshold_pct: int) -> SurveySetting:
    """The county organisation department sets its own line (Guangyuan uses 70%)."""
    if user.role != Role.county_admin or user.county_id is None:
        raise Forbidden("只有县管理员可以设置满意度预警线")
    if not 1 <= threshold_pct <= 100:
        raise InvalidRequest(errors={"threshold_pct": ["预警线为1–100之间的整数（%）"]})
    setting = session.get(SurveySetting, user.county_id)
    if setting is None:
        setting = SurveySetting(county_id=user.county_id)
        session.add(setting)
    setting.threshold_pct = threshold_pct
    setting.updated_at = now_utc()
    setting.updated_by_id = user.id
    session.flush()
    return setting


def _figures(session: Session, survey: Survey) -> list[dict[str, Any]]:
    """Per question: answer count, the count of each option or rating, satisfied answers, free texts.

    Grouped in SQL; texts are sorted, so their order says nothing about when or by whom.
    """
    answers_of_survey = select(SurveyResponse.id).where(SurveyResponse.survey_id == survey.id)
    counts: dict[int, dict[Any, int]] = defaultdict(dict)
    for question_id, number, choice, n in session.execute(
        select(SurveyAnswer.question_id, SurveyAnswer.number, SurveyAnswer.choice, func.count())
        .where(SurveyAnswer.response_id.in_(answers_of_survey), SurveyAnswer.text.is_(None))
        .group_by(SurveyAnswer.question_id, SurveyAnswer.number, SurveyAnswer.choice)
    ):
        counts[question_id][number if number is not None else choice] = n
    answered = dict(
        session.execute(
            select(SurveyAnswer.question_id, func.count(func.distinct(SurveyAnswer.response_id)))
            .where(SurveyAnswer.response_id.in_(answers_of_survey))
            .group_by(SurveyAnswer.question_id)
        ).all()
    )
    texts: dict[int, list[str]] = defaultdict(list)
    for question_id, text in session.execute(
        select(SurveyAnswer.question_id, SurveyAnswer.text)
        .where(SurveyAnswer.response_id.in_(answers_of_survey), SurveyAnswer.text.is_not(None))
        .order_by(SurveyAnswer.question_id, SurveyAnswer.text)
    ):
        texts[question_id].append(text)
    figures = []
    for question in survey.template.questions:
        given = counts.get(question.id, {})
        if question.kind == QuestionKind.rating:
            options: list[Any] = [1, 2, 3, 4, 5]
        else:
            options = list(question.options)
        figures.append(
            {
                "id": question.id,
                "position": question.position,
                "kind": question.kind.value,
                "prompt": question.prompt,
                "scored": question.scored,
                "answered": answered.get(question.id, 0),
                "counts": [[str(option), given.get(option, 0)] for option in options],
                "satisfied": sum(n for o, n in given.items() if is_satisfied(question.kind, *_split(o)))
                if question.scored
                else None,
                "texts": texts.get(question.id, []),
            }
        )
    return figures


def _split(option: Any) -> tuple[int | None, str | None]:
    return (option, None) if isinstance(option, int) else (None, option)


def satisfaction_of(result: SurveyResult) -> Satisfaction:
    return Satisfaction(result.satisfied_answers, result.scored_answers)


def compile_results(session: Session, survey: Survey, *, final: bool = False) -> SurveyResult:
    """Upsert the figures. A frozen survey's result is final: it is returned unchanged."""
    result = session.get(SurveyResult, survey.id)
    if result is not None and result.is_final:
        return result
    figures = _figures(session, survey)
    scored = [q for q in figures if q["scored"]]
    counts = progress(session, survey.id)
    if result is None:
        result = SurveyResult(survey_id=survey.id)
        session.add(result)
    result.invited = counts.invited
    result.phone_responses = counts.phone
    result.paper_responses = counts.paper
    result.scored_answers = sum(q["answered"] for q in scored)
    result.satisfied_answers = sum(q["satisfied"] for q in scored)
    result.questions = figures
    result.compiled_at = now_utc()
    result.is_final = final
    session.flush()
    return result


def freeze_responses(session: Session, survey_id: int) -> None:
    """Give every response of the survey a fresh random id, in random order, inside the closing transaction.

    The answers were written in the same transaction as their household's receipt, so until now
    PostgreSQL row versions (xmin) and heap order could line them up. After this, every answer row
    is a version written by the closing transaction; the old versions go with VACUUM.
    """
    ids = list(session.scalars(select(SurveyResponse.id).where(SurveyResponse.survey_id == survey_id)))
    secrets.SystemRandom().shuffle(ids)
    if ids:
        # One UPDATE per response, in the shuffled order, sent as one executemany (one statement over a joined
        # list could write the new versions in the old heap order).
        table = SurveyResponse.__table__
        session.connection().execute(
            update(table).where(table.c.id == bindparam("old_id")).values(id=bindparam("new_id")),
            [{"old_id": old, "new_id": secrets.token_hex(16)} for old in ids],
        )
    session.expire_all()


def close_survey(session: Session, survey_id: int, now: datetime | None = None) -> SurveyResult | None:
    """The closing job: once `closes_at` has passed, compile the final figures, freeze, raise the alert.

    Idempotent: a frozen survey is left as it is, so a second run adds no alert. Returns None while
    the survey is still open.
    """
    now = now or now_utc()
    survey = session.scalar(
        select(Survey)
        .where(Survey.id == survey_id)
        .with_for_update()
        .options(selectinload(Survey.template).selectinload(SurveyTemplate.questions))
        .execution_options(populate_existing=True)
    )
    if survey is None:
        raise NotFound("测评不存在")
    if survey.frozen_at is not None:
        return session.get(SurveyResult, survey.id)
    if now < survey.closes_at:
        return None
    freeze_responses(session, survey.id)
    survey = session.get_one(Survey, survey_id)
    result = compile_results(session, survey, final=True)
    survey.frozen_at = now
    threshold = threshold_for(session, survey.county_id)
    figures = satisfaction_of(result)
    if (
        figures.below(threshold)
        and session.scalar(select(SurveyAlert.id).where(SurveyAlert.survey_id == survey.id)) is None
    ):
        session.add(
            SurveyAlert(
                survey_id=survey.id,
                village_id=survey.village_id,
                scored_answers=figures.scored,
                satisfied_answers=figures.satisfied,
                threshold_pct=threshold,
            )
        )
    session.flush()
    return result


def compile_on_demand(session: Session, survey_id: int, now: datetime | None = None) -> SurveyResult:
    """ "立即统计": a survey past its closing time is closed for good; an open one gets provisional figures."""
    closed = close_survey(session, survey_id, now)
    if closed is not None:
        return closed
    survey = session.get_one(Survey, survey_id)
    return compile_results(session, survey)


def request_compile(session: Session, scope: Scope, survey_id: int) -> None:
    """Queue a compile (the job closes the survey for good if its time is up)."""
    survey = load_survey(session, scope, survey_id)
    enqueue(session, "surveys.compile", survey_id=survey.id)


def close_early(session: Session, scope: Scope, user: User, survey_id: int) -> None:
    """End now (e.g. right after the evaluation meeting) and queue the closing compile."""
    close_now(session, scope, user, survey_id)
    enqueue(session, "surveys.compile", survey_id=survey_id)


def due_surveys(session: Session, now: datetime | None = None) -> list[int]:
    return list(
        session.scalars(
            select(Survey.id)
            .where(Survey.frozen_at.is_(None), Survey.closes_at <= (now or now_utc()))
            .order_by(Survey.id)
        )
    )


# --- reading results and alerts ------------------------------------------------------------------------


def visible_result(session: Session, scope: Scope, survey_id: int) -> tuple[Survey, SurveyResult | None]:
    """The result an admin may see: final ones always, provisional ones only with enough responses."""
    survey = load_survey(session, scope, survey_id)
    result = session.get(SurveyResult, survey.id)
    too_few = result is not None and result.phone_responses + result.paper_responses < MIN_PROVISIONAL_RESPONSES
    if result is not None and not result.is_final and too_few:
        return survey, None
    return survey, result


def alerts_query(scope: Scope, status: AlertStatus | None = None) -> Select[tuple[SurveyAlert]]:
    stmt = filter_villages(select(SurveyAlert), scope, SurveyAlert.village_id)
    if status is not None:
        stmt = stmt.where(SurveyAlert.status == status)
    return stmt.options(selectinload(SurveyAlert.survey).selectinload(Survey.village))


def update_alert(
    session: Session, scope: Scope, user: User, alert_id: int, status: AlertStatus, note: str
) -> SurveyAlert:
    """The town records the interview (约谈) and, later, that the problem is fixed (销号)."""
    if user.role not in (Role.town_admin, Role.county_admin):
        raise Forbidden("只有镇、县管理员可以处理满意度预警")
    alert = session.get(SurveyAlert, alert_id)
    if alert is None:
        raise NotFound("预警不存在")
    if not scope.covers_village(alert.village_id):
        raise NotInScope()
    note = note.strip()
    if status != AlertStatus.open and not note:
        raise InvalidRequest(errors={"note": ["请填写约谈或整改情况"]})
    alert.status = status
    alert.note = note[:1000]
    alert.updated_at = now_utc()
    alert.updated_by_id = user.id
    session.flush()
    return alert


# --- frozen satisfaction for the monthly ratings ----------------------------------------------------------


def period_labels(first: date, last: date) -> list[str]:
    """Survey periods that count for [first, last]: its months ("2026-05") and the quarters they fall in
    ("2026-Q2"): a quarter's evaluation is the masses' verdict on each of its months."""
    labels: dict[str, None] = {}
    for month in Month.of(first).through(Month.of(last)):
        labels[str(month)] = None
        labels[quarter_of(month.first)] = None
    return list(labels)


@dataclass(frozen=True)
class FrozenSatisfaction:
    survey_ids: list[int]
    figures: Satisfaction


# Built once: the compile runs it for every town.
_FROZEN_RESULTS = (
    select(
        Survey.id,
        Survey.village_id,
        Survey.target_kind,
        Survey.target_cadre_id,
        SurveyResult.satisfied_answers,
        SurveyResult.scored_answers,
    )
    .join(SurveyResult, SurveyResult.survey_id == Survey.id)
    .where(
        any_of(Survey.period, "labels"),
        Survey.frozen_at.is_not(None),
        SurveyResult.is_final.is_(True),
        or_(
            and_(
                Survey.target_kind == TargetKind.village_team,
                any_of(Survey.village_id, "villages"),
            ),
            and_(Survey.target_kind == TargetKind.cadre, any_of(Survey.target_cadre_id, "cadres")),
        ),
    )
    .order_by(Survey.id)
)


def frozen_satisfaction(
    session: Session, labels: list[str], *, village_ids: Collection[int] = (), cadre_ids: Collection[int] = ()
) -> tuple[dict[int, FrozenSatisfaction], dict[int, FrozenSatisfaction]]:
    """Final (frozen) results of the surveys of these periods, summed per village work team and per cadre.

    One query. Open surveys' provisional figures never count: they may still change.
    """
    params = {"labels": labels, "villages": list(village_ids), "cadres": list(cadre_ids)}
    found: tuple[dict[int, list[Any]], dict[int, list[Any]]] = (defaultdict(list), defaultdict(list))
    for row in read_rows(session, _FROZEN_RESULTS, params):
        if row.target_kind == TargetKind.village_team:
            found[0][row.village_id].append(row)
        else:
            found[1][row.target_cadre_id].append(row)
    teams, cadres = (
        {
            key: FrozenSatisfaction(
                [r.id for r in rows],
                Satisfaction(sum(r.satisfied_answers for r in rows), sum(r.scored_answers for r in rows)),
            )
            for key, rows in group.items()
        }
        for group in found
    )
    return teams, cadres
