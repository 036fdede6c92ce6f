"""Masses' satisfaction surveys: answering on the phone once and anonymously, sampling, the satisfaction
figure, the one alert, freezing at close, and admin pages/exports that never tie an answer to a household."""

from __future__ import annotations

import hashlib
import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, inspect, select, update

from backend.auth.models import User
from backend.auth.scope import scope_for
from backend.db import db
from backend.errors import InvalidAnswer
from backend.org.models import Grid, Household, Resident, Village
from backend.surveys import results, service
from backend.surveys.models import (
    Channel,
    SampleFlag,
    Sampling,
    Survey,
    SurveyAlert,
    SurveyAnswer,
    SurveyInvitation,
    SurveyQuestion,
    SurveyReceipt,
    SurveyResponse,
    SurveyResult,
)
from backend.surveys.paper import parse_sheets
from backend.surveys.results import Satisfaction
from backend.surveys.templates import install_preset
from backend.timeutil import now_utc, to_local
from backend.transaction import unit_of_work
from tests.admin_helpers import html, post_form
from tests.factories import make_household
from tests.factories_surveys import full_answers
from tests.xlsx import read_xlsx


def questions_of(app, survey_id: int) -> list[SurveyQuestion]:  # type: ignore[no-untyped-def]
    with app.app_context():
        survey = db.session.get(Survey, survey_id)
        questions = list(survey.template.questions)
        db.session.expunge_all()
        db.session.remove()
    return questions


def body(app, world, **overrides) -> dict:  # type: ignore[no-untyped-def]
    return {"answers": full_answers(questions_of(app, world.ids["survey"]), **overrides)}


def counts(app, survey_id: int) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    """(receipts, responses, answer rows) of a survey."""
    with app.app_context():
        s = db.session
        receipts = s.scalar(select(func.count()).where(SurveyReceipt.survey_id == survey_id))
        responses = s.scalar(select(func.count()).where(SurveyResponse.survey_id == survey_id))
        answers = s.scalar(
            select(func.count())
            .select_from(SurveyAnswer)
            .join(SurveyResponse)
            .where(SurveyResponse.survey_id == survey_id)
        )
        db.session.remove()
    return receipts, responses, answers


def move_window(app, survey_id: int, *, opens: timedelta, closes: timedelta) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        now = now_utc()
        db.session.execute(
            update(Survey).where(Survey.id == survey_id).values(opens_at=now + opens, closes_at=now + closes)
        )
        db.session.commit()
        db.session.remove()


# --- answering on the phone ------------------------------------------------------------------------


def test_an_invited_household_sees_the_survey_answers_once_and_gets_no_response_id(app, api, world) -> None:
    phone = api("villager")
    [pending] = phone.get("/surveys/pending").json["items"]
    assert pending["id"] == world.ids["survey"] and pending["anonymous"] is True
    assert [q["kind"] for q in pending["questions"]] == [
        "single_choice",
        "single_choice",
        "single_choice",
        "rating",
        "multiple_choice",
        "text",
    ]
    assert pending["questions"][0]["options"] == ["满意", "基本满意", "不满意"]

    response = phone.post(f"/surveys/{world.ids['survey']}/responses", json=body(app, world))

    assert response.status_code == 201, response.json
    assert response.json == {"survey_id": world.ids["survey"], "status": "received"}
    assert phone.get("/surveys/pending").json["items"] == []
    again = phone.post(f"/surveys/{world.ids['survey']}/responses", json=body(app, world, q0="不满意"))
    assert again.status_code == 409 and again.json["code"] == "survey_already_answered"
    assert counts(app, world.ids["survey"]) == (1, 1, 7)  # 4 choices/rating + 2 wishes + 1 text


