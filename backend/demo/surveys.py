"""Demo surveys for 秦岭县: last quarter's evaluation of every first secretary, run from scheduling to
frozen results (two villages fall below the line and raise alerts), and this quarter's evaluation of
each village work team, open now, so the demo villagers find it pending on their phones.

Everything goes through the same services as the app, with the clock moved to when each step
happens; the answers come from one fixed `random.Random`, so every fresh demo county is the same.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.auth.models import Role, User
from backend.auth.scope import scope_for
from backend.org.models import County, Post, Posting, Town, Village
from backend.surveys import results, service
from backend.surveys.models import SampleFlag, Sampling, SurveyQuestion
from backend.surveys.templates import install_preset
from backend.timeutil import LOCAL_TZ, now_utc, today_local

SEED = 20261001
# Villages (by position in code order) whose first secretary the masses rate poorly last quarter.
UNHAPPY_VILLAGES = (2, 7)
RESPONSE_RATE = 0.85
PAPER_SHEETS = 5
REMARKS = (
    "希望多开展种植养殖技术培训",
    "村里路灯坏了好久，请尽快修好",
    "第一书记经常来家里，很实在",
    "产业项目要让更多农户参与",
    "医保报销手续希望再简化一些",
    "饮水管道冬天容易冻，请想想办法",
    "希望帮助联系外出务工的岗位",
)


@dataclass
class SurveyDemoSummary:
    closed: int = 0
    open: int = 0
    responses: int = 0
    alerts: int = 0


def _at(day: date, hour: int = 0) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=LOCAL_TZ)


def _quarter_start(day: date) -> date:
    return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)


def _answers(rng: random.Random, questions: list[SurveyQuestion], p_satisfied: float) -> list[dict[str, Any]]:
    """One plausible questionnaire: the scored questions lean satisfied with probability `p_satisfied`."""
    answers = []
    for q in questions:
        happy = rng.random() < p_satisfied
        if q.scored and q.options:
            value: Any = rng.choice(("满意", "满意", "基本满意")) if happy else "不满意"
        elif q.scored:
            value = rng.choice((4, 5)) if happy else rng.choice((1, 2, 3))
        elif q.kind == "single_choice":
            value = rng.choice(q.options)
        elif q.kind == "multiple_choice":
            value = rng.sample(q.options, rng.randint(1, 2)) if rng.random() < 0.7 else None
        else:
            value = rng.choice(REMARKS) if rng.random() < 0.25 else None
        answers.append({"question_id": q.id, "value": value})
    return answers


def seed_surveys(session: Session, county: County) -> SurveyDemoSummary:
    """Flushes only (the caller's unit of work commits)."""
    rng = random.Random(SEED)
    summary = SurveyDemoSummary()
    admin = session.scalars(
        select(User).where(User.role == Role.county_admin, User.county_id == county.id).order_by(User.id)
    ).first()
    if admin is None:
        return summary
    scope = scope_for(session, admin)
    first_secretary = install_preset(session, county.id, "first_secretary_quarterly", actor_id=admin.id)
    village_team = install_preset(session, county.id, "village_team_quarterly", actor_id=admin.id)
    villages = list(
        session.scalars(select(Village).join(Town).where(Town.county_id == county.id).order_by(Village.code))
    )
    secretaries = dict(
        session.execute(
            select(Posting.village_id, Posting.cadre_id).where(
                Posting.post == Post.first_secretary, Posting.village_id.in_([v.id for v in villages])
            )
        ).all()
    )
    demo_households = set(
        session.scalars(select(User.household_id).where(User.role == Role.villager, User.household_id.is_not(None)))
    )
    this_quarter = _quarter_start(today_local())
    last_quarter = _quarter_start(this_quarter - timedelta(days=1))
    opens, closes = _at(this_quarter - timedelta(days=20), 8), _at(this_quarter)

    # Last quarter: Baoji's random visit of 20 poor/monitored households per first secretary.
    for index, village in enumerate(villages):
        survey = service.create_survey(
            session,
            scope,
            admin,
            template_id=first_secretary.id,
            village_id=village.id,
            target_cadre_id=secretaries[village.id],
            period=service.quarter_of(last_quarter),
            opens_at=opens,
            closes_at=closes,
            sampling=Sampling.random,
            sample_size=service.DEFAULT_SAMPLE_SIZE,
            sample_flag=SampleFlag.assisted,
            seed=rng.randrange(2**31),
            now=opens,
        )
        questions = survey.template.questions
        mood = 0.5 if index in UNHAPPY_VILLAGES else 0.92
        answered = {
            household_id: service.validate_answers(questions, _answers(rng, questions, mood))
            for household_id in session.scalars(service.invited_households(survey.id))
            if rng.random() < RESPONSE_RATE
        }
        service.record_phone_responses(session, survey.id, answered)
        summary.responses += len(answered)
        sheets = [_answers(rng, questions, mood) for _ in range(PAPER_SHEETS)]
        service.enter_paper_responses(
            session, scope, admin, survey.id, sheets, now=closes - timedelta(days=1), shuffle=rng
        )
        summary.responses += PAPER_SHEETS
        results.close_survey(session, survey.id, now=now_utc())
        summary.closed += 1

    # This quarter: every 脱贫户 rates the village work team; open now, about 40% have answered.
    started = _at(today_local() - timedelta(days=3), 8)
    for village in villages:
        survey = service.create_survey(
            session,
            scope,
            admin,
            template_id=village_team.id,
            village_id=village.id,
            period=service.quarter_of(today_local()),
            opens_at=started,
            closes_at=_at(today_local() + timedelta(days=14), 18),
            sampling=Sampling.all,
            sample_size=None,
            sample_flag=SampleFlag.poor,
            seed=rng.randrange(2**31),
            now=started,
        )
        questions = survey.template.questions
        answered = {
            household_id: service.validate_answers(questions, _answers(rng, questions, 0.85))
            for household_id in session.scalars(service.invited_households(survey.id))
            if household_id not in demo_households and rng.random() < 0.4
        }
        service.record_phone_responses(session, survey.id, answered)
        summary.responses += len(answered)
        summary.open += 1
    summary.alerts = len(list(session.scalars(results.alerts_query(scope))))
    return summary
