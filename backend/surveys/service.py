"""Surveys: scheduling, the household sample, and anonymous one-per-household responses.

One response per household is enforced by the primary key of `survey_receipt` (a keyed hash of
survey + household), inserted in the same transaction as the answers. The answers carry a random
id and nothing about who or when (see backend.surveys.models), and the phone gets no response id
back, so nothing it stores or replays can point at its answers.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, func, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from backend.auth.models import ADMIN_ROLES, Role, User
from backend.auth.scope import Scope, active_posting_filter, filter_villages, load_village
from backend.crypto import lookup_hash
from backend.errors import (
    Forbidden,
    InvalidAnswer,
    InvalidRequest,
    NotFound,
    NotInScope,
    SurveyAlreadyAnswered,
    SurveyClosed,
    SurveyNotInvited,
    SurveyNotOpen,
)
from backend.inbox.service import notify_many
from backend.org.models import Household, Posting
from backend.surveys.models import (
    Channel,
    QuestionKind,
    SampleFlag,
    Sampling,
    Survey,
    SurveyAnswer,
    SurveyInvitation,
    SurveyQuestion,
    SurveyReceipt,
    SurveyResponse,
    SurveyTemplate,
    TargetKind,
)
from backend.surveys.paper import parse_sheets
from backend.surveys.templates import load_template
from backend.timeutil import now_utc, to_local

# Baoji visits 20 poor households at random per first secretary.
DEFAULT_SAMPLE_SIZE = 20
MAX_TEXT_ANSWER = 500
MAX_PAPER_SHEETS = 500

FLAG_FILTERS = {
    SampleFlag.any: None,
    SampleFlag.poor: Household.is_poor.is_(True),
    SampleFlag.monitored: Household.is_monitored.is_(True),
    SampleFlag.assisted: Household.is_poor.is_(True) | Household.is_monitored.is_(True),
}


def quarter_of(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def period_label(period: str) -> str:
    """ "2026-Q3" → "2026年第3季度"; other periods are shown as entered."""
    year, _, quarter = period.partition("-Q")
    return f"{year}年第{quarter}季度" if quarter.isdigit() else period


def status_of(survey: Survey, now: datetime | None = None) -> str:
    """scheduled (未开始) → open (进行中) → closing (已截止，待统计) → closed (已冻结)."""
    now = now or now_utc()
    if survey.frozen_at is not None:
        return "closed"
    if now < survey.opens_at:
        return "scheduled"
    return "open" if now < survey.closes_at else "closing"


STATUS_LABELS = {"scheduled": "未开始", "open": "进行中", "closing": "已截止，待统计", "closed": "已结束"}


# --- the sample ------------------------------------------------------------------------------------


def eligible_households(session: Session, village_id: int, flag: SampleFlag) -> list[int]:
    """The population the sample is drawn from, ordered by id so a seed always means the same draw."""
    stmt = select(Household.id).where(Household.village_id == village_id).order_by(Household.id)
    condition = FLAG_FILTERS[flag]
    if condition is not None:
        stmt = stmt.where(condition)
    return list(session.scalars(stmt))


def draw_sample(population: list[int], sampling: Sampling, size: int | None, seed: int) -> list[int]:
    """All of the population, or `size` of it drawn with `random.Random(seed)`: same inputs, same households."""
    if sampling == Sampling.all or size is None or size >= len(population):
        return sorted(population)
    return sorted(random.Random(seed).sample(sorted(population), size))


def redraw(session: Session, survey: Survey) -> list[int]:
    """Audit: draw again from today's households with the recorded seed (equal while flags are unchanged)."""
    population = eligible_households(session, survey.village_id, survey.sample_flag)
    return draw_sample(population, survey.sampling, survey.sample_size, survey.seed)


# --- scheduling --------------------------------------------------------------------------------------


def _require_manager(user: User) -> None:
    if user.role not in (Role.town_admin, Role.county_admin):
        raise Forbidden("只有镇、县管理员可以安排测评")


def _target_cadre(session: Session, template: SurveyTemplate, village_id: int, cadre_id: int | None, on: date) -> None:
    if template.target_kind == TargetKind.village_team:
        if cadre_id is not None:
            raise InvalidRequest(errors={"target_cadre_id": ["工作队测评不指定个人"]})
        return
    if cadre_id is None:
        raise InvalidRequest(errors={"target_cadre_id": ["请选择被测评的驻村干部"]})
    posted = session.scalar(
        select(Posting.id).where(
            Posting.cadre_id == cadre_id, Posting.village_id == village_id, active_posting_filter(on)
        )
    )
    if posted is None:
        raise InvalidRequest(errors={"target_cadre_id": ["该干部不在本村任职"]})


