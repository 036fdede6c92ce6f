"""驻村工作 pages: 到岗考勤 (with each cadre's month), 民情日记, 走访覆盖 and 走访记录, 问题台账, 请假审批,
and the county's 工作设置 (required days, visiting rule, check-in photos).

Every list offers ?format=xlsx with the filters on screen. Work a phone captured offline shows when it was
captured and, when it arrived later, when it was uploaded; the exports have both as columns.
"""

from __future__ import annotations

from datetime import datetime

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from admin_ui.access import admin_required, bp, choice_arg, current_scope, form_int, int_arg, nav_item, page_arg
from admin_ui.export import EXPORT_MAX_ROWS, wants_xlsx, xlsx_response
from backend.db import db
from backend.errors import Forbidden, InvalidRequest
from backend.months import Month
from backend.org.queries import village_choices
from backend.records import checkins, queries
from backend.records.checkins import DAY_LABELS
from backend.records.common import (
    DEFAULT_SETTINGS,
    VISIT_PERIODS,
    VISIT_RULE_LABELS,
    VISIT_RULES,
    WorkSettings,
    save_settings,
    settings_for_county,
    settings_for_village,
    visit_rule_of,
)
from backend.records.models import LEAVE_STATUS_LABELS, PROBLEM_STATUS_LABELS, Capture, LeaveStatus, ProblemStatus

nav_item("admin.attendance", "到岗考勤", "cadre", 40, also_active=("admin.cadre_work",))
nav_item("admin.daily_records", "民情日记", "cadre", 41)
nav_item("admin.coverage", "走访覆盖", "cadre", 42, also_active=("admin.visits",))
nav_item("admin.problems", "问题台账", "cadre", 43)
nav_item("admin.leaves", "请假审批", "cadre", 44)
nav_item("admin.cadre_settings", "工作设置", "cadre", 45)


CAPTURE_HEADERS = ("采集时间", "上传时间")


def capture_cells(capture: Capture | None) -> tuple[datetime | None, datetime | None]:
    """The two time columns of an export: when the work was done on the phone, when it reached the server."""
    return (capture.at, capture.received_at) if capture is not None else (None, None)


def month_arg() -> Month:
    """?month=YYYY-MM, else this month."""
    try:
        return Month.parse(request.args.get("month"), default=Month.current())
    except InvalidRequest:
        return Month.current()


def _villages() -> list[tuple[int, str]]:
    return village_choices(db.session, current_scope())


@bp.get("/attendance")
@admin_required
def attendance() -> str | Response:
    month = month_arg()
    rows = queries.attendance_table(db.session, current_scope(), month)
    if wants_xlsx():
        return xlsx_response(
            f"到岗考勤-{month}",
            "到岗考勤",
            ["姓名（脱敏）", "派出单位", "驻村", "月份", "在岗天数", "请假天数", "应在岗天数", "是否达标"],
            (
                [
                    r.name,
                    r.work_unit,
                    r.villages,
                    str(month),
                    r.attendance.days_on_post,
                    r.attendance.leave_days,
                    r.attendance.required,
                    "达标" if r.attendance.met else "进行中" if r.attendance.in_progress else "未达标",
                ]
                for r in rows
            ),
        )
    return render_template("records_attendance.html", rows=rows, month=month)


@bp.get("/cadres/<int:cadre_id>/work")
@admin_required
def cadre_work(cadre_id: int) -> str | Response:
    month = month_arg()
    view = queries.cadre_month(db.session, current_scope(), cadre_id, month)
    if wants_xlsx():
        return xlsx_response(
            f"打卡记录-{view.name}-{month}",
            "打卡记录",
            ["干部（脱敏）", "日期", *CAPTURE_HEADERS, "行政村", "是否在村", "距村中心（米）", "照片数"],
            (
                [
                    view.name,
                    c.day,
                    *capture_cells(c.capture),
                    c.village,
                    "围栏内" if c.in_fence else "围栏外",
                    c.distance_m,
                    len(c.photos),
                ]
                for c in view.checkins
            ),
        )
    return render_template("records_cadre.html", view=view, month=month, day_labels=DAY_LABELS)


