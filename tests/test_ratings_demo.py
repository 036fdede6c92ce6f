"""The demo county comes with twelve compiled months, so every ratings board has something to show."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from backend.db import db
from backend.demo.county import DemoSummary
from backend.ratings.models import CompileRun, RatingAlert, RatingResult, Rectification, RunStatus, SchemeKind


def test_demo_county_has_twelve_months_of_every_board(app: Flask, demo_county: DemoSummary) -> None:
    with app.app_context():
        s = db.session
        runs = s.scalars(select(CompileRun).order_by(CompileRun.month)).all()
        assert len(runs) == 12 and {r.status for r in runs} == {RunStatus.finished}
        per_kind = dict(s.execute(select(RatingResult.kind, func.count()).group_by(RatingResult.kind)).all())
        assert per_kind[SchemeKind.ten_star] == 12 * 12 and per_kind[SchemeKind.ranking] == 12 * 12
        assert per_kind[SchemeKind.hundred_point] == 12 * 12 and per_kind[SchemeKind.party_member] == 12 * 72
        assert per_kind[SchemeKind.thousand_point] >= 12, "at least one half year closed in the last twelve months"
        grades = set(s.scalars(select(RatingResult.grade).where(RatingResult.kind == SchemeKind.ten_star)))
        assert grades == {"优秀", "良好", "差"}
        assert set(s.scalars(select(RatingAlert.kind).distinct())) >= {"accountability", "commendation", "interview"}
        assert s.scalar(select(func.count()).select_from(Rectification)) > 0
        red_flags = s.scalars(select(RatingResult.flags).where(RatingResult.kind == SchemeKind.ranking)).all()
        assert sum("red_flag" in flags for flags in red_flags) >= 12
        latest = s.scalars(
            select(RatingResult).where(RatingResult.kind == SchemeKind.ten_star, RatingResult.period == runs[-1].month)
        ).all()
        origins = {(i["code"], i["origin"]) for r in latest for i in r.detail["indicators"]}
        assert {("S01", "auto"), ("S04", "auto"), ("S06", "auto")} <= origins, (
            "stars scored from the cadre-work records"
        )
        assert all(r.detail["inputs"]["attendance_rate"]["sources"][0]["count"] > 0 for r in latest)
        secretaries = s.scalars(select(RatingResult).where(RatingResult.kind == SchemeKind.hundred_point)).all()
        satisfaction = [i["origin"] for r in secretaries for i in r.detail["indicators"] if i["code"] == "M01"]
        assert "auto" in satisfaction, "last quarter's frozen survey scores the first secretaries' 群众评价"
        db.session.remove()
