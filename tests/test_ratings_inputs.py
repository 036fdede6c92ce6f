"""The ratings read cadre work and surveys: attendance, visit coverage, problem closure and satisfaction,
each on hand-built records of March 2025 in 白杨村 (V2) with known answers, and the compile scoring from them.

Times are written in UTC the way the app stores them; the month is the business month in Asia/Shanghai
(UTC+8), so 2025-02-28 16:30Z belongs to March and 2025-03-31 16:30Z to April.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.org.models import Cadre, County, Grid, Pairing, Post, Posting, Village
from backend.ratings.models import SchemeKind
from backend.ratings.providers import MANY, Period, Subject, gather, load_inputs
from backend.records.models import (
    CadreWorkSettings,
    Checkin,
    LeaveRequest,
    LeaveStatus,
    Problem,
    ProblemStatus,
    Visit,
    VisitKind,
)
from backend.surveys.models import SampleFlag, Sampling, Survey, SurveyResult, TargetKind
from backend.surveys.templates import install_preset
from backend.timeutil import to_local
from tests.factories import World, make_household
from tests.factories_ratings import install_world_schemes, results
from tests.test_ratings_compile import compile_now

MONTH = "2025-03"
MARCH = Period.month(MONTH)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass
class March:
    secretary: int  # first secretary of V2 (posted all month)
    member: int  # team member from 16 March
    helper: int  # 包联干部: pairs households, checks in, not on the work team
    successor: int  # takes over one paired household on 11 March
    households: dict[str, int]
    problems: dict[str, int]


def _cadre(session: Session, county_id: int, village_id: int, post: Post, start: date, name: str) -> int:
    cadre = Cadre(county_id=county_id, work_unit="县农业农村局", name=name, phone="13700000000")
    session.add(cadre)
    session.flush()
    session.add(Posting(cadre_id=cadre.id, village_id=village_id, post=post, start_on=start))
    return cadre.id


def _checkin(session: Session, cadre_id: int, village_id: int, at: datetime, inside: bool = True) -> None:
    session.add(
        Checkin(
            cadre_id=cadre_id,
            village_id=village_id,
            at=at,
            local_date=to_local(at).date(),
            location="33.150000,107.330000",
            accuracy_m=10.0,
            distance_m=100 if inside else 5000,
            in_fence=inside,
        )
    )


def _leave(session: Session, world: World, cadre_id: int, village_id: int, start: date, end: date, status) -> None:  # type: ignore[no-untyped-def]
    session.add(
        LeaveRequest(
            cadre_id=cadre_id,
            village_id=village_id,
            start_on=start,
            end_on=end,
            reason="病假",
            status=status,
            requested_by_id=world.ids["user:cadre"],
        )
    )


def _visit(session: Session, world: World, cadre_id: int, household_id: int, village_id: int, at: datetime,
           kind: VisitKind = VisitKind.visit) -> None:  # fmt: skip
    session.add(
        Visit(
            cadre_id=cadre_id,
            author_id=world.ids["user:cadre"],
            household_id=household_id,
            village_id=village_id,
            kind=kind,
            at=at,
            local_date=to_local(at).date(),
            purpose="了解收入",
            findings="正常",
        )
    )


def _problem(session: Session, world: World, village_id: int, owner: int, deadline: date, closed: datetime | None):  # type: ignore[no-untyped-def]
    problem = Problem(
        village_id=village_id,
        source_type="visit",
        source_id=0,
        description="道路维修",
        owner_cadre_id=owner,
        deadline=deadline,
        status=ProblemStatus.closed if closed else ProblemStatus.open,
        raised_by_id=world.ids["user:cadre"],
        raised_at=utc("2025-02-01T02:00:00"),
        closed_at=closed,
        closing_evidence="已修好" if closed else None,
    )
    session.add(problem)
    session.flush()
    return problem.id


def _survey(session: Session, village: Village, template_id: int, period: str, satisfied: int, scored: int,
            cadre_id: int | None = None, frozen: bool = True) -> int:  # fmt: skip
    survey = Survey(
        county_id=village.town.county_id,
        village_id=village.id,
        template_id=template_id,
        target_kind=TargetKind.cadre if cadre_id else TargetKind.village_team,
        target_cadre_id=cadre_id,
        title="群众满意度测评",
        period=period,
        opens_at=utc("2025-03-20T00:00:00"),
        closes_at=utc("2025-03-30T00:00:00"),
        sampling=Sampling.all,
        sample_flag=SampleFlag.any,
        seed=1,
        eligible_count=scored,
        invited_count=scored,
        frozen_at=utc("2025-03-30T00:00:00") if frozen else None,
    )
    session.add(survey)
    session.flush()
    session.add(
        SurveyResult(
            survey_id=survey.id,
            invited=scored,
            phone_responses=scored,
            paper_responses=0,
            scored_answers=scored,
            satisfied_answers=satisfied,
            questions=[],
            is_final=frozen,
        )
    )
    session.flush()
    return survey.id


def build_march(session: Session, world: World) -> March:
    """V2's March 2025: a work team of two, a helper with four paired households, six problems, five surveys."""
    county = session.get_one(County, world.ids["C1"])
    village = session.get_one(Village, world.ids["V2"])
    v = village.id
    session.add(CadreWorkSettings(county_id=county.id, required_days=10, visits_required=2, visit_period_months=1))
    secretary = _cadre(session, county.id, v, Post.first_secretary, date(2025, 1, 1), "孙书记")
    member = _cadre(session, county.id, v, Post.team_member, date(2025, 3, 16), "周队员")
    helper = _cadre(session, county.id, v, Post.helper, date(2025, 1, 1), "吴帮扶")
    successor = _cadre(session, county.id, v, Post.helper, date(2025, 3, 11), "郑帮扶")

    # Secretary: on post 1 March (00:30 local), 3–8 March; 9 March only outside the fence; 1 April doesn't count.
    _checkin(session, secretary, v, utc("2025-02-28T16:30:00"))
    for day in range(3, 9):
        _checkin(session, secretary, v, utc(f"2025-03-{day:02d}T01:00:00"))
    _checkin(session, secretary, v, utc("2025-03-08T03:00:00"), inside=False)
    _checkin(session, secretary, v, utc("2025-03-09T01:00:00"), inside=False)
    _checkin(session, secretary, v, utc("2025-03-31T16:30:00"))
    # Approved leave 27 Feb – 2 Mar: 2 March is excused (1 March was on post anyway); the pending request is not.
    _leave(session, world, secretary, v, date(2025, 2, 27), date(2025, 3, 2), LeaveStatus.approved)
    _leave(session, world, secretary, v, date(2025, 3, 20), date(2025, 3, 21), LeaveStatus.pending)
    # Member from 16 March: 12 days on post, more than the 10 required.
    for day in range(17, 29):
        _checkin(session, member, v, utc(f"2025-03-{day:02d}T01:00:00"))
    # The helper checks in too, but is not on the work team.
    for day in range(1, 4):
        _checkin(session, helper, v, utc(f"2025-03-{day:02d}T01:00:00"))

    grid = session.scalars(select(Grid).where(Grid.village_id == v)).one()
    hh = {name: make_household(session, village, grid, f"1{n:02d}", poor=True).id for n, name in enumerate("ABCDE")}
    for name in "ABD":
        session.add(Pairing(cadre_id=helper, household_id=hh[name], start_on=date(2025, 1, 1)))
    session.add(Pairing(cadre_id=helper, household_id=hh["C"], start_on=date(2025, 1, 1), end_on=date(2025, 3, 10)))
    session.add(Pairing(cadre_id=successor, household_id=hh["C"], start_on=date(2025, 3, 11)))
    # A: two visits → met. B: one in March; 28 Feb and 1 April (local) don't count → short.
    _visit(session, world, helper, hh["A"], v, utc("2025-03-05T02:00:00"))
    _visit(session, world, helper, hh["A"], v, utc("2025-03-20T02:00:00"))
    _visit(session, world, helper, hh["B"], v, utc("2025-03-05T02:00:00"))
    _visit(session, world, helper, hh["B"], v, utc("2025-02-28T15:00:00"))
    _visit(session, world, helper, hh["B"], v, utc("2025-03-31T16:30:00"))
    # C: the successor answers for March (helper's early visits don't count for them) and visited twice → met.
    _visit(session, world, helper, hh["C"], v, utc("2025-03-02T02:00:00"))
    _visit(session, world, helper, hh["C"], v, utc("2025-03-05T02:00:00"))
    _visit(session, world, successor, hh["C"], v, utc("2025-03-15T02:00:00"))
    _visit(session, world, successor, hh["C"], v, utc("2025-03-25T02:00:00"))
    # D: two phone contacts are not visits → short. E: visited but not paired → not counted.
    _visit(session, world, helper, hh["D"], v, utc("2025-03-05T02:00:00"), VisitKind.contact)
    _visit(session, world, helper, hh["D"], v, utc("2025-03-06T02:00:00"), VisitKind.contact)
    _visit(session, world, helper, hh["E"], v, utc("2025-03-06T02:00:00"))

    problems = {
        "early": _problem(session, world, v, helper, date(2025, 3, 1), utc("2025-02-28T10:00:00")),
        "last_minute": _problem(session, world, v, helper, date(2025, 3, 15), utc("2025-03-15T15:59:00")),
        "a_minute_late": _problem(session, world, v, helper, date(2025, 3, 15), utc("2025-03-15T16:01:00")),
        "open": _problem(session, world, v, helper, date(2025, 3, 31), None),
        "due_in_april": _problem(session, world, v, helper, date(2025, 4, 1), utc("2025-03-02T02:00:00")),
        "due_in_february": _problem(session, world, v, helper, date(2025, 2, 28), None),
    }

    template = install_preset(session, county.id, "village_team_quarterly")
    _survey(session, village, template.id, "2025-Q1", 45, 60)
    _survey(session, village, template.id, "2025-03", 15, 20)
    _survey(session, village, template.id, "2025-Q2", 0, 50)  # another quarter
    _survey(session, village, template.id, "2025-Q1", 0, 50, frozen=False)  # still open: provisional
    _survey(session, village, template.id, "2025-Q1", 9, 10, cadre_id=secretary)
    session.flush()
    return March(secretary, member, helper, successor, hh, problems)