@bp.get("/daily-records")
@admin_required
def daily_records() -> str | Response:
    month, village = month_arg(), int_arg("village")
    rows = queries.record_rows(db.session, current_scope(), month, village_id=village)
    if wants_xlsx():
        return xlsx_response(
            f"民情日记-{month}",
            "民情日记",
            [
                *("日期", "干部（脱敏）", "行政村", "类别", "内容", "地点", "涉及户号", "补正次数", "照片数"),
                *CAPTURE_HEADERS,
            ],
            (
                [
                    r.day,
                    r.cadre,
                    r.village,
                    r.category,
                    r.content,
                    r.place,
                    r.households,
                    r.amendments,
                    r.photo_count,
                    *capture_cells(r.capture),
                ]
                for r in rows[:EXPORT_MAX_ROWS]
            ),
        )
    return render_template("records_daily.html", rows=rows, month=month, village=village, villages=_villages())


@bp.get("/coverage")
@admin_required
def coverage() -> str | Response:
    month, village, gaps = month_arg(), int_arg("village"), request.args.get("gaps") == "1"
    lines = queries.coverage_table(db.session, current_scope(), month, village_id=village, gaps_only=gaps)
    if wants_xlsx():
        return xlsx_response(
            f"走访覆盖-{month}",
            "走访覆盖",
            [
                "行政村",
                "户号",
                "帮扶责任人（脱敏）",
                "本月走访",
                "考核周期",
                "周期内走访",
                "应走访",
                "本月联系",
                "应联系",
                "最近走访",
                "是否达标",
            ],
            (
                [
                    line.row.village_name,
                    line.row.household_number,
                    line.helper,
                    line.row.visits,
                    line.row.period,
                    line.row.period_visits,
                    line.row.visits_required,
                    line.row.contacts,
                    line.row.contacts_required,
                    line.row.last_visit_on,
                    "达标" if line.row.met else "未达标",
                ]
                for line in lines
            ),
        )
    return render_template(
        "records_coverage.html", lines=lines, month=month, village=village, gaps=gaps, villages=_villages()
    )


@bp.get("/visits")
@admin_required
def visits() -> str | Response:
    month, village = month_arg(), int_arg("village")
    rows = queries.visit_rows(db.session, current_scope(), month, village_id=village)
    if wants_xlsx():
        return xlsx_response(
            f"走访记录-{month}",
            "走访记录",
            ["日期", "干部（脱敏）", "行政村", "户号", "方式", "目的", "走访情况", "提出问题数", *CAPTURE_HEADERS],
            (
                [
                    r.day,
                    r.cadre,
                    r.village,
                    r.household,
                    r.kind,
                    r.purpose,
                    r.findings,
                    r.problems,
                    *capture_cells(r.capture),
                ]
                for r in rows[:EXPORT_MAX_ROWS]
            ),
        )
    return render_template("records_visits.html", rows=rows, month=month, village=village, villages=_villages())


@bp.get("/problems")
@admin_required
def problems() -> str | Response:
    status = choice_arg("status", set(ProblemStatus))
    filters = {
        "status": ProblemStatus(status) if status else None,
        "overdue": request.args.get("overdue") == "1",
        "village_id": int_arg("village"),
    }
    if wants_xlsx():
        rows = queries.problem_page(db.session, current_scope(), **filters, per_page=EXPORT_MAX_ROWS).items
        return xlsx_response(
            "问题台账",
            "问题台账",
            [
                "编号",
                "行政村",
                "户号",
                "问题",
                "来源",
                "责任人（脱敏）",
                "提出日期",
                "办结时限",
                "状态",
                "是否超期",
                "销号日期",
                "销号说明",
                *(f"提出{header}" for header in CAPTURE_HEADERS),
                *(f"销号{header}" for header in CAPTURE_HEADERS),
            ],
            (
                [
                    r.id,
                    r.village,
                    r.household,
                    r.description,
                    r.source,
                    r.owner,
                    r.raised_on,
                    r.deadline,
                    r.status_label,
                    "超期" if r.overdue else "",
                    r.closed_on,
                    r.closing_evidence,
                    *capture_cells(r.raised),
                    *capture_cells(r.closed),
                ]
                for r in rows
            ),
        )
    page = queries.problem_page(db.session, current_scope(), **filters, page=page_arg())
    return render_template(
        "records_problems.html",
        page=page,
        filters=filters,
        villages=_villages(),
        status_choices=list(PROBLEM_STATUS_LABELS.items()),
    )