@pytest.mark.real_commits  # threads: each its own connection
def test_fifty_concurrent_submissions_from_one_household_store_exactly_one_response(app, world) -> None:
    url = f"/api/mp/v1/surveys/{world.ids['survey']}/responses"
    headers = {"Authorization": f"Bearer {world.tokens['villager']}"}
    payload = body(app, world)
    outcomes: list[tuple[int, str | None]] = []
    barrier = threading.Barrier(50)

    def send() -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post(url, json=payload, headers=headers)
        outcomes.append((response.status_code, (response.json or {}).get("code")))

    threads = [threading.Thread(target=send) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(outcomes) == 50
    assert [status for status, _ in outcomes].count(201) == 1, outcomes
    assert {outcome for outcome in outcomes if outcome[0] != 201} == {(409, "survey_already_answered")}
    assert counts(app, world.ids["survey"]) == (1, 1, 7)


def test_uninvited_households_are_refused_and_nothing_is_stored(app, api, world) -> None:
    url = f"/surveys/{world.ids['survey']}/responses"
    neighbour = api("villager_neighbour").post(url, json=body(app, world))  # same village, not drawn
    far = api("villager_far").post(url, json=body(app, world))  # another village
    unbound = api("villager_unbound").post(url, json=body(app, world))

    assert (neighbour.status_code, neighbour.json["code"]) == (403, "survey_not_invited")
    assert (far.status_code, far.json["code"]) == (403, "not_in_scope")
    assert (unbound.status_code, unbound.json["code"]) == (403, "forbidden")
    assert api("villager_neighbour").get("/surveys/pending").json["items"] == []
    assert counts(app, world.ids["survey"]) == (0, 0, 0)


def test_closed_and_not_yet_open_surveys_refuse_answers(app, api, world) -> None:
    url = f"/surveys/{world.ids['survey']}/responses"
    move_window(app, world.ids["survey"], opens=timedelta(days=-9), closes=timedelta(seconds=-1))
    closed = api("villager").post(url, json=body(app, world))
    assert (closed.status_code, closed.json["code"]) == (409, "survey_closed")
    assert api("villager").get("/surveys/pending").json["items"] == []

    move_window(app, world.ids["survey"], opens=timedelta(days=1), closes=timedelta(days=9))
    early = api("villager").post(url, json=body(app, world))
    assert (early.status_code, early.json["code"]) == (409, "survey_not_open")
    assert counts(app, world.ids["survey"]) == (0, 0, 0)


@pytest.mark.parametrize(
    ("position", "value", "message"),
    [
        (3, "5", "评分须为1到5的整数"),
        (3, 6, "评分须为1到5的整数"),
        (3, True, "评分须为1到5的整数"),
        (0, "很满意", "请从选项中选择一项"),
        (0, ["满意"], "请从选项中选择一项"),
        (4, ["产业发展", "产业发展"], "请从选项中选择一项或多项，不能重复"),
        (4, "产业发展", "请从选项中选择一项或多项，不能重复"),
        (5, 42, "请填写1–500字"),
        (5, "长" * 501, "请填写1–500字"),
        (2, None, "此题必答"),
    ],
)
def test_wrong_answer_types_are_refused_per_question(app, api, world, position, value, message) -> None:
    questions = questions_of(app, world.ids["survey"])
    answers = full_answers(questions, **{f"q{position}": value})
    response = api("villager").post(f"/surveys/{world.ids['survey']}/responses", json={"answers": answers})

    assert response.status_code == 422
    assert response.json["code"] == "invalid_answer"
    assert response.json["errors"] == {str(questions[position].id): [message]}
    assert counts(app, world.ids["survey"]) == (0, 0, 0)


def test_questions_of_another_survey_and_repeated_answers_are_refused(app, api, world) -> None:
    questions = questions_of(app, world.ids["survey"])
    answers = full_answers(questions)
    response = api("villager").post(
        f"/surveys/{world.ids['survey']}/responses",
        json={"answers": [*answers, {"question_id": 999999, "value": "满意"}, answers[0]]},
    )
    assert response.status_code == 422 and response.json["code"] == "invalid_answer"
    assert response.json["errors"] == {"999999": ["不是本问卷的题目"], str(questions[0].id): ["同一题只能回答一次"]}


def test_optional_questions_may_be_left_out(app, api, world) -> None:
    questions = questions_of(app, world.ids["survey"])
    required = [a for a, q in zip(full_answers(questions), questions, strict=True) if q.required]
    response = api("villager").post(f"/surveys/{world.ids['survey']}/responses", json={"answers": required})
    assert response.status_code == 201
    assert counts(app, world.ids["survey"]) == (1, 1, 4)


# --- anonymity -------------------------------------------------------------------------------------------


def test_answer_tables_hold_no_household_user_time_or_sequential_id(app, api, world) -> None:
    assert api("villager").post(f"/surveys/{world.ids['survey']}/responses", json=body(app, world)).status_code == 201
    with app.app_context():
        inspector = inspect(db.engine)
        for table in ("survey_response", "survey_answer", "survey_receipt"):
            columns = {c["name"] for c in inspector.get_columns(table)}
            assert not columns & {"household_id", "user_id", "created_at", "submitted_at", "at"}, table
            referenced = {fk["referred_table"] for fk in inspector.get_foreign_keys(table)}
            assert referenced <= {"survey", "survey_response", "survey_question"}, (table, referenced)
        [response_id] = db.session.scalars(select(SurveyResponse.id))
        [receipt] = db.session.scalars(select(SurveyReceipt.receipt_hash))
        db.session.remove()
    assert re.fullmatch(r"[0-9a-f]{32}", response_id)
    message = f"SURVEY:{world.ids['survey']}:HOUSEHOLD:{world.ids['H1']}"
    assert receipt == service.receipt_hash(world.ids["survey"], world.ids["H1"])
    assert receipt != hashlib.sha256(message.encode()).hexdigest(), "keyed: a database copy alone cannot recompute it"


def test_closing_rekeys_every_response_so_write_order_is_lost(app, world) -> None:
    survey_id = world.ids["survey"]
    with app.app_context():
        survey = db.session.get(Survey, survey_id)
        for household in range(1, 6):
            rows = service.validate_answers(survey.template.questions, full_answers(survey.template.questions))
            service.record_phone_response(db.session, survey_id, 1000 + household, rows)
        db.session.commit()
        before = set(db.session.scalars(select(SurveyResponse.id)))
        db.session.execute(update(Survey).where(Survey.id == survey_id).values(closes_at=now_utc()))
        with unit_of_work(db.session):
            results.close_survey(db.session, survey_id)
        after = set(db.session.scalars(select(SurveyResponse.id)))
        answered = db.session.scalar(select(func.count()).select_from(SurveyAnswer))
        db.session.remove()
    assert len(after) == 5 and not before & after
    assert answered == 5 * 7, "answers follow their response to the new id"


# --- sampling --------------------------------------------------------------------------------------------


def populate(session, village_id: int, n: int, *, poor_every: int = 3) -> list[int]:  # type: ignore[no-untyped-def]
    village = session.get(Village, village_id)
    grid = session.scalar(select(Grid).where(Grid.village_id == village_id))
    made = [make_household(session, village, grid, f"S{i:03d}", poor=i % poor_every == 0) for i in range(n)]
    return [h.id for h in made]


def test_the_same_seed_draws_the_same_households_and_the_draw_is_recorded(app, world) -> None:
    with app.app_context():
        s = db.session
        populate(s, world.ids["V2"], 60)
        admin = s.get(User, world.ids["user:town_admin"])
        scope = scope_for(s, admin)
        kwargs = {
            "template_id": install_preset(s, world.ids["C1"], "village_team_quarterly").id,
            "village_id": world.ids["V2"],
            "period": "2026-Q4",
            "opens_at": now_utc(),
            "closes_at": now_utc() + timedelta(days=7),
            "sampling": Sampling.random,
            "sample_size": 20,
            "sample_flag": SampleFlag.any,
        }
        survey = service.create_survey(s, scope, admin, **kwargs, seed=20240601)
        twin = service.create_survey(s, scope, admin, **kwargs, seed=20240601)
        other = service.create_survey(s, scope, admin, **kwargs, seed=7)
        s.commit()

        def invited(survey_id: int) -> list[int]:
            return list(
                s.scalars(
                    select(SurveyInvitation.household_id)
                    .where(SurveyInvitation.survey_id == survey_id)
                    .order_by(SurveyInvitation.household_id)
                )
            )

        assert len(invited(survey.id)) == 20 and survey.eligible_count == 61  # 60 + H3
        assert invited(survey.id) == invited(twin.id) == service.redraw(s, survey)
        assert invited(other.id) != invited(survey.id)
        assert survey.seed == 20240601 and survey.invited_count == 20
        db.session.remove()


def test_flagged_sampling_draws_only_poor_households_and_all_means_all(app, world) -> None:
    with app.app_context():
        s = db.session
        ids = populate(s, world.ids["V2"], 30)
        poor = set(s.scalars(select(Household.id).where(Household.id.in_(ids), Household.is_poor.is_(True))))
        population = service.eligible_households(s, world.ids["V2"], SampleFlag.poor)
        db.session.remove()
    assert set(population) == poor and len(poor) == 10
    assert service.draw_sample(population, Sampling.random, 4, seed=3) == service.draw_sample(
        population, Sampling.random, 4, seed=3
    )
    assert set(service.draw_sample(population, Sampling.random, 4, seed=3)) <= poor
    assert service.draw_sample(population, Sampling.random, 50, seed=3) == sorted(population)
    assert service.draw_sample(population, Sampling.all, 4, seed=3) == sorted(population)


# --- the satisfaction figure, the alert, freezing -----------------------------------------------------------


KNOWN = [
    # (how many, q0 overall, q2 hardship, q3 rating, channel)
    (4, "满意", "基本满意", 5, Channel.phone),  # 3 satisfied each → 12
    (3, "不满意", "不满意", 3, Channel.phone),  # 0
    (2, "基本满意", "不满意", 4, Channel.phone),  # 2 each → 4
    (1, "不满意", "满意", 1, Channel.paper),  # 1
]


def seed_known_answers(app, survey_id: int) -> None:  # type: ignore[no-untyped-def]
    """10 sheets, 30 scored answers, 17 satisfied: 56.7%."""
    with app.app_context():
        survey = db.session.get(Survey, survey_id)
        questions = survey.template.questions
        household = 5000
        for n, overall, hardship, rating, channel in KNOWN:
            for _ in range(n):
                rows = service.validate_answers(questions, full_answers(questions, q0=overall, q2=hardship, q3=rating))
                if channel == Channel.phone:
                    household += 1
                    service.record_phone_response(db.session, survey_id, household, rows)
                else:
                    service._store(db.session, survey_id, channel, rows)
        db.session.commit()
        db.session.remove()


def close(app, survey_id: int):  # type: ignore[no-untyped-def]
    with app.app_context():
        db.session.execute(update(Survey).where(Survey.id == survey_id).values(closes_at=now_utc()))
        db.session.commit()
        with unit_of_work(db.session):
            results.close_survey(db.session, survey_id)
        result = db.session.get(SurveyResult, survey_id)
        db.session.refresh(result)
        db.session.expunge_all()
        db.session.remove()
    return result


def alerts(app) -> list[SurveyAlert]:  # type: ignore[no-untyped-def]
    with app.app_context():
        rows = list(db.session.scalars(select(SurveyAlert)))
        db.session.expunge_all()
        db.session.remove()
    return rows


def test_satisfaction_counts_satisfied_and_basically_satisfied_choices_and_ratings_of_four_or_more(app, world) -> None:
    seed_known_answers(app, world.ids["survey"])
    result = close(app, world.ids["survey"])

    assert (result.scored_answers, result.satisfied_answers) == (30, 17)
    assert (result.invited, result.phone_responses, result.paper_responses) == (1, 9, 1)
    assert result.is_final
    by_position = {q["position"]: q for q in result.questions}
    assert by_position[0]["counts"] == [["满意", 4], ["基本满意", 2], ["不满意", 4]]
    assert by_position[0]["satisfied"] == 6
    assert by_position[3]["counts"] == [["1", 1], ["2", 0], ["3", 3], ["4", 2], ["5", 4]]
    assert by_position[3]["satisfied"] == 6
    assert by_position[1]["satisfied"] is None  # 走访 question is not scored
    assert by_position[4]["answered"] == 10 and by_position[4]["counts"][0] == ["产业发展", 10]
    assert by_position[5]["texts"] == ["希望多来村里"] * 10


def test_the_threshold_is_strict_and_integer_exact() -> None:
    assert not Satisfaction(7, 10).below(70)
    assert Satisfaction(6999, 10000).below(70)
    assert not Satisfaction(0, 0).below(70)  # no scored answer: no figure, no alert
    assert Satisfaction(17, 30).rate == pytest.approx(0.5667, abs=1e-4)


def test_below_seventy_percent_raises_exactly_one_alert_whatever_recompiles(app, world) -> None:
    seed_known_answers(app, world.ids["survey"])
    first = close(app, world.ids["survey"])
    again = close(app, world.ids["survey"])
    with app.app_context():
        with unit_of_work(db.session):
            results.compile_on_demand(db.session, world.ids["survey"])
        with unit_of_work(db.session) as s:
            from backend.surveys.jobs import close_due

            assert close_due(s) == []
        db.session.remove()

    [alert] = alerts(app)
    assert (alert.satisfied_answers, alert.scored_answers, alert.threshold_pct) == (17, 30, 70)
    assert alert.village_id == world.ids["V1"] and alert.status == "open"
    assert again.compiled_at == first.compiled_at


def test_a_county_with_a_lower_threshold_gets_no_alert_for_the_same_answers(app, world) -> None:
    with app.app_context():
        with unit_of_work(db.session) as s:
            results.set_threshold(s, s.get(User, world.ids["user:county_admin"]), 55)
        db.session.remove()
    seed_known_answers(app, world.ids["survey"])
    close(app, world.ids["survey"])
    assert alerts(app) == []


def test_a_frozen_survey_refuses_answers_and_paper_and_keeps_its_figures(app, api, world, admin) -> None:
    seed_known_answers(app, world.ids["survey"])
    frozen = close(app, world.ids["survey"])

    late = api("villager").post(f"/surveys/{world.ids['survey']}/responses", json=body(app, world))
    assert (late.status_code, late.json["code"]) == (409, "survey_closed")
    client = admin("town_admin")
    paper = post_form(client, f"/admin/surveys/{world.ids['survey']}/paper", {"sheets": "满意,走访过一次,满意,5"})
    assert "本次测评已结束" in html(client.get(paper.headers["Location"]))
    with app.app_context():
        result = db.session.get(SurveyResult, world.ids["survey"])
        assert (result.scored_answers, result.satisfied_answers, result.compiled_at) == (
            30,
            17,
            frozen.compiled_at,
        )
        assert db.session.scalar(select(func.count()).select_from(SurveyResponse)) == 10
        db.session.remove()


# --- paper sheets -----------------------------------------------------------------------------------------


def test_paper_sheets_accept_option_numbers_and_excel_tabs(app, world) -> None:
    questions = questions_of(app, world.ids["survey"])
    sheets = parse_sheets(questions, "1,3,满意,5,1、3,路灯坏了，请修\n不满意\t没有走访\t3\t2\t\t\n\n")
    assert [[a["value"] for a in sheet] for sheet in sheets] == [
        ["满意", "没有走访", "满意", 5, ["产业发展", "道路水电"], "路灯坏了，请修"],
        ["不满意", "没有走访", "不满意", 2, None, None],
    ]
    with pytest.raises(InvalidAnswer):
        parse_sheets(questions[:2], "满意,走访过一次,多余")


def test_an_admin_enters_a_pile_of_paper_sheets_all_or_nothing(app, admin, world) -> None:
    client = admin("reviewer")
    url = f"/admin/surveys/{world.ids['survey']}/paper"
    bad = post_form(client, url, {"sheets": "满意,走访过一次,满意,5\n满意,走访过一次,满意,9"})
    assert bad.status_code == 302
    assert "第2份" in html(client.get(bad.headers["Location"]))
    assert counts(app, world.ids["survey"]) == (0, 0, 0)

    good = post_form(client, url, {"sheets": "满意,走访过一次,满意,5\n不满意,没有走访,不满意,1,,意见"})
    assert "已录入 2 份纸质问卷" in html(client.get(good.headers["Location"]))
    assert counts(app, world.ids["survey"]) == (0, 2, 9)
    with app.app_context():
        channels = set(db.session.scalars(select(SurveyResponse.channel)))
        db.session.remove()
    assert channels == {Channel.paper}


@pytest.mark.parametrize(
    "sheet", ["²,走访过一次,满意,5", "满意,走访过一次,满意,²", "满意,走访过一次,满意," + "9" * 5000]
)
def test_a_paper_sheet_with_a_superscript_or_endless_number_gets_a_message_not_a_500(app, admin, world, sheet) -> None:
    client = admin("reviewer")
    response = post_form(client, f"/admin/surveys/{world.ids['survey']}/paper", {"sheets": sheet})
    assert response.status_code == 302
    assert "第1份" in html(client.get(response.headers["Location"]))
    assert counts(app, world.ids["survey"]) == (0, 0, 0)


# --- admin: scheduling, live progress, results, exports, alerts --------------------------------------------


def schedule_via_ui(client, world, **fields):  # type: ignore[no-untyped-def]
    start = to_local(now_utc() - timedelta(hours=1))
    form = {
        "template_id": world.ids["survey_template"],
        "village_id": world.ids["V1"],
        "target_cadre_id": world.ids["cadre"],
        "period": "2026-Q4",
        "opens_at": f"{start:%Y-%m-%dT%H:%M}",
        "closes_at": f"{start + timedelta(days=14):%Y-%m-%dT%H:%M}",
        "sampling": "all",
        "sample_size": "20",
        "sample_flag": "any",
        "seed": "",
        **fields,
    }
    return post_form(client, "/admin/surveys/new", form)


def test_a_town_admin_schedules_a_survey_and_invited_households_find_it_on_the_phone(app, api, admin, world) -> None:
    client = admin("town_admin")
    assert "安排群众满意度测评" in html(client.get("/admin/surveys/new"))
    response = schedule_via_ui(client, world)
    assert response.status_code == 302, html(response)
    survey_id = int(response.headers["Location"].rsplit("/", 1)[1])
    page = html(client.get(response.headers["Location"]))
    assert "邀请 3 户" in page and "第一书记 赵*一" in page

    pending = api("villager_neighbour").get("/surveys/pending").json["items"]
    assert [s["id"] for s in pending] == [survey_id]
    assert client.get(f"/admin/surveys/{survey_id}/progress").json == {
        "invited": 3,
        "phone": 0,
        "paper": 0,
        "rate": "0.0%",
        "status": "进行中",
    }
    url = f"/surveys/{survey_id}/responses"
    questions = questions_of(app, survey_id)
    assert api("villager_neighbour").post(url, json={"answers": full_answers(questions)}).status_code == 201
    assert client.get(f"/admin/surveys/{survey_id}/progress").json["rate"] == "33.3%"


def test_only_town_and_county_admins_schedule_and_a_bad_window_is_explained(app, admin, world) -> None:
    reviewer = admin("reviewer")
    refused = schedule_via_ui(reviewer, world)
    assert refused.status_code == 403 and "只有镇、县管理员可以安排测评" in html(refused)
    town = admin("town_admin")
    start = to_local(now_utc())
    page = html(schedule_via_ui(town, world, closes_at=f"{start - timedelta(days=1):%Y-%m-%dT%H:%M}"))
    assert "结束时间必须晚于开始时间" in page
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Survey)) == 1  # the world's own
        db.session.remove()