def create_survey(
    session: Session,
    scope: Scope,
    user: User,
    *,
    template_id: int,
    village_id: int,
    period: str,
    opens_at: datetime,
    closes_at: datetime,
    target_cadre_id: int | None = None,
    sampling: Sampling = Sampling.random,
    sample_size: int | None = DEFAULT_SAMPLE_SIZE,
    sample_flag: SampleFlag = SampleFlag.any,
    seed: int | None = None,
    now: datetime | None = None,
) -> Survey:
    """Schedule a survey and draw its sample now; invited households are told in their inbox."""
    _require_manager(user)
    now = now or now_utc()
    village = load_village(session, scope, village_id)
    template = load_template(session, user, template_id)
    if template.county_id != village.town.county_id:
        raise InvalidRequest(errors={"template_id": ["问卷模板不属于本县"]})
    if closes_at <= opens_at:
        raise InvalidRequest(errors={"closes_at": ["结束时间必须晚于开始时间"]})
    if closes_at <= now:
        raise InvalidRequest(errors={"closes_at": ["结束时间已过"]})
    if sampling == Sampling.random and (sample_size is None or sample_size < 1):
        raise InvalidRequest(errors={"sample_size": ["随机抽样需要指定抽取户数"]})
    period = period.strip()
    if not 1 <= len(period) <= 20:
        raise InvalidRequest(errors={"period": ["请填写测评期间"]})
    _target_cadre(session, template, village.id, target_cadre_id, to_local(opens_at).date())
    seed = secrets.randbelow(2**31) if seed is None else seed
    if not 0 <= seed < 2**62:
        raise InvalidRequest(errors={"seed": ["随机种子为非负整数（不超过18位）"]})
    population = eligible_households(session, village.id, sample_flag)
    sample = draw_sample(population, sampling, sample_size, seed)
    if not sample:
        raise InvalidRequest(errors={"sample_flag": ["本村没有符合条件的农户"]})
    title = f"{village.name}{template.title}（{period_label(period)}）"
    survey = Survey(
        county_id=village.town.county_id,
        village_id=village.id,
        template_id=template.id,
        target_kind=template.target_kind,
        target_cadre_id=target_cadre_id,
        title=title[:120],
        period=period,
        opens_at=opens_at,
        closes_at=closes_at,
        sampling=sampling,
        sample_size=sample_size if sampling == Sampling.random else None,
        sample_flag=sample_flag,
        seed=seed,
        eligible_count=len(population),
        invited_count=len(sample),
        created_by_id=user.id,
    )
    session.add(survey)
    session.flush()
    session.add_all([SurveyInvitation(survey_id=survey.id, household_id=h) for h in sample])
    notify_many(
        session,
        sample,
        kind="survey_invited",
        title="请参加群众满意度测评",
        body=f"{survey.title}，{to_local(opens_at):%m月%d日}至{to_local(closes_at):%m月%d日}开放，匿名填写。",
        ref_type="survey",
        ref_id=survey.id,
    )
    return survey


def close_now(session: Session, scope: Scope, user: User, survey_id: int, now: datetime | None = None) -> Survey:
    """End a survey early (e.g. after the evaluation meeting); the closing job then freezes it."""
    _require_manager(user)
    survey = load_survey(session, scope, survey_id)
    now = now or now_utc()
    if survey.frozen_at is not None or survey.closes_at <= now:
        raise SurveyClosed()
    if now <= survey.opens_at:
        raise SurveyNotOpen("测评尚未开始，不能提前结束")
    survey.closes_at = now
    session.flush()
    return survey


# --- reading -----------------------------------------------------------------------------------------


def load_survey(session: Session, scope: Scope, survey_id: int, *, lock: bool = False) -> Survey:
    stmt = (
        select(Survey)
        .where(Survey.id == survey_id)
        .options(selectinload(Survey.template).selectinload(SurveyTemplate.questions))
    )
    if lock:
        # Share lock: answers may go in side by side, but never while the closing job freezes.
        stmt = stmt.with_for_update(read=True).execution_options(populate_existing=True)
    survey = session.scalar(stmt)
    if survey is None:
        raise NotFound("测评不存在")
    if not scope.covers_village(survey.village_id):
        raise NotInScope()
    return survey


