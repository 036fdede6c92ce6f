"""Compiling a county's month: results per village and first secretary, re-runs, versions, alerts, rectification."""

from __future__ import annotations

from datetime import date

from flask import Flask
from sqlalchemy import func, select

from backend.db import db
from backend.ratings.compile import compile_month
from backend.ratings.models import (
    AlertKind,
    CompileRun,
    RatingAlert,
    RatingResult,
    Rectification,
    RectificationOrigin,
    RunStatus,
    SchemeKind,
)
from backend.timeutil import today_local
from backend.transaction import unit_of_work
from tests.factories import World
from tests.factories_ratings import enter, install_world_schemes, results, snapshot, star_scores

MONTH = f"{today_local():%Y-%m}"


def compile_now(app: Flask, county_id: int, month: str) -> int:
    with app.app_context():
        with unit_of_work(db.session) as s:
            run_id = compile_month(s, county_id, month).run.id
        db.session.remove()
    return run_id


def test_compile_rates_every_village_and_first_secretary_of_the_county(app: Flask, world: World, database) -> None:
    with database() as s:
        install_world_schemes(s, world)
        enter(s, world.ids["V1"], MONTH, star_scores(lost=0))
        enter(s, world.ids["V2"], MONTH, star_scores(lost=2))
        enter(s, world.ids["V3"], MONTH, star_scores(lost=5))

    run_id = compile_now(app, world.ids["C1"], MONTH)

    with database() as s:
        stars = results(s, SchemeKind.ten_star, MONTH)
        assert {world.ids[v]: (stars[world.ids[v]].stars, stars[world.ids[v]].grade) for v in ("V1", "V2", "V3")} == {
            world.ids["V1"]: (10, "优秀"),
            world.ids["V2"]: (8, "良好"),
            world.ids["V3"]: (5, "差"),
        }
        assert world.ids["V4"] not in stars, "another county's village is not compiled with C1"
        [secretary] = results(s, SchemeKind.hundred_point, MONTH).values()
        assert secretary.subject_id == world.ids["cadre"] and secretary.village_id == world.ids["V1"]
        run = s.get(CompileRun, run_id)
        assert (run.status, run.units_done, run.units_total) == (RunStatus.finished, 2, 2)
        assert run.counts["ten_star"] == 3 and run.finished_at is not None
        v1 = stars[world.ids["V1"]]
        s03 = next(i for i in v1.detail["indicators"] if i["code"] == "S03")
        assert s03["input"] == "points_activity_rate" and v1.detail["inputs"]["points_activity_rate"]["available"]
        assert v1.detail["inputs"]["attendance_rate"]["sources"][0]["type"] == "checkin", "V1 has a work team"
        assert stars[world.ids["V2"]].detail["inputs"]["attendance_rate"] == {"available": False}, "V2 has none"


def test_a_rerun_gives_the_same_rows_and_an_upheld_objection_shows_in_the_diff(
    app: Flask, world: World, database
) -> None:
    with database() as s:
        install_world_schemes(s, world)
        enter(s, world.ids["V2"], MONTH, star_scores(lost=2))
    compile_now(app, world.ids["C1"], MONTH)
    with database() as s:
        first = snapshot(s)

    again = compile_now(app, world.ids["C1"], MONTH)
    with database() as s:
        assert snapshot(s) == first
        assert s.get(CompileRun, again).diff == []
        # The objection is upheld: the town restores star S01 of V2.
        enter(s, world.ids["V2"], MONTH, {"item:S01": 9.0}, stage="town", reason="复核后补充考勤记录")

    fixed = compile_now(app, world.ids["C1"], MONTH)

    with database() as s:
        run = s.get(CompileRun, fixed)
        key = f"ten_star:village:{world.ids['V2']}:{MONTH}"
        [change] = [c for c in run.diff if c["key"] == key]
        assert (change["before"][1], change["after"][1]) == (8, 9)
        assert s.scalar(select(func.count()).select_from(RatingResult)) == len(first)