@pytest.fixture
def march(app: Flask, world: World, database) -> March:  # type: ignore[no-untyped-def]
    with database() as s:
        return build_march(s, world)


def one(session: Session, key: str, subject: Subject, period: Period = MARCH) -> dict:  # type: ignore[type-arg]
    return gather(session, {key}, subject, period)[key]


def test_attendance_counts_team_days_on_post_against_required_days_less_approved_leave(
    world: World, march: March, database
) -> None:
    village = Subject("village", world.ids["V2"], world.ids["V2"])
    with database() as s:
        team = one(s, "attendance_rate", village)
        own = one(s, "attendance_rate", Subject("cadre", march.secretary, world.ids["V2"]))
        nobody = one(
            s, "attendance_rate", Subject("village", world.ids["V1"], world.ids["V1"]), Period.month("2024-03")
        )
    # Secretary: 7 days on post of 10 − 1 leave day = 9; member: 12 of 10, capped at 10. The helper is not counted.
    assert team["value"] == round(17 / 19, 4)
    assert own["value"] == round(7 / 9, 4)
    checkins, leave = team["sources"]
    assert (checkins["type"], checkins["count"], leave["type"], leave["count"]) == ("checkin", 19, "leave_request", 1)
    assert f"cadre∈{{{march.secretary},{march.member}}} 2025-03" in checkins["query"], "the helper is not on the team"
    assert nobody == {"available": False}, "no work team posted that month: no data, the raters enter it"