def household_markers(app, world) -> set[str]:  # type: ignore[no-untyped-def]
    """Everything that would identify a household of V1 in a page or a sheet."""
    with app.app_context():
        households = db.session.scalars(select(Household).where(Household.village_id == world.ids["V1"])).all()
        names = db.session.scalars(select(Resident.name).where(Resident.household_id.in_([h.id for h in households])))
        markers = {h.address for h in households} | set(names) | {f"/admin/households/{h.id}" for h in households}
        db.session.remove()
    return markers


def test_no_admin_page_or_export_ties_an_answer_to_a_household(app, api, admin, world) -> None:
    survey_id = world.ids["survey"]
    assert (
        api("villager").post(f"/surveys/{survey_id}/responses", json=body(app, world, q5="村口的路灯坏了")).status_code
        == 201
    )
    seed_known_answers(app, survey_id)
    close(app, survey_id)
    markers = household_markers(app, world)
    client = admin("county_admin")

    pages = [f"/admin/surveys/{survey_id}", "/admin/surveys", "/admin/survey-alerts", "/admin/survey-templates"]
    for path in pages:
        page = html(client.get(path))
        assert not [m for m in markers if m in page], path
        assert "户号" not in page
    detail = html(client.get(f"/admin/surveys/{survey_id}"))
    assert "村口的路灯坏了" in detail, "free text is shown, but only as text"

    sheets = [
        read_xlsx(client.get(f"/admin/surveys/{survey_id}?format=xlsx")),
        read_xlsx(client.get("/admin/surveys?format=xlsx")),
        read_xlsx(client.get("/admin/survey-alerts?format=xlsx")),
    ]
    for rows in sheets:
        assert "户号" not in rows[0] and "农户" not in rows[0]
        cells = [c for row in rows for c in row if c is not None]
        assert not [c for c in cells if isinstance(c, str) and any(m in c for m in markers)]
    results_rows = sheets[0]
    texts = [row[3] for row in results_rows if row[2] == "简答"]
    assert texts == sorted(texts), "free texts are sorted, never in the order they came"