def test_a_month_keeps_the_scheme_version_in_force_then(app: Flask, world: World, database) -> None:
    from backend.ratings.presets import PRESETS
    from backend.ratings.schemes import create_scheme_version

    earlier, later = "2025-03", "2025-04"
    with database() as s:
        install_world_schemes(s, world)
        for month in (earlier, later):
            enter(s, world.ids["V1"], month, star_scores() | {"item:S01": 8.5})
    compile_now(app, world.ids["C1"], earlier)
    with database() as s:
        before = results(s, SchemeKind.ten_star, earlier)[world.ids["V1"]]
        assert (before.stars, before.detail["scheme"]["version"]) == (10, 1)
        stricter = dict(PRESETS["ziyang_ten_star"]["definition"], star_ratio=0.9)
        create_scheme_version(
            s, world.ids["C1"], stricter, title="十星级评定（2025修订）", effective_from=date(2025, 4, 1)
        )

    compile_now(app, world.ids["C1"], earlier)
    compile_now(app, world.ids["C1"], later)

    with database() as s:
        again = results(s, SchemeKind.ten_star, earlier)[world.ids["V1"]]
        after = results(s, SchemeKind.ten_star, later)[world.ids["V1"]]
        assert (again.stars, again.detail["scheme"]["version"]) == (10, 1)
        assert (after.stars, after.detail["scheme"]["version"]) == (9, 2), "8.5 is below 90% of 10"


def test_streaks_across_new_year_raise_accountability_and_commendation(app: Flask, world: World, database) -> None:
    with database() as s:
        install_world_schemes(s, world)
        for month in ("2025-12", "2026-01"):
            enter(s, world.ids["V1"], month, star_scores(lost=4))  # 6 stars twice
            enter(s, world.ids["V2"], month, star_scores(lost=1))  # 9 stars twice
        enter(s, world.ids["V3"], "2025-12", star_scores(lost=5))
        enter(s, world.ids["V3"], "2026-01", star_scores(lost=0))  # recovered: no streak
    compile_now(app, world.ids["C1"], "2025-12")
    compile_now(app, world.ids["C1"], "2026-01")

    with database() as s:
        alerts = {(a.kind, a.village_id, a.period) for a in s.scalars(select(RatingAlert))}
        assert alerts == {
            (AlertKind.accountability, world.ids["V1"], "2026-01"),
            (AlertKind.commendation, world.ids["V2"], "2026-01"),
        }


def test_low_satisfaction_raises_an_interview_alert(app: Flask, world: World, database) -> None:
    with database() as s:
        install_world_schemes(s, world)
        enter(s, world.ids["V1"], MONTH, star_scores(satisfaction=6.9))
        enter(s, world.ids["V2"], MONTH, star_scores(satisfaction=7.0))
    compile_now(app, world.ids["C1"], MONTH)
    with database() as s:
        [alert] = s.scalars(select(RatingAlert)).all()
        assert (alert.kind, alert.village_id) == (AlertKind.interview, world.ids["V1"])
        assert "69%" in alert.message


def test_lost_stars_and_vetoes_become_rectification_items_that_survive_reruns(
    app: Flask, world: World, database
) -> None:
    from backend.auth.models import User
    from backend.auth.scope import scope_for
    from backend.ratings.service import close_rectification

    with database() as s:
        install_world_schemes(s, world)
        enter(s, world.ids["V1"], MONTH, star_scores(lost=1) | {"veto:S05V1": 1.0})
    compile_now(app, world.ids["C1"], MONTH)
    with database() as s:
        items = {
            (r.origin, r.origin_code): r
            for r in s.scalars(select(Rectification).where(Rectification.village_id == world.ids["V1"]))
        }
        assert set(items) == {(RectificationOrigin.lost_star, "S01"), (RectificationOrigin.veto, "S05")}
        assert items[(RectificationOrigin.veto, "S05")].deadline > today_local().replace(day=1)
        user = s.get(User, world.ids["user:town_admin"])
        close_rectification(
            s, scope_for(s, user), user, items[(RectificationOrigin.lost_star, "S01")].id, "补齐考勤，镇复核通过"
        )

    compile_now(app, world.ids["C1"], MONTH)

    with database() as s:
        rows = s.scalars(select(Rectification).where(Rectification.village_id == world.ids["V1"])).all()
        assert len(rows) == 2
        closed = next(r for r in rows if r.origin_code == "S01")
        assert closed.closed and closed.evidence == "补齐考勤，镇复核通过"


