"""操作日志: the audit log, for the county or town that owns it; Excel export for the county's records."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user
from werkzeug.wrappers import Response

from admin_ui.access import admin_required, bp, choice_arg, localtime, nav_item, page_arg
from admin_ui.export import EXPORT_MAX_ROWS, wants_xlsx, xlsx_response
from backend.audit.queries import ACTION_LABELS, TARGET_LABELS, audit_page
from backend.db import db

nav_item("admin.audit_log", "操作日志", "org", 90)


@bp.get("/audit")
@admin_required
def audit_log() -> str | Response:
    filters = {"action": choice_arg("action", ACTION_LABELS), "target_type": choice_arg("target", TARGET_LABELS)}
    if wants_xlsx():
        rows = audit_page(db.session, current_user, **filters, per_page=EXPORT_MAX_ROWS).items
        return xlsx_response(
            "操作日志",
            "操作日志",
            ["时间", "操作人", "操作", "对象", "对象编号", "说明", "修改内容（修改前 → 修改后）"],
            (
                [
                    localtime(r.at),
                    r.actor,
                    r.action_label,
                    TARGET_LABELS.get(r.target_type, r.target_type),
                    r.target_id,
                    r.summary,
                    r.changes_text(),
                ]
                for r in rows
            ),
        )
    return render_template(
        "audit.html",
        page=audit_page(db.session, current_user, **filters, page=page_arg()),
        filters=filters,
        action_labels=ACTION_LABELS,
        target_labels=TARGET_LABELS,
    )