def test_results_page_draws_charts_with_the_vendored_echarts(app, admin, world) -> None:
    seed_known_answers(app, world.ids["survey"])
    close(app, world.ids["survey"])
    client = admin("town_admin")
    page = html(client.get(f"/admin/surveys/{world.ids['survey']}"))
    assert page.count('data-chart="') == 6  # the gauge + 5 non-text questions
    assert "/admin/static/vendor/echarts/echarts.min.js" in page and "//cdn" not in page
    assert "满意度 17 / 30" in page and "已向镇党委发出预警" in page
    script = client.get("/admin/static/vendor/echarts/echarts.min.js")
    assert script.status_code == 200 and b'version="5.6.0"' in script.data


def test_an_open_survey_shows_no_provisional_figures_until_five_responses(app, api, admin, world) -> None:
    client = admin("town_admin")
    assert api("villager").post(f"/surveys/{world.ids['survey']}/responses", json=body(app, world)).status_code == 201
    post_form(client, f"/admin/surveys/{world.ids['survey']}/compile", {})
    page = html(client.get(f"/admin/surveys/{world.ids['survey']}"))
    assert "为保护匿名" in page and "data-chart" not in page

    seed_known_answers(app, world.ids["survey"])
    post_form(client, f"/admin/surveys/{world.ids['survey']}/compile", {})
    page = html(client.get(f"/admin/surveys/{world.ids['survey']}"))
    assert "临时结果" in page and "意见建议在测评结束后显示" in page and "希望多来村里" not in page
    assert alerts(app) == [], "only the closing compile raises alerts"