def test_a_transient_database_error_is_retried_and_a_real_error_is_shown_on_the_run(
    app: Flask, world: World, database, monkeypatch
) -> None:
    from sqlalchemy.exc import OperationalError

    from backend.ratings import compile as ratings_compile

    real = ratings_compile.compile_villages
    calls: list[int] = []

    def flaky(session, county_id, month, villages, *args):  # type: ignore[no-untyped-def]
        calls.append(villages[0].town_id)
        if len(calls) == 1:
            raise OperationalError("UPDATE ...", {}, Exception("deadlock detected"))
        if villages[0].town_id == world.ids["T2"]:
            raise ValueError("方案定义缺少指标")
        return real(session, county_id, month, villages, *args)

    with database() as s:
        install_world_schemes(s, world)
    monkeypatch.setattr(ratings_compile, "compile_villages", flaky)

    run_id = compile_now(app, world.ids["C1"], MONTH)

    with database() as s:
        run = s.get(CompileRun, run_id)
        assert calls == [world.ids["T1"], world.ids["T1"], world.ids["T2"]], "T1 retried once, T2 not retried"
        assert run.status == RunStatus.failed and run.finished_at is not None
        assert run.errors == ["ValueError: 方案定义缺少指标"]
        assert set(results(s, SchemeKind.ten_star, MONTH)) == {world.ids["V1"], world.ids["V2"]}


def test_a_real_error_is_recorded_on_the_run_and_fails_the_town_job(
    app: Flask, world: World, database, monkeypatch
) -> None:
    from backend.jobs import runner
    from backend.jobs.models import OutboxJob
    from backend.jobs.tasks import RecordedError
    from backend.ratings import compile as ratings_compile
    from backend.ratings.models import CompileUnit

    real = ratings_compile.compile_villages

    def broken_in_t2(session, county_id, month, villages, *args):  # type: ignore[no-untyped-def]
        if villages[0].town_id == world.ids["T2"]:
            raise ValueError("方案定义缺少指标")
        return real(session, county_id, month, villages, *args)

    real_execute = runner.execute
    outcomes: dict[tuple[str, int | None], BaseException | None] = {}

    def watched(task, kwargs, outbox_id=None):  # type: ignore[no-untyped-def]
        key = (task, kwargs.get("town_id"))
        try:
            result = real_execute(task, kwargs, outbox_id)
        except BaseException as exc:
            outcomes[key] = exc
            raise
        outcomes[key] = None
        return result

    with database() as s:
        install_world_schemes(s, world)
    monkeypatch.setattr(ratings_compile, "compile_villages", broken_in_t2)
    monkeypatch.setattr(runner, "execute", watched)

    run_id = compile_now(app, world.ids["C1"], MONTH)

    # The town's job failed (what RQ marks failed), with the original error as its cause ...
    failed = outcomes[("ratings.compile_town", world.ids["T2"])]
    assert isinstance(failed, RecordedError) and isinstance(failed.__cause__, ValueError)
    assert outcomes[("ratings.compile_town", world.ids["T1"])] is None
    assert outcomes[("ratings.finalize", None)] is None
    with database() as s:
        # ... and its error was kept: on the unit, which counts as done, and on the finished run.
        units = {u.town_id: u for u in s.scalars(select(CompileUnit).where(CompileUnit.run_id == run_id))}
        assert units[world.ids["T2"]].error == "ValueError: 方案定义缺少指标"
        assert units[world.ids["T2"]].finished_at is not None and units[world.ids["T1"]].error is None
        run = s.get(CompileRun, run_id)
        assert (run.status, run.units_done, run.errors) == (RunStatus.failed, 2, ["ValueError: 方案定义缺少指标"])
        assert run.finished_at is not None
        # Not left in the outbox for the sweep to run again: the failure is recorded, a rerun is the admin's call.
        assert s.scalar(select(func.count()).select_from(OutboxJob).where(OutboxJob.dispatched_at.is_(None))) == 0
        assert set(results(s, SchemeKind.ten_star, MONTH)) == {world.ids["V1"], world.ids["V2"]}