def test_visit_coverage_counts_paired_households_whose_helper_met_the_county_rule(
    world: World, march: March, database
) -> None:
    with database() as s:
        found = one(s, "visit_coverage_rate", Subject("village", world.ids["V2"], world.ids["V2"]))
        as_cadre = one(s, "visit_coverage_rate", Subject("cadre", march.secretary, world.ids["V2"]))
    assert found["value"] == 0.5, "A and C met the rule of two visits; B and D did not; E is not paired"
    pairing, short = found["sources"]
    assert pairing["count"] == 4
    assert (short["type"], short["ids"]) == ("household", sorted([march.households["B"], march.households["D"]]))
    assert as_cadre["value"] == 0.5, "the first secretary answers for the village's coverage"


def test_half_year_attendance_and_coverage_add_up_the_six_months(world: World, march: March, database) -> None:
    village = Subject("village", world.ids["V2"], world.ids["V2"])
    half = Period.half_year("2025-H1")
    with database() as s:
        team = one(s, "attendance_rate", village, half)
        own = one(s, "attendance_rate", Subject("cadre", march.secretary, world.ids["V2"]), half)
        coverage = one(s, "visit_coverage_rate", village, half)
    # Secretary, days on post of required (10 a month less approved leave): Jan 0/10, Feb 0/8 (27–28 Feb on
    # leave), Mar 7/9, Apr 1/10 (00:30 local on 1 April), May 0/10, Jun 0/10. Member from March: 10/10 (12 capped),
    # then 0/10 three times.
    assert own["value"] == round(8 / 57, 4)
    assert team["value"] == round((8 + 10) / (57 + 40), 4)
    # Household-months: four paired households each month; only A and C in March met the rule.
    assert coverage["value"] == round(2 / 24, 4)
    pairing, short = coverage["sources"]
    assert pairing["count"] == 24
    assert short["ids"] == sorted(march.households[name] for name in "ABCD"), "each was short in some month"


