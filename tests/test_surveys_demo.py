"""Done-when of the surveys issue, on the demo county: every first secretary's quarterly evaluation ran from
scheduling to frozen results with alerts; the town sees its alerts; a demo villager answers on the phone."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.auth.models import Role, User
from backend.auth.passwords import hash_password
from backend.auth.service import issue_token
from backend.db import db
from backend.demo.county import DemoSummary
from backend.org.models import Household, Post, Posting, Village
from backend.surveys.models import Survey, SurveyAlert, SurveyResult, TargetKind
from tests.admin_helpers import PASSWORD, html, post_login
from tests.factories_surveys import full_answers


def test_demo_county_has_frozen_first_secretary_evaluations_with_alerts_and_an_open_one_to_answer(
    app: Flask, session: Session, demo_county: DemoSummary
) -> None:
    summary = demo_county
    assert summary.surveys == 24 and summary.survey_alerts >= 1

    secretaries = set(
        session.execute(select(Posting.village_id, Posting.cadre_id).where(Posting.post == Post.first_secretary))
    )
    evaluated = set(
        session.execute(
            select(Survey.village_id, Survey.target_cadre_id).where(
                Survey.target_kind == TargetKind.cadre, Survey.frozen_at.is_not(None)
            )
        )
    )
    assert evaluated == secretaries
    finals = session.scalars(select(SurveyResult).where(SurveyResult.is_final.is_(True))).all()
    assert len(finals) == 12 and all(r.phone_responses > 0 and r.paper_responses == 5 for r in finals)
    alerts = session.scalars(select(SurveyAlert)).all()
    assert len(alerts) == summary.survey_alerts
    assert all(a.satisfied_answers * 100 < a.threshold_pct * a.scored_answers for a in alerts)
    assert session.scalar(select(func.count()).select_from(Survey).where(Survey.frozen_at.is_(None))) == 12

    # The town of the first alerted village sees it; the demo villager of that village has a survey to answer.
    village = session.get(Village, alerts[0].village_id)
    town_admin = session.scalar(select(User).where(User.role == Role.town_admin, User.town_id == village.town_id))
    town_admin.password_hash = hash_password(PASSWORD)
    # villager_<village>_1 is the demo login of a 脱贫户: every 脱贫户 is asked about the work team this quarter.
    villager = session.scalar(
        select(User)
        .join(Household, Household.id == User.household_id)
        .where(User.username.like("villager_%_1"), Household.village_id == village.id)
    )
    token = issue_token(session, villager, timedelta(days=1)).token
    session.commit()
    username = town_admin.username

    browser = app.test_client()
    assert post_login(browser, username, PASSWORD).status_code == 302
    assert village.name in html(browser.get("/admin/survey-alerts")) and "待约谈" in html(
        browser.get("/admin/survey-alerts")
    )
    results_page = html(browser.get(f"/admin/surveys/{alerts[0].survey_id}"))
    assert "最终结果（已冻结）" in results_page and "已向镇党委发出预警" in results_page

    phone = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    [pending] = phone.get("/api/mp/v1/surveys/pending", headers=headers).json["items"]
    open_survey = session.get(Survey, pending["id"])
    answers = full_answers(open_survey.template.questions)
    sent = phone.post(f"/api/mp/v1/surveys/{pending['id']}/responses", json={"answers": answers}, headers=headers)
    assert sent.status_code == 201, sent.json
    assert phone.get("/api/mp/v1/surveys/pending", headers=headers).json["items"] == []
    db.session.remove()
