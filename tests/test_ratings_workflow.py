"""The star sheet workflow (村创星 → 镇评星 → 县核星), scope of the ratings pages' data, the CLI and the schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from backend.auth.models import User
from backend.auth.scope import scope_for
from backend.db import db
from backend.errors import Conflict, Forbidden, InvalidRequest, NotInScope
from backend.jobs import schedule
from backend.jobs.schedule import SCHEDULE, run_due
from backend.ratings import queries, service
from backend.ratings.models import CompileRun, RunStatus, SchemeKind, SheetStage
from backend.timeutil import today_local
from backend.transaction import unit_of_work
from tests.factories import World
from tests.factories_ratings import enter, install_world_schemes, results, star_scores

MONTH = f"{today_local().replace(day=1) - timedelta(days=1):%Y-%m}"
FULL = {f"S{n:02d}": 10.0 for n in range(1, 11)}


def as_user(s, world: World, name: str):  # type: ignore[no-untyped-def]
    user = s.get(User, world.ids[f"user:{name}"])
    return scope_for(s, user), user


def test_village_self_assesses_town_adjusts_with_reason_county_overrides_after_a_visit(world: World, database) -> None:
    v1 = world.ids["V1"]
    with database() as s:
        install_world_schemes(s, world)
        sheet = service.self_assess(
            s, *as_user(s, world, "reviewer"), v1, MONTH, scores=FULL, vetoes=set(), note="本月全部达标"
        )
        assert sheet.stage == SheetStage.self_assessed
        assert results(s, SchemeKind.ten_star, MONTH)[v1].stars == 10

    with database() as s:
        with pytest.raises(InvalidRequest) as no_reason:
            service.town_rate(
                s, *as_user(s, world, "town_admin"), v1, MONTH, adjustments={"S04": (6.0, " ")}, vetoes=set()
            )
        assert no_reason.value.errors == {"S04": ["请填写调整理由"]}
        service.town_rate(
            s, *as_user(s, world, "town_admin"), v1, MONTH, adjustments={"S04": (6.0, "走访台账缺12户")}, vetoes=set()
        )
        rated = results(s, SchemeKind.ten_star, MONTH)[v1]
        s04 = next(i for i in rated.detail["indicators"] if i["code"] == "S04")
        assert (rated.stars, s04["origin"], s04["reason"]) == (9, "town", "走访台账缺12户")

    with database() as s:
        with pytest.raises(InvalidRequest):
            service.county_verify(
                s,
                *as_user(s, world, "county_admin"),
                v1,
                MONTH,
                overrides={"S10": 5.0},
                vetoes=set(),
                visit_on=None,
                findings="",
            )
        sheet = service.county_verify(
            s,
            *as_user(s, world, "county_admin"),
            v1,
            MONTH,
            overrides={"S10": 5.0},
            vetoes={"S07V1"},
            visit_on=today_local(),
            findings="暗访发现创新项目停滞",
        )
        assert (sheet.stage, sheet.findings) == (SheetStage.county_verified, "暗访发现创新项目停滞")
        final = results(s, SchemeKind.ten_star, MONTH)[v1]
        assert (final.stars, final.grade) == (7, "良好")
        view = queries.village_rating(s, as_user(s, world, "county_admin")[0], v1, MONTH)
        s10 = next(star for star in view.stars if star.code == "S10")
        assert s10.stages == {"self": 10.0, "county": 5.0} and not s10.lit and s10.origin == "county"
        assert {r.origin_code for r in view.rectifications} == {"S04", "S07", "S10"}


def test_the_workflow_keeps_its_order_and_its_roles(world: World, database) -> None:
    v1 = world.ids["V1"]
    with database() as s:
        install_world_schemes(s, world)
        with pytest.raises(Conflict):
            service.town_rate(s, *as_user(s, world, "town_admin"), v1, MONTH, adjustments={}, vetoes=set())
        with pytest.raises(NotInScope):
            service.self_assess(s, *as_user(s, world, "reviewer_other"), v1, MONTH, scores=FULL, vetoes=set(), note="")
        with pytest.raises(Forbidden):
            service.self_assess(s, *as_user(s, world, "town_admin"), v1, MONTH, scores=FULL, vetoes=set(), note="")
        with pytest.raises(InvalidRequest):
            service.self_assess(
                s, *as_user(s, world, "reviewer"), v1, MONTH, scores={"S01": 11.0}, vetoes=set(), note=""
            )
        service.self_assess(s, *as_user(s, world, "reviewer"), v1, MONTH, scores=FULL, vetoes=set(), note="")
        with pytest.raises(NotInScope):
            service.town_rate(s, *as_user(s, world, "town_admin_other"), v1, MONTH, adjustments={}, vetoes=set())
        service.town_rate(s, *as_user(s, world, "town_admin"), v1, MONTH, adjustments={}, vetoes=set())
        with pytest.raises(Conflict):
            service.self_assess(s, *as_user(s, world, "reviewer"), v1, MONTH, scores=FULL, vetoes=set(), note="")


def compile_inline(app: Flask, world: World, database) -> None:  # type: ignore[no-untyped-def]
    from backend.ratings.compile import compile_month

    with database() as s:
        install_world_schemes(s, world)
        for v in ("V1", "V2", "V3", "V4"):
            enter(s, world.ids[v], MONTH, star_scores())
    for county in ("C1", "C2"):
        with app.app_context():
            with unit_of_work(db.session) as s:
                compile_month(s, world.ids[county], MONTH)
            db.session.remove()


def test_a_town_admin_sees_only_the_villages_of_their_town(app: Flask, world: World, database) -> None:
    compile_inline(app, world, database)
    with database() as s:
        board = lambda name: {r.result.village_id for r in queries.star_board(s, as_user(s, world, name)[0], MONTH)}  # noqa: E731
        assert board("town_admin") == {world.ids["V1"], world.ids["V2"]}
        assert board("town_admin_other") == {world.ids["V3"]}
        assert board("county_admin") == {world.ids["V1"], world.ids["V2"], world.ids["V3"]}
        assert board("county_admin_other") == {world.ids["V4"]}
        assert board("reviewer") == {world.ids["V1"]}
        with pytest.raises(NotInScope):
            queries.village_rating(s, as_user(s, world, "town_admin_other")[0], world.ids["V1"], MONTH)
        secretaries = queries.secretary_table(s, as_user(s, world, "county_admin_other")[0], MONTH)
        assert secretaries.rows == []
        assert [r.county_id for r in queries.run_list(s, as_user(s, world, "town_admin")[0])] == [world.ids["C1"]]


def test_flask_compile_compiles_a_county_month_by_code(app: Flask, world: World, database) -> None:
    with database() as s:
        install_world_schemes(s, world)
    out = app.test_cli_runner().invoke(args=["compile", "--county", "610999", "--month", MONTH])
    assert out.exit_code == 0, out.output
    assert "2 town job(s) enqueued" in out.output
    with database() as s:
        [run] = s.scalars(select(CompileRun)).all()
        assert (run.county_id, run.month, run.status) == (world.ids["C1"], MONTH, RunStatus.finished)
    bad = app.test_cli_runner().invoke(args=["compile", "--county", "999999", "--month", MONTH])
    assert bad.exit_code != 0


def test_month_end_schedule_compiles_the_month_just_ended_in_beijing_time(
    app: Flask, world: World, database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from backend.jobs.tasks import load_all_tasks

    load_all_tasks()
    monkeypatch.setattr(schedule, "SCHEDULE", {"ratings-month-end": SCHEDULE["ratings-month-end"]})
    with database() as s:
        install_world_schemes(s, world)
    with app.app_context():
        with unit_of_work(db.session) as s:
            # 2026-11-30 16:30 UTC is 00:30 on 1 December in Beijing: November has just ended.
            job_ids = run_due(s, datetime(2026, 11, 30, 16, 30, tzinfo=UTC))
        db.session.remove()
    assert job_ids == ["ratings-month-end-202612010030"]
    with database() as s:
        runs = {(r.county_id, r.month, r.status) for r in s.scalars(select(CompileRun))}
        assert runs == {
            (world.ids["C1"], "2026-11", RunStatus.finished),
            (world.ids["C2"], "2026-11", RunStatus.finished),
        }


def test_a_second_stage_in_the_same_session_shows_the_new_scores_not_the_cached_ones(world: World, database) -> None:
    v1 = world.ids["V1"]
    with database() as s:
        install_world_schemes(s, world)
        service.self_assess(s, *as_user(s, world, "reviewer"), v1, MONTH, scores=FULL, vetoes=set(), note="")
        assert queries.village_rating(s, as_user(s, world, "reviewer")[0], v1, MONTH).result.stars == 10
        service.town_rate(
            s, *as_user(s, world, "town_admin"), v1, MONTH, adjustments={"S01": (5.0, "缺勤")}, vetoes=set()
        )
        view = queries.village_rating(s, as_user(s, world, "town_admin")[0], v1, MONTH)
        assert view.result.stars == 9 and view.stars[0].origin == "town"
