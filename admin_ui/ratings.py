"""考核评星 pages: star board, a village's star sheet and its workflow, first-secretary table with the quota,
ranking with red flag / yellow card, half-year and party-member tables, alerts, 整改, compile runs, 月通报.

Views parse the query string or form, call one service, render (or export the same rows to Excel).
"""

from __future__ import annotations

import json
from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from admin_ui.access import admin_required, bp, choice_arg, current_scope, form_date, int_arg, nav_item, page_arg
from admin_ui.charts import stacked_bar_option
from admin_ui.export import EXPORT_MAX_ROWS, wants_xlsx, xlsx_response
from backend.auth.models import Role
from backend.db import db
from backend.errors import DomainError, Forbidden, InvalidRequest
from backend.months import Month
from backend.ratings import queries, service
from backend.ratings.compile import compile_month, previous_months
from backend.ratings.models import ALERT_LABELS, SchemeKind
from backend.ratings.queries import FLAG_LABELS, ORIGIN_TEXT, STAGE_LABELS
from backend.ratings.schemes import create_scheme_version
from backend.request_input import parse_json_text
from backend.timeutil import today_local

nav_item(
    "admin.ratings_board",
    "考核评星",
    "ratings",
    60,
    also_active=(
        "admin.ratings_village",
        "admin.ratings_secretaries",
        "admin.ratings_ranking",
        "admin.ratings_assessments",
        "admin.ratings_alerts",
        "admin.ratings_rectifications",
        "admin.ratings_runs",
        "admin.ratings_bulletin",
        "admin.ratings_schemes",
    ),
)

# The colours of admin_ui/static/ratings.css's tone-* badges, best first, for charts.
TONE_COLOURS = {"good": "#1d6b47", "ok": "#1a4fa0", "mid": "#9a5b00", "bad": "#9b1c1c"}
GRADE_TONES = {
    "优秀": "good",
    "先进": "good",
    "良好": "ok",
    "称职": "ok",
    "合格": "ok",
    "达标": "ok",
    "基本称职": "mid",
    "基本合格": "mid",
    "差": "bad",
    "不称职": "bad",
    "不合格": "bad",
    "落后": "bad",
}


def month_arg() -> str:
    """?month=YYYY-MM, else the month that has just ended (the one compiled at month end)."""
    last_month = Month.current().shift(-1)
    try:
        return str(Month.parse(request.args.get("month"), default=last_month))
    except InvalidRequest:
        return str(last_month)


def _context(month: str, **extra: Any) -> dict[str, Any]:
    return {
        "month": month,
        "months": previous_months(month, 12)[::-1],
        "flag_labels": FLAG_LABELS,
        "grade_tones": GRADE_TONES,
        "origin_text": ORIGIN_TEXT,
        **extra,
    }


def _flags(flags: list[str]) -> str:
    return "、".join(FLAG_LABELS.get(f, f) for f in flags)


@bp.get("/ratings")
@admin_required
def ratings_board() -> str | Response:
    month, town = month_arg(), int_arg("town")
    rows = queries.star_board(db.session, current_scope(), month, town)
    titles = [i["title"] for i in rows[0].result.detail["indicators"]] if rows else []
    if wants_xlsx():
        return xlsx_response(
            f"星级评定-{month}",
            "星级评定",
            ["乡镇", "村", "星级", "等次", "总分", *titles, "标记"],
            (
                [
                    r.town_name,
                    r.village_name,
                    r.result.stars,
                    r.result.grade,
                    r.result.score,
                    *[i["score"] for i in r.result.detail["indicators"]],
                    _flags(r.result.flags),
                ]
                for r in rows
            ),
        )
    grades: dict[str, int] = {}
    for r in rows:
        grades[r.result.grade] = grades.get(r.result.grade, 0) + 1
    trend = queries.grade_trend(db.session, current_scope(), month, town)
    # Grades are scheme data: chart whichever occur, best first, in the colours of the grade badges.
    tones = list(TONE_COLOURS)
    grades_seen = sorted(
        {g for _m, counts in trend for g in counts}, key=lambda g: tones.index(GRADE_TONES.get(g, "ok"))
    )
    trend_chart = stacked_bar_option(
        [m for m, _counts in trend],
        [(g, [counts.get(g, 0) for _m, counts in trend], TONE_COLOURS[GRADE_TONES.get(g, "ok")]) for g in grades_seen],
        unit="村",
    )
    return render_template(
        "ratings_board.html",
        trend_chart=trend_chart,
        **_context(month, rows=rows, titles=titles, grades=grades, town=town, inputs=queries.input_status()),
    )