def surveys_query(scope: Scope) -> Select[tuple[Survey]]:
    return filter_villages(select(Survey), scope, Survey.village_id).options(
        selectinload(Survey.village), selectinload(Survey.target_cadre)
    )


@dataclass(frozen=True)
class Progress:
    invited: int
    phone: int
    paper: int

    @property
    def response_rate(self) -> float:
        """Share of invited households that answered on the phone (paper sheets are counted apart)."""
        return self.phone / self.invited if self.invited else 0.0


def progress(session: Session, survey_id: int) -> Progress:
    invited = session.scalar(select(func.count()).where(SurveyInvitation.survey_id == survey_id)) or 0
    counts = dict(
        session.execute(
            select(SurveyResponse.channel, func.count())
            .where(SurveyResponse.survey_id == survey_id)
            .group_by(SurveyResponse.channel)
        ).all()
    )
    return Progress(invited, counts.get(Channel.phone, 0), counts.get(Channel.paper, 0))


def invited_households(survey_id: int) -> Select[tuple[int]]:
    return (
        select(SurveyInvitation.household_id)
        .where(SurveyInvitation.survey_id == survey_id)
        .order_by(SurveyInvitation.household_id)
    )


def receipt_hash(survey_id: int, household_id: int) -> str:
    """Keyed (HMAC) so a copy of the database alone cannot tell which household a receipt is."""
    return lookup_hash(f"survey:{survey_id}:household:{household_id}")


def pending_for_household(session: Session, scope: Scope, now: datetime | None = None) -> list[Survey]:
    """Open surveys this household is invited to and has not answered yet."""
    if scope.household_id is None:
        raise Forbidden("请先绑定户")
    now = now or now_utc()
    surveys = list(
        session.scalars(
            select(Survey)
            .join(SurveyInvitation, SurveyInvitation.survey_id == Survey.id)
            .where(
                SurveyInvitation.household_id == scope.household_id,
                Survey.frozen_at.is_(None),
                Survey.opens_at <= now,
                Survey.closes_at > now,
            )
            .options(selectinload(Survey.template).selectinload(SurveyTemplate.questions))
            .order_by(Survey.closes_at, Survey.id)
        )
    )
    if not surveys:
        return []
    keys = [(s.id, receipt_hash(s.id, scope.household_id)) for s in surveys]
    answered = set(
        session.scalars(
            select(SurveyReceipt.survey_id).where(tuple_(SurveyReceipt.survey_id, SurveyReceipt.receipt_hash).in_(keys))
        )
    )
    return [s for s in surveys if s.id not in answered]


# --- answering ---------------------------------------------------------------------------------------


def _value(question: SurveyQuestion, value: Any) -> list[dict[str, Any]]:
    """The answer rows for one question, or InvalidAnswer naming what is wrong."""
    key = str(question.id)
    if question.kind == QuestionKind.rating:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
            raise InvalidAnswer(errors={key: ["评分须为1到5的整数"]})
        return [{"number": value}]
    if question.kind == QuestionKind.single_choice:
        if not isinstance(value, str) or value not in question.options:
            raise InvalidAnswer(errors={key: ["请从选项中选择一项"]})
        return [{"choice": value}]
    if question.kind == QuestionKind.multiple_choice:
        if (
            not isinstance(value, list)
            or not value
            or len(set(value)) != len(value)
            or not all(isinstance(v, str) and v in question.options for v in value)
        ):
            raise InvalidAnswer(errors={key: ["请从选项中选择一项或多项，不能重复"]})
        # Stored in option order, not in the order tapped: nothing about the person's hand survives.
        return [{"choice": option} for option in question.options if option in value]
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT_ANSWER:
        raise InvalidAnswer(errors={key: [f"请填写1–{MAX_TEXT_ANSWER}字"]})
    return [{"text": value.strip()}]


