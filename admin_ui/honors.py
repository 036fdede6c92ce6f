"""积分排名 page: a village's monthly / quarterly / annual ranking with star bands; Excel export."""

from __future__ import annotations

from flask import render_template, request
from werkzeug.wrappers import Response

from admin_ui.access import admin_required, bp, choice_arg, current_scope, int_arg, nav_item, text_arg
from admin_ui.export import wants_xlsx, xlsx_response
from backend.db import db
from backend.org.queries import village_choices
from backend.points import honors
from backend.timeutil import today_local

nav_item("admin.rankings", "积分排名", "points", 55)

KIND_LABELS = {"month": "月度", "quarter": "季度", "year": "年度"}


@bp.get("/rankings")
@admin_required
def rankings() -> str | Response:
    scope = current_scope()
    choices = village_choices(db.session, scope)
    village_id = int_arg("village") or (choices[0][0] if choices else None)
    kind = choice_arg("kind", honors.PERIOD_KINDS) or "month"
    key = text_arg("period", 7)
    per = honors.period(kind, key) if key else honors.previous_period(kind, today_local())
    rows = honors.named_ranking(db.session, scope, village_id, per) if village_id else []
    if wants_xlsx():
        village_name = dict(choices).get(village_id, "")
        return xlsx_response(
            f"{village_name}{per.label}积分排名",
            "积分排名",
            ["名次", "户号", "户主（脱敏）", "期间积分", "星级", "一票否决"],
            (
                [
                    r.row.rank,
                    r.row.household_number,
                    r.masked_name,
                    r.row.score,
                    r.row.stars,
                    "是" if r.row.vetoed else "",
                ]
                for r in rows
            ),
        )
    return render_template(
        "rankings.html",
        rows=rows,
        period=per,
        kind=kind,
        village_id=village_id,
        village_choices=choices,
        kind_labels=KIND_LABELS,
        star_labels=honors.STAR_LABELS,
        args=request.args,
    )