@bp.get("/ratings/villages/<int:village_id>")
@admin_required
def ratings_village(village_id: int) -> str | Response:
    month = month_arg()
    view = queries.village_rating(db.session, current_scope(), village_id, month)
    if wants_xlsx():
        return xlsx_response(
            f"{view.village.name}星级评定-{month}",
            "逐星得分",
            ["星", "标准分", "得分", "计分来源", "理由", "村自评", "镇评", "县核", "结果", "失星原因"],
            (
                [
                    s.title,
                    s.standard,
                    s.score,
                    ORIGIN_TEXT[s.origin],
                    s.reason,
                    s.stages.get("self"),
                    s.stages.get("town"),
                    s.stages.get("county"),
                    "保星" if s.lit else "失星",
                    s.lost_reason,
                ]
                for s in view.stars
            ),
        )
    return render_template(
        "ratings_village.html",
        **_context(month, view=view, stage_labels=STAGE_LABELS, role=current_user.role.value, today=today_local()),
    )


def _scores(prefix: str) -> dict[str, float]:
    out = {}
    for key, value in request.form.items():
        if key.startswith(prefix) and value.strip():
            try:
                out[key[len(prefix) :]] = float(value)
            except ValueError as exc:
                raise InvalidRequest(errors={key[len(prefix) :]: ["请输入数字"]}) from exc
    return out


@bp.post("/ratings/villages/<int:village_id>/<any(self, town, county):step>")
@admin_required
def ratings_village_step(village_id: int, step: str) -> Response:
    month = str(Month.parse(request.form.get("month")))
    scope, vetoes = current_scope(), set(request.form.getlist("veto"))
    try:
        if step == "self":
            service.self_assess(
                db.session,
                scope,
                current_user,
                village_id,
                month,
                scores=_scores("score_"),
                vetoes=vetoes,
                note=request.form.get("note", ""),
            )
        elif step == "town":
            reasons = {k[7:]: v for k, v in request.form.items() if k.startswith("reason_")}
            adjustments = {code: (value, reasons.get(code, "")) for code, value in _scores("score_").items()}
            service.town_rate(
                db.session, scope, current_user, village_id, month, adjustments=adjustments, vetoes=vetoes
            )
        else:
            service.county_verify(
                db.session,
                scope,
                current_user,
                village_id,
                month,
                overrides=_scores("score_"),
                vetoes=vetoes,
                visit_on=form_date("visit_on"),
                findings=request.form.get("findings", ""),
            )
        flash({"self": "村创星已提交", "town": "镇评星已保存", "county": "县核星已保存"}[step], "info")
    except DomainError as error:
        db.session.rollback()
        details = "；".join(f"{k}：{'、'.join(v)}" for k, v in (error.errors or {}).items())
        flash(f"{error.message}{'（' + details + '）' if details else ''}", "error")
    return redirect(url_for("admin.ratings_village", village_id=village_id, month=month))