def test_problem_closure_counts_problems_due_in_the_month_closed_by_their_local_deadline(
    world: World, march: March, database
) -> None:
    with database() as s:
        found = one(s, "problem_closure_rate", Subject("village", world.ids["V2"], world.ids["V2"]))
        quiet = one(
            s, "problem_closure_rate", Subject("village", world.ids["V2"], world.ids["V2"]), Period.month("2025-06")
        )
    p = march.problems
    assert found["value"] == 0.5
    due, late = found["sources"]
    assert due["ids"] == sorted([p["early"], p["last_minute"], p["a_minute_late"], p["open"]])
    assert late["ids"] == sorted([p["a_minute_late"], p["open"]]), "closed at 00:01 local the next day is late"
    assert quiet == {"available": False}, "nothing due: no data"


def test_satisfaction_is_the_frozen_result_of_the_months_surveys_per_team_and_per_cadre(
    world: World, march: March, database
) -> None:
    with database() as s:
        team = one(s, "survey_satisfaction_rate", Subject("village", world.ids["V2"], world.ids["V2"]))
        cadre = one(s, "survey_satisfaction_rate", Subject("cadre", march.secretary, world.ids["V2"]))
        other = one(s, "survey_satisfaction_rate", Subject("cadre", march.member, world.ids["V2"]))
        half = one(s, "survey_satisfaction_rate", Subject("village", world.ids["V2"], world.ids["V2"]),
                   Period.half_year("2025-H1"))  # fmt: skip
    assert team["value"] == 0.75, "Q1 (45/60) and March (15/20); not Q2, not the open survey, not the cadre's"
    assert team["sources"][0]["type"] == "survey_result" and team["sources"][0]["count"] == 80
    assert len(team["sources"][0]["ids"]) == 2
    assert cadre["value"] == 0.9 and other == {"available": False}
    assert half["value"] == round(60 / 130, 4), "the half year takes in Q2 as well"


def test_batch_form_gives_the_same_values_as_one_village_at_a_time(world: World, march: March, database) -> None:
    subjects = [Subject("village", world.ids[v], world.ids[v]) for v in ("V1", "V2")]
    load_inputs()
    with database() as s:
        for key in ("attendance_rate", "visit_coverage_rate", "problem_closure_rate", "survey_satisfaction_rate"):
            batch = MANY[key](s, subjects, MARCH)
            assert {subject: batch.get(subject) for subject in subjects} == {
                subject: MANY[key](s, [subject], MARCH).get(subject) for subject in subjects
            }, key


def test_compiled_stars_take_their_scores_from_the_records_and_the_sheet_shows_them(
    app: Flask, world: World, march: March, database, admin
) -> None:
    with database() as s:
        install_world_schemes(s, world)
    compile_now(app, world.ids["C1"], MONTH)
    with database() as s:
        sheet = results(s, SchemeKind.ten_star, MONTH)[world.ids["V2"]]
        stars = {i["code"]: i for i in sheet.detail["indicators"]}
        ranking = {i["code"]: i for i in results(s, SchemeKind.ranking, MONTH)[world.ids["V2"]].detail["indicators"]}
        marks = {
            i["code"]: i["score"]
            for i in results(s, SchemeKind.hundred_point, MONTH)[march.secretary].detail["indicators"]
        }
    assert (stars["S01"]["origin"], stars["S01"]["score"], stars["S01"]["lit"]) == ("auto", 8.95, True)
    assert (stars["S04"]["origin"], stars["S04"]["score"], stars["S04"]["lit"]) == ("auto", 5.0, False)
    assert (stars["S06"]["score"], stars["S09"]["score"]) == (5.0, 7.5)
    assert [ranking[c]["score"] for c in ("R01", "R02", "R03", "R04")] == [17.89, 10.0, 10.0, 15.0]
    assert (marks["D01"], marks["M01"], marks["W03"], marks["W06"]) == (7.78, 18.0, 7.5, 5.0)

    page = admin("county_admin").get(f"/admin/ratings/villages/{world.ids['V2']}?month={MONTH}").get_data(as_text=True)
    assert "在岗率（考勤打卡）：89%" in page and "checkin cadre∈" in page
    assert "走访覆盖率：50%" in page and f"#{march.households['B']}, #{march.households['D']}" in page
    assert f"#{march.problems['a_minute_late']}, #{march.problems['open']}" in page
    assert "群众满意率（问卷）：75%" in page and "survey_result" in page
