"""Survey fixtures: the world's open survey of V1's first secretary, and a full valid answer sheet."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from backend.org.models import Village
from backend.surveys.models import SampleFlag, Sampling, Survey, SurveyInvitation, SurveyQuestion, TargetKind
from backend.surveys.templates import install_preset
from backend.timeutil import now_utc

PRESET = "first_secretary_quarterly"


def open_world_survey(session: Session, village: Village, cadre_id: int, household_ids: list[int]) -> dict[str, int]:
    """Built from the models (no inbox messages, so other areas' inbox counts are untouched):
    open since yesterday for a week, `household_ids` invited."""
    template = install_preset(session, village.town.county_id, PRESET)
    now = now_utc()
    survey = Survey(
        county_id=village.town.county_id,
        village_id=village.id,
        template_id=template.id,
        target_kind=TargetKind.cadre,
        target_cadre_id=cadre_id,
        title=f"{village.name}第一书记季度群众满意度测评",
        period="2026-Q4",
        opens_at=now - timedelta(days=1),
        closes_at=now + timedelta(days=7),
        sampling=Sampling.all,
        sample_flag=SampleFlag.poor,
        seed=1,
        eligible_count=len(household_ids),
        invited_count=len(household_ids),
    )
    session.add(survey)
    session.flush()
    session.add_all([SurveyInvitation(survey_id=survey.id, household_id=h) for h in household_ids])
    session.flush()
    return {
        "survey": survey.id,
        "survey_template": template.id,
        **{f"survey_q{q.position}": q.id for q in template.questions},
    }


def full_answers(questions: list[SurveyQuestion], **overrides: Any) -> list[dict[str, Any]]:
    """A valid answer to every question of the first-secretary preset; override by position: q0="不满意"."""
    defaults = ["满意", "走访过一次", "基本满意", 4, ["产业发展", "道路水电"], "希望多来村里"]
    values = [overrides.get(f"q{q.position}", defaults[q.position]) for q in questions]
    return [{"question_id": q.id, "value": v} for q, v in zip(questions, values, strict=True)]