@bp.get("/ratings/secretaries")
@admin_required
def ratings_secretaries() -> str | Response:
    month = month_arg()
    table = queries.secretary_table(db.session, current_scope(), month)
    if wants_xlsx():
        return xlsx_response(
            f"第一书记考核-{month}",
            "第一书记考核",
            ["第一书记", "村", "乡镇", "总分", "等次", "标记"],
            (
                [r.subject_name, r.village_name, r.town_name, r.result.score, r.result.grade, _flags(r.result.flags)]
                for r in table.rows
            ),
        )
    return render_template("ratings_secretaries.html", **_context(month, table=table))


@bp.get("/ratings/ranking")
@admin_required
def ratings_ranking() -> str | Response:
    month = month_arg()
    rows = queries.ranking_table(db.session, current_scope(), month)
    if wants_xlsx():
        return xlsx_response(
            f"月度排名-{month}",
            "月度排名",
            ["名次", "村", "乡镇", "得分", "等次", "标记"],
            (
                [r.result.rank, r.village_name, r.town_name, r.result.score, r.result.grade, _flags(r.result.flags)]
                for r in rows
            ),
        )
    return render_template("ratings_ranking.html", **_context(month, rows=rows))


ASSESSMENTS = {"thousand_point": "村两委千分制（半年）", "party_member": "党员积分"}


@bp.get("/ratings/assessments")
@admin_required
def ratings_assessments() -> str | Response:
    kind = choice_arg("kind", ASSESSMENTS) or "thousand_point"
    month = month_arg()
    period = (
        request.args.get("period")
        or (request.args.get("month") if kind == "party_member" else None)
        or queries.latest_period(db.session, current_scope(), SchemeKind(kind))
        or month
    )
    rows = queries.other_results(db.session, current_scope(), SchemeKind(kind), period)
    if wants_xlsx():
        return xlsx_response(
            f"{ASSESSMENTS[kind]}-{period}",
            ASSESSMENTS[kind],
            ["村", "乡镇", "对象", "类别", "得分", "加分", "减分", "等次"],
            (
                [
                    r.village_name,
                    r.town_name,
                    r.result.subject_type,
                    r.result.detail.get("category", ""),
                    r.result.score,
                    r.result.detail["bonus"],
                    r.result.detail["deduction"],
                    r.result.grade,
                ]
                for r in rows
            ),
        )
    return render_template(
        "ratings_assessments.html", **_context(month, rows=rows, kind=kind, period=period, kinds=ASSESSMENTS)
    )


@bp.get("/ratings/alerts")
@admin_required
def ratings_alerts() -> str | Response:
    month = request.args.get("month") or None
    rows = queries.alert_list(db.session, current_scope(), month)
    if wants_xlsx():
        return xlsx_response(
            "考核预警",
            "考核预警",
            ["月份", "类型", "村", "责任人", "内容"],
            ([r.alert.period, r.label, r.village_name, r.cadre_name, r.alert.message] for r in rows),
        )
    return render_template(
        "ratings_alerts.html", **_context(month_arg(), rows=rows, labels=ALERT_LABELS, filtered=month)
    )


@bp.get("/ratings/rectifications")
@admin_required
def ratings_rectifications() -> str | Response:
    open_only = request.args.get("open") == "1"
    filters = {"open_only": open_only, "today": today_local()}
    if wants_xlsx():
        rows = queries.rectification_page(db.session, current_scope(), **filters, per_page=EXPORT_MAX_ROWS).items
        return xlsx_response(
            "整改台账",
            "整改台账",
            ["月份", "村", "来源", "问题", "责任人", "期限", "状态", "佐证"],
            (
                [
                    r.item.period,
                    r.village_name,
                    r.origin_label,
                    r.item.title,
                    r.owner_name,
                    r.item.deadline,
                    "已销号" if r.item.closed else ("逾期" if r.overdue else "整改中"),
                    r.item.evidence,
                ]
                for r in rows
            ),
        )
    return render_template(
        "ratings_rectifications.html",
        **_context(
            month_arg(),
            page=queries.rectification_page(db.session, current_scope(), **filters, page=page_arg()),
            open_only=open_only,
            can_close=current_user.role in (Role.town_admin, Role.county_admin),
        ),
    )


