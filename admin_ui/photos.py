"""Photos in admin pages: `{{ photo_thumb(photo) }}` renders a thumbnail that opens the display copy,
with a badge when the photo is flagged as a (near-)duplicate. URLs are signed for the signed-in admin's
scope only (backend.photos.service.photo_urls)."""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup
from werkzeug.wrappers import Response

from admin_ui.access import admin_required, bp, current_scope, nav_item, page_arg
from admin_ui.export import EXPORT_MAX_ROWS, wants_xlsx, xlsx_response
from backend.auth.models import Role
from backend.db import db
from backend.errors import Forbidden
from backend.photos import service
from backend.photos.models import PHOTO_FLAG_LABELS, Photo
from backend.photos.service import may_view, photo_urls

nav_item("admin.photos", "照片核查", "cadre", 80)


@bp.app_template_global()
def photo_thumb(photo: Photo) -> Markup:
    """A thumbnail linking to the display copy; a placeholder while processing or outside the admin's scope."""
    scope = g.admin.scope
    if not may_view(scope, photo):
        return Markup('<span class="photo photo-missing">无权查看</span>')
    urls = photo_urls(photo, scope)
    badge = (
        Markup('<span class="badge photo-flag" title="与其他记录的照片相同或相近">{}</span>').format(
            PHOTO_FLAG_LABELS[photo.flag]
        )
        if photo.flag
        else Markup("")
    )
    if urls["thumb_url"] is None:
        return Markup('<span class="photo photo-missing">{}</span>{}').format(
            "处理中" if photo.status == "processing" else "照片损坏", badge
        )
    return Markup(
        '<a class="photo" href="{}" target="_blank" rel="noopener noreferrer">'
        '<img src="{}" alt="照片" loading="lazy" decoding="async"></a>{}'
    ).format(urls["display_url"], urls["thumb_url"], badge)


@bp.get("/photos")
@admin_required
def photos() -> str | Response:
    """照片核查: photos flagged as the same or nearly the same as another record's, in the admin's villages."""
    scope = current_scope()
    if wants_xlsx():
        rows = service.flagged_photo_page(db.session, scope, per_page=EXPORT_MAX_ROWS).items
        return xlsx_response(
            "照片核查",
            "照片核查",
            ["照片编号", "标记", "重复于", "上传人", "行政村", "用途", "上传时间", "拍摄时间", "大致位置"],
            (
                [
                    r.photo.id,
                    r.flag_label,
                    r.photo.duplicate_of_id or "",
                    r.uploader,
                    r.village_name,
                    r.used_for,
                    r.photo.received_at,
                    r.photo.taken_at,
                    r.place or "",
                ]
                for r in rows
            ),
        )
    county_id = current_user.county_id if current_user.role == Role.county_admin else None
    return render_template(
        "photos.html",
        page=service.flagged_photo_page(db.session, scope, page=page_arg()),
        label_enabled=service.label_enabled(db.session, county_id) if county_id else None,
    )


@bp.post("/photos/settings")
@admin_required
def photo_settings() -> Response:
    """County admins turn the 温馨照片 label (time · place · event on display copies) on or off."""
    if current_user.role != Role.county_admin or current_user.county_id is None:
        raise Forbidden("只有县级管理员可以修改照片设置")
    enabled = request.form.get("label_enabled") == "1"
    service.set_label_enabled(db.session, current_user.county_id, enabled)
    flash("已开启照片水印（时间·地点·事件）" if enabled else "已关闭照片水印", "info")
    return redirect(url_for("admin.photos"))
