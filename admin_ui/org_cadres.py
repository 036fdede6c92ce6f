"""驻村干部 management: register a cadre with a first posting, edit, retire; add and end postings. Parse the
form, call one service in backend.org.cadres, flash the outcome."""

from __future__ import annotations

from flask import render_template, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from admin_ui.access import act, admin_required, bp, current_scope, form_date, form_int, form_text
from backend.db import db
from backend.org import cadres, queries
from backend.org.cadres import CadreFields, PostingFields
from backend.org.models import POST_LABELS


def _cadre_fields() -> CadreFields:
    """Blank personal fields keep what is stored (the page shows them masked, never the values)."""
    return CadreFields(
        name=form_text("name", 40) or None,
        phone=form_text("phone", 30) or None,
        id_number=form_text("id_number", 30) or None,
        work_unit=form_text("work_unit", 100),
    )


def _posting_fields() -> PostingFields:
    return PostingFields(
        village_id=form_int("village_id", required=True),  # type: ignore[arg-type]
        post=form_text("post", 20),
        grid_id=form_int("grid_id"),
        start_on=form_date("start_on"),
        end_on=form_date("end_on"),
    )


def _form_choices() -> dict:
    scope = current_scope()
    return {
        "village_choices": queries.village_choices(db.session, scope),
        "grid_choices": queries.grid_choices(db.session, scope),
        "post_choices": [(post.value, label) for post, label in POST_LABELS.items()],
    }


def _cadre_page(cadre_id: int) -> str:
    return url_for("admin.cadre", cadre_id=cadre_id)


@bp.get("/cadres/new")
@admin_required
def cadre_new() -> str:
    return render_template("cadre_new.html", **_form_choices())


@bp.post("/cadres/new")
@admin_required
def cadre_create() -> Response:
    return act(
        lambda: cadres.create_cadre(db.session, current_user, current_scope(), _cadre_fields(), _posting_fields()),
        "驻村干部已登记",
        url_for("admin.cadre_new"),
        lambda cadre: _cadre_page(cadre.id),
    )


@bp.get("/cadres/<int:cadre_id>")
@admin_required
def cadre(cadre_id: int) -> str:
    view = queries.cadre_view(db.session, current_user, current_scope(), cadre_id)
    return render_template("cadre.html", cadre=view, **_form_choices())


@bp.post("/cadres/<int:cadre_id>")
@admin_required
def cadre_update(cadre_id: int) -> Response:
    return act(
        lambda: cadres.update_cadre(db.session, current_user, current_scope(), cadre_id, _cadre_fields()),
        "驻村干部信息已保存",
        _cadre_page(cadre_id),
    )


@bp.post("/cadres/<int:cadre_id>/<any(retire, restore):change>")
@admin_required
def cadre_retire(cadre_id: int, change: str) -> Response:
    service = cadres.retire_cadre if change == "retire" else cadres.restore_cadre
    return act(
        lambda: service(db.session, current_user, current_scope(), cadre_id),
        "驻村干部已停用，其任职、结对已结束，账号已停用"
        if change == "retire"
        else "驻村干部已恢复；请新增任职，需要时生成微信登录邀请码、重新结对",
        _cadre_page(cadre_id),
    )


@bp.post("/cadres/<int:cadre_id>/postings")
@admin_required
def posting_create(cadre_id: int) -> Response:
    return act(
        lambda: cadres.add_posting(db.session, current_user, current_scope(), cadre_id, _posting_fields()),
        "任职已添加",
        _cadre_page(cadre_id),
    )


@bp.post("/cadres/<int:cadre_id>/postings/<int:posting_id>/end")
@admin_required
def posting_end(cadre_id: int, posting_id: int) -> Response:
    return act(
        lambda: cadres.end_posting(db.session, current_user, current_scope(), posting_id, form_date("end_on")),
        "任职已结束",
        _cadre_page(cadre_id),
    )