@bp.get("/leaves")
@admin_required
def leaves() -> str | Response:
    status = choice_arg("status", set(LeaveStatus))
    rows = queries.leave_rows(db.session, current_scope(), current_user, LeaveStatus(status) if status else None)
    if wants_xlsx():
        return xlsx_response(
            "请假记录",
            "请假记录",
            ["干部（脱敏）", "行政村", "开始", "结束", "天数", "事由", "状态", "申请时间", "审批时间", "审批意见"],
            (
                [
                    r.cadre,
                    r.village,
                    r.start_on,
                    r.end_on,
                    r.days,
                    r.reason,
                    r.status_label,
                    r.requested_at,
                    r.decided_at,
                    r.decision_note,
                ]
                for r in rows
            ),
        )
    return render_template(
        "records_leaves.html",
        rows=rows,
        status=status,
        status_choices=list(LEAVE_STATUS_LABELS.items()),
        can_decide=current_user.role == "town_admin",
    )


@bp.post("/leaves/<int:leave_id>/decide")
@admin_required
def decide_leave(leave_id: int) -> Response:
    decision = request.form.get("decision")
    if decision not in ("approve", "reject"):
        raise InvalidRequest("请选择批准或驳回")
    note = (request.form.get("note") or "").strip()[:300]
    leave = checkins.decide_leave(
        db.session, current_scope(), current_user, leave_id, approve=decision == "approve", note=note
    )
    flash(f"已{'批准' if decision == 'approve' else '驳回'}请假（{leave.start_on} 至 {leave.end_on}）", "info")
    return redirect(url_for("admin.leaves"))


@bp.get("/cadre-settings")
@admin_required
def cadre_settings() -> str:
    """The county's numbers for cadre work; county admins change them, other admins read them."""
    return _settings_page(_current_settings())


@bp.post("/cadre-settings")
@admin_required
def save_cadre_settings() -> str | Response:
    if current_user.role != "county_admin" or current_user.county_id is None:
        raise Forbidden("只有县级管理员可以修改驻村工作设置")
    try:
        rule = request.form.get("visit_rule")
        visits = VISIT_RULES.get(rule or "") or {
            "visits_required": form_int("visits_required", required=True),
            "visit_period_months": form_int("visit_period_months", required=True),
            "contacts_per_month": form_int("contacts_per_month", required=True),
        }
        numbers = {
            name: form_int(name, required=True) for name in ("required_days", "accuracy_cap_m", "problem_deadline_days")
        }
        photo_required = request.form.get("checkin_photo_required") == "1"
        settings = WorkSettings(**numbers, **visits, checkin_photo_required=photo_required)
        save_settings(db.session, current_user.county_id, settings)
    except InvalidRequest as error:
        # The form again with what was typed and why it was refused; the boundary rolls back on the 400.
        return _settings_page(None, error), 400
    flash("驻村工作设置已保存，本月起的考勤和走访覆盖按新设置计算", "info")
    return redirect(url_for("admin.cadre_settings"))


def _current_settings() -> WorkSettings:
    if current_user.role == "county_admin" and current_user.county_id is not None:
        return settings_for_county(db.session, current_user.county_id)
    villages = sorted(current_scope().village_ids)
    return settings_for_village(db.session, villages[0]) if villages else DEFAULT_SETTINGS


def _settings_page(settings: WorkSettings | None, error: InvalidRequest | None = None) -> str:
    """The form; after a refused post it shows the posted values (settings None) with the errors."""
    values = vars(settings) if settings is not None else request.form.to_dict()
    return render_template(
        "records_settings.html",
        values=values,
        visit_rule=visit_rule_of(settings) if settings is not None else request.form.get("visit_rule", "custom"),
        rule_labels=list(VISIT_RULE_LABELS.items()),
        periods=VISIT_PERIODS,
        can_edit=current_user.role == "county_admin",
        error=error,
    )