def validate_answers(questions: list[SurveyQuestion], answers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Answer rows (question_id, seq, value) for a whole questionnaire; every problem is reported at once."""
    by_id = {q.id: q for q in questions}
    given: dict[int, Any] = {}
    errors: dict[str, list[str]] = {}
    for answer in answers:
        question_id = answer.get("question_id")
        if question_id not in by_id:
            errors[str(question_id)] = ["不是本问卷的题目"]
        elif question_id in given:
            errors[str(question_id)] = ["同一题只能回答一次"]
        else:
            given[question_id] = answer.get("value")
    rows: list[dict[str, Any]] = []
    for question in questions:
        value = given.get(question.id)
        if value is None or value == "" or value == []:
            if question.required:
                errors[str(question.id)] = ["此题必答"]
            continue
        try:
            rows += [{"question_id": question.id, "seq": seq, **v} for seq, v in enumerate(_value(question, value))]
        except InvalidAnswer as exc:
            errors.update(exc.errors or {})
    if errors:
        raise InvalidAnswer(errors=errors)
    return rows


def _store(session: Session, survey_id: int, channel: Channel, rows: list[dict[str, Any]]) -> None:
    response = SurveyResponse(id=secrets.token_hex(16), survey_id=survey_id, channel=channel)
    response.answers = [SurveyAnswer(**row) for row in rows]
    session.add(response)


def _check_window(survey: Survey, now: datetime) -> None:
    if survey.frozen_at is not None or now >= survey.closes_at:
        raise SurveyClosed()
    if now < survey.opens_at:
        raise SurveyNotOpen()


def submit_response(
    session: Session, scope: Scope, survey_id: int, answers: list[dict[str, Any]], now: datetime | None = None
) -> Survey:
    """The household's one anonymous response. A second one (a retry, another phone of the same
    household, 50 at once) meets the receipt's primary key and gets survey_already_answered."""
    if scope.household_id is None:
        raise Forbidden("请先绑定户")
    survey = load_survey(session, scope, survey_id, lock=True)
    invited = session.get(SurveyInvitation, (survey.id, scope.household_id))
    if invited is None:
        raise SurveyNotInvited()
    _check_window(survey, now or now_utc())
    rows = validate_answers(survey.template.questions, answers)
    record_phone_response(session, survey.id, scope.household_id, rows)
    return survey


def record_phone_response(session: Session, survey_id: int, household_id: int, rows: list[dict[str, Any]]) -> None:
    """Receipt first, in a savepoint: a duplicate fails there and no answer is written."""
    record_phone_responses(session, survey_id, {household_id: rows})


def record_phone_responses(session: Session, survey_id: int, responses: dict[int, list[dict[str, Any]]]) -> None:
    """`record_phone_response` for several households (the demo's villagers) in a few statements, not a few
    each: all receipts in one savepoint (one duplicate fails them all, and no answer is written), then the
    answers in one flush."""
    try:
        with session.begin_nested():
            session.add_all(
                SurveyReceipt(survey_id=survey_id, receipt_hash=receipt_hash(survey_id, household_id))
                for household_id in responses
            )
    except IntegrityError:
        raise SurveyAlreadyAnswered() from None
    for rows in responses.values():
        _store(session, survey_id, Channel.phone, rows)
    session.flush()


def enter_paper_responses(
    session: Session,
    scope: Scope,
    user: User,
    survey_id: int,
    sheets: list[list[dict[str, Any]]],
    now: datetime | None = None,
    shuffle: random.Random | None = None,
) -> int:
    """Paper questionnaires from an evaluation meeting (民主测评会), typed in by an admin in one batch.

    They name no household (the sheets are anonymous), so they count towards satisfaction but not
    towards the phone response rate. All sheets are checked before any is stored, and they are
    stored in shuffled order so the storage order says nothing about the order of the pile.
    """
    if user.role not in ADMIN_ROLES:
        raise Forbidden()
    if not 1 <= len(sheets) <= MAX_PAPER_SHEETS:
        raise InvalidRequest(errors={"sheets": [f"每次录入1–{MAX_PAPER_SHEETS}份问卷"]})
    survey = load_survey(session, scope, survey_id, lock=True)
    now = now or now_utc()
    if survey.frozen_at is not None:
        raise SurveyClosed()
    if now < survey.opens_at:
        raise SurveyNotOpen()
    checked: list[list[dict[str, Any]]] = []
    errors: dict[str, list[str]] = {}
    for number, sheet in enumerate(sheets, start=1):
        try:
            checked.append(validate_answers(survey.template.questions, sheet))
        except InvalidAnswer as exc:
            errors[f"第{number}份"] = [f"{key}：{'；'.join(msgs)}" for key, msgs in (exc.errors or {}).items()]
    if errors:
        raise InvalidAnswer(errors=errors)
    (shuffle or random.SystemRandom()).shuffle(checked)
    for rows in checked:
        _store(session, survey.id, Channel.paper, rows)
    session.flush()
    return len(checked)


def enter_paper_text(session: Session, scope: Scope, user: User, survey_id: int, text: str) -> int:
    """The admin page's batch: sheets typed or pasted one per line (see backend.surveys.paper)."""
    questions = load_survey(session, scope, survey_id).template.questions
    return enter_paper_responses(session, scope, user, survey_id, parse_sheets(questions, text))
