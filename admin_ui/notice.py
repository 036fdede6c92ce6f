"""月度公示 pages: close a month, see the frozen publication, answer objections, lock; Excel exports."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from admin_ui.access import admin_required, bp, current_scope, form_int, int_arg, nav_item
from admin_ui.export import wants_xlsx, xlsx_response
from backend.db import db
from backend.errors import InvalidRequest
from backend.months import Month
from backend.org.queries import village_choices
from backend.points import notice as service
from backend.points.models import NoticeStatus, ObjectionStatus

nav_item("admin.notices", "月度公示", "points", 50, also_active=("admin.notice",))

STATUS_LABELS = {NoticeStatus.published: "公示中", NoticeStatus.locked: "已锁定"}
OBJECTION_LABELS = {ObjectionStatus.open: "待处理", ObjectionStatus.upheld: "成立", ObjectionStatus.dismissed: "不成立"}
KIND_LABELS = {"earn": "加分", "deduct": "扣分", "veto": "一票否决", "correction": "更正"}


@bp.get("/notices")
@admin_required
def notices() -> str | Response:
    scope = current_scope()
    village_id = int_arg("village")
    rows = service.notice_rows(db.session, scope, village_id)
    if wants_xlsx():
        return xlsx_response(
            "月度公示",
            "月度公示",
            ["月份", "行政村", "状态", "公示时间", "申诉截止", "申诉数", "待处理申诉", "锁定时间"],
            (
                [
                    r.notice.month,
                    r.village_name,
                    STATUS_LABELS[r.notice.status],
                    r.notice.published_at,
                    r.notice.objection_deadline,
                    r.objections,
                    r.open_objections,
                    r.notice.locked_at,
                ]
                for r in rows
            ),
        )
    return render_template(
        "notices.html",
        rows=rows,
        village_id=village_id,
        village_choices=village_choices(db.session, scope),
        default_month=str(Month.current()),
        status_labels=STATUS_LABELS,
    )


@bp.post("/notices")
@admin_required
def close_month() -> Response:
    village_id = form_int("village_id")
    if village_id is None:
        raise InvalidRequest("请选择行政村")
    notice = service.close_month(
        db.session, current_scope(), current_user, village_id, (request.form.get("month") or "").strip()
    )
    flash(f"{notice.month} 已关账并公示", "info")
    return redirect(url_for("admin.notice", notice_id=notice.id))


@bp.get("/notices/<int:notice_id>")
@admin_required
def notice(notice_id: int) -> str | Response:
    scope = current_scope()
    found = service.load_notice(db.session, scope, notice_id)
    publication = service.publication(db.session, scope, found.month, found.village_id)
    if wants_xlsx():
        return xlsx_response(
            f"{publication.village_name}{found.month}积分公示",
            f"{found.month}公示",
            ["户号", "户主（脱敏）", "本月加分", "本月扣分", "月末积分", "一票否决"],
            (
                [
                    line.household_number,
                    line.masked_name,
                    line.earned,
                    line.deducted,
                    line.balance,
                    "是" if line.vetoed else "",
                ]
                for line in found.lines
            ),
        )
    return render_template(
        "notice.html",
        pub=publication,
        notice=found,
        status_labels=STATUS_LABELS,
        objection_labels=OBJECTION_LABELS,
        kind_labels=KIND_LABELS,
    )


@bp.post("/objections/<int:objection_id>/uphold")
@admin_required
def uphold(objection_id: int) -> Response:
    amount = form_int("amount") or 0
    reason = (request.form.get("reason") or "").strip()
    if len(reason) < 2:
        raise InvalidRequest("请填写处理意见")
    objection = service.uphold_objection(
        db.session, current_scope(), current_user, objection_id, amount=amount, reason=reason
    )
    flash("申诉已认定成立" + (f"，更正 {amount:+d} 分计入下一个未关账月份" if amount else ""), "info")
    return redirect(url_for("admin.notice", notice_id=objection.notice_id))


@bp.post("/objections/<int:objection_id>/dismiss")
@admin_required
def dismiss(objection_id: int) -> Response:
    reason = (request.form.get("reason") or "").strip()
    if len(reason) < 2:
        raise InvalidRequest("驳回申诉必须填写理由")
    objection = service.dismiss_objection(db.session, current_scope(), current_user, objection_id, reason=reason)
    flash("申诉已驳回", "info")
    return redirect(url_for("admin.notice", notice_id=objection.notice_id))


@bp.post("/notices/<int:notice_id>/lock")
@admin_required
def lock(notice_id: int) -> Response:
    service.lock_notice(db.session, current_scope(), current_user, notice_id)
    flash("本月公示已锁定", "info")
    return redirect(url_for("admin.notice", notice_id=notice_id))
