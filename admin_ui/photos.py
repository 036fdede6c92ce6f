"""Photos in admin pages: `{{ photo_thumb(photo) }}` renders a thumbnail that opens the display copy,
with a badge when the photo is flagged as a (near-)duplicate. URLs are signed for the signed-in admin's
scope only (backend.records.photos.photo_urls)."""

from __future__ import annotations

from flask import g
from markupsafe import Markup

from admin_ui.access import bp
from backend.records.photo_models import PHOTO_FLAG_LABELS, Photo
from backend.records.photos import may_view, photo_urls


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