def test_a_run_whose_finish_failed_is_finished_by_the_next_compile(
    app: Flask, world: World, database, monkeypatch
) -> None:
    from backend.jobs.tasks import TASKS, load_all_tasks

    load_all_tasks()
    with database() as s:
        install_world_schemes(s, world)
    real = TASKS["ratings.finalize"]

    def crash(session, run_id):  # type: ignore[no-untyped-def]
        raise RuntimeError("worker lost")

    monkeypatch.setitem(TASKS, "ratings.finalize", crash)
    run_id = compile_now(app, world.ids["C1"], MONTH)
    with database() as s:
        run = s.get(CompileRun, run_id)
        assert (run.finished_at, run.units_done, run.units_total) == (None, 2, 2)

    monkeypatch.setitem(TASKS, "ratings.finalize", real)
    again = compile_now(app, world.ids["C1"], MONTH)

    with database() as s:
        run = s.get(CompileRun, again)
        assert again == run_id and run.attempt == 2 and run.status == RunStatus.finished
        assert s.scalar(select(func.count()).select_from(CompileRun)) == 1


def test_the_excellence_quota_caps_first_secretaries_county_wide_and_holds_when_one_village_is_recompiled(
    app: Flask, world: World, database
) -> None:
    from backend.org.models import County, Post, Village
    from backend.ratings.compile import compile_villages, finalize_month, village_rows
    from backend.ratings.presets import PRESETS
    from backend.ratings.schemes import create_scheme_version
    from tests.factories import make_cadre

    full = {"W01": 10, "W02": 5, "W03": 15, "W04": 5, "W05": 5, "W06": 10, "W07": 10, "M01": 20, "D01": 10, "E01": 10}
    with database() as s:
        install_world_schemes(s, world)
        # A third of the county's first secretaries may be 优秀 here (the preset says a fifth: schemes are data).
        definition = dict(PRESETS["baoji_first_secretary"]["definition"])
        definition["quota"] = dict(definition["quota"], share=0.34)
        create_scheme_version(
            s, world.ids["C1"], definition, title="第一书记考核（三分之一）", effective_from=date(2020, 1, 1)
        )
        county = s.get(County, world.ids["C1"])
        second = make_cadre(s, county, "孙第一", s.get(Village, world.ids["V2"]), Post.first_secretary).id
        third = make_cadre(s, county, "李第一", s.get(Village, world.ids["V3"]), Post.first_secretary).id
        # 100, 97 and 95 points: all three reach 优秀 before the quota, which admits one of three.
        for cadre_id, evaluation in ((world.ids["cadre"], 10), (second, 7), (third, 5)):
            scores = {f"item:{code}": value for code, value in (full | {"E01": evaluation}).items()}
            enter(s, cadre_id, MONTH, scores, subject_type="cadre")

    compile_now(app, world.ids["C1"], MONTH)

    def graded(s) -> dict[int, tuple[float, str, bool]]:  # type: ignore[no-untyped-def]
        found = results(s, SchemeKind.hundred_point, MONTH)
        return {k: (r.score, r.grade, "quota_capped" in r.flags) for k, r in found.items()}

    expected = {world.ids["cadre"]: (100, "优秀", False), second: (97, "称职", True), third: (95, "称职", True)}
    with database() as s:
        assert graded(s) == expected
        assert all(
            r.detail["grade_before_quota"] == "优秀" for r in results(s, SchemeKind.hundred_point, MONTH).values()
        )

    # A town rating of V3 re-evaluates that village alone, then the county-wide steps: the second secretary, capped
    # by the first finish and not recompiled now, is still a contender at the grade they earned.
    with database() as s:
        v3 = village_rows(s, MONTH, ids=[world.ids["V3"]])
        compile_villages(s, world.ids["C1"], MONTH, v3)
        finalize_month(s, world.ids["C1"], MONTH)
    with database() as s:
        assert graded(s) == expected