def test_the_town_sees_its_alert_and_records_the_interview(app, admin, world) -> None:
    seed_known_answers(app, world.ids["survey"])
    close(app, world.ids["survey"])
    [alert] = alerts(app)
    town = admin("town_admin")
    page = html(town.get("/admin/survey-alerts"))
    assert "待约谈" in page and "56.7%（17/30）" in page
    assert "暂无预警" in html(admin("town_admin_other").get("/admin/survey-alerts"))

    missing_note = post_form(town, f"/admin/survey-alerts/{alert.id}", {"status": "interviewed", "note": ""})
    assert "请填写约谈或整改情况" in html(town.get(missing_note.headers["Location"]))
    post_form(town, f"/admin/survey-alerts/{alert.id}", {"status": "interviewed", "note": "11月20日镇党委书记约谈"})
    [handled] = alerts(app)
    assert (handled.status, handled.note) == ("interviewed", "11月20日镇党委书记约谈")
    other = post_form(
        admin("town_admin_other"), f"/admin/survey-alerts/{alert.id}", {"status": "resolved", "note": "x"}
    )
    assert other.status_code == 302 and alerts(app)[0].status == "interviewed"


def test_closing_early_from_the_admin_page_freezes_through_the_job(app, admin, world) -> None:
    seed_known_answers(app, world.ids["survey"])
    client = admin("county_admin")
    response = post_form(client, f"/admin/surveys/{world.ids['survey']}/close", {})
    page = html(client.get(response.headers["Location"]))
    assert "最终结果（已冻结）" in page and "已结束" in page
    assert len(alerts(app)) == 1