@bp.post("/ratings/rectifications/<int:item_id>/close")
@admin_required
def ratings_rectification_close(item_id: int) -> Response:
    try:
        service.close_rectification(
            db.session, current_scope(), current_user, item_id, request.form.get("evidence", "")
        )
        flash("已销号", "info")
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
    return redirect(url_for("admin.ratings_rectifications"))


@bp.get("/ratings/runs")
@admin_required
def ratings_runs() -> str | Response:
    runs = queries.run_list(db.session, current_scope())
    if wants_xlsx():
        return xlsx_response(
            "汇总任务",
            "汇总任务",
            ["编号", "月份", "状态", "进度", "开始", "结束", "经过", "错误"],
            (
                [
                    r.id,
                    r.month,
                    r.status.value,
                    f"{r.units_done}/{r.units_total}",
                    r.started_at,
                    r.finished_at,
                    "；".join(r.notes),
                    "；".join(r.errors),
                ]
                for r in runs
            ),
        )
    return render_template(
        "ratings_runs.html",
        count_labels={**queries.KIND_LABELS, "alerts": "预警", "rectifications": "整改事项"},
        unit_timeout_minutes=f"{current_app.config['COMPILE_UNIT_TIMEOUT'] / 60:g}",
        max_attempts=current_app.config["COMPILE_MAX_ATTEMPTS"],
        **_context(month_arg(), runs=runs, can_start=current_user.role == Role.county_admin),
    )


@bp.post("/ratings/runs")
@admin_required
def ratings_run_start() -> Response:
    if current_user.role != Role.county_admin:
        raise Forbidden("只有县级管理员可以发起汇总")
    month = str(Month.parse(request.form.get("month")))
    run = compile_month(db.session, current_user.county_id, month, actor_id=current_user.id).run
    flash(f"已发起 {month} 汇总（任务 {run.id}）", "info")
    return redirect(url_for("admin.ratings_runs"))


@bp.get("/ratings/bulletin")
@admin_required
def ratings_bulletin() -> str:
    month = month_arg()
    scope = current_scope()
    board = queries.star_board(db.session, scope, month)
    return render_template(
        "ratings_bulletin.html",
        **_context(
            month,
            board=board,
            ranking=queries.ranking_table(db.session, scope, month),
            secretaries=queries.secretary_table(db.session, scope, month),
            alerts=queries.alert_list(db.session, scope, month),
            rectifications=queries.rectification_page(
                db.session, scope, month=month, today=today_local(), per_page=EXPORT_MAX_ROWS
            ).items,
        ),
    )


@bp.get("/ratings/schemes")
@admin_required
def ratings_schemes() -> str:
    rows = queries.scheme_list(db.session, current_scope(), today_local())
    return render_template(
        "ratings_schemes.html", **_context(month_arg(), rows=rows, can_edit=current_user.role == Role.county_admin)
    )


@bp.post("/ratings/schemes")
@admin_required
def ratings_scheme_create() -> Response:
    """A new version of a scheme: the definition JSON is validated before anything is saved."""
    if current_user.role != Role.county_admin:
        raise Forbidden("只有县级管理员可以修改考核方案")
    try:
        definition = parse_json_text(request.form.get("definition") or "")
        start = Month.parse(request.form.get("effective_month"))
        scheme = create_scheme_version(
            db.session,
            current_user.county_id,
            definition,
            title=(request.form.get("title") or "").strip()[:80] or "考核方案",
            effective_from=start.first,
            actor_id=current_user.id,
        )
        flash(f"已保存第{scheme.version}版，自 {start} 起执行", "info")
    except DomainError as error:
        db.session.rollback()
        flash(
            f"{error.message}：{json.dumps(error.errors, ensure_ascii=False)}" if error.errors else error.message,
            "error",
        )
    return redirect(url_for("admin.ratings_schemes"))