def test_templates_page_installs_presets_and_builds_a_custom_questionnaire(app, admin, world) -> None:
    client = admin("county_admin")
    post_form(client, "/admin/survey-templates", {"preset": "village_team_quarterly"})
    form = {
        "title": "镇包村干部群众评议",
        "target_kind": "cadre",
        "q0_kind": "rating",
        "q0_prompt": "工作作风评分",
        "q0_required": "1",
        "q0_scored": "1",
        "q1_kind": "text",
        "q1_prompt": "意见建议",
    }
    done = post_form(client, "/admin/survey-templates", form)
    page = html(client.get(done.headers["Location"]))
    assert "驻村工作队季度群众满意度测评" in page and "镇包村干部群众评议" in page
    bad = post_form(client, "/admin/survey-templates", {**form, "q0_kind": "text"})
    assert "只有评分题和满意度单选题可以计入满意度" in html(bad)


def test_the_schedule_freezes_due_surveys_in_process_without_redis(app, world) -> None:
    seed_known_answers(app, world.ids["survey"])
    with app.app_context():
        db.session.execute(update(Survey).where(Survey.id == world.ids["survey"]).values(closes_at=now_utc()))
        db.session.commit()
        db.session.remove()

    outcome = app.test_cli_runner().invoke(args=["schedule"])

    assert outcome.exit_code == 0, outcome.output
    with app.app_context():
        assert db.session.get(Survey, world.ids["survey"]).frozen_at is not None
        assert db.session.get(SurveyResult, world.ids["survey"]).is_final
        db.session.remove()
    assert len(alerts(app)) == 1


def test_the_county_sets_its_own_alert_line_and_a_town_cannot(app, admin, world) -> None:
    county = admin("county_admin")
    saved = post_form(county, "/admin/survey-alerts/threshold", {"threshold_pct": "60"})
    page = html(county.get(saved.headers["Location"]))
    assert "满意度预警线已保存" in page and "满意度低于 60% 时自动预警" in page

    town = admin("town_admin")
    refused = post_form(town, "/admin/survey-alerts/threshold", {"threshold_pct": "90"})
    assert "只有县管理员可以设置满意度预警线" in html(town.get(refused.headers["Location"]))
    with app.app_context():
        assert results.threshold_for(db.session, world.ids["C1"]) == 60
        assert results.threshold_for(db.session, world.ids["C2"]) == 70
        db.session.remove()
