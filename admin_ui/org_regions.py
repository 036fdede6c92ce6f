"""乡镇, 行政村 and 网格 management: create, edit, retire and restore. Parse the form, call one
service in backend.org.regions, flash the outcome."""

from __future__ import annotations

from flask import render_template, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from admin_ui.access import (
    act,
    admin_required,
    bp,
    current_scope,
    form_float,
    form_int,
    form_text,
    nav_item,
)
from backend.db import db
from backend.org import queries, regions
from backend.org.regions import VillageFields

nav_item("admin.towns", "乡镇", "org", 5)


@bp.get("/towns")
@admin_required
def towns() -> str:
    return render_template("towns.html", towns=queries.town_rows(db.session, current_user))


@bp.post("/towns")
@admin_required
def town_create() -> Response:
    return act(
        lambda: regions.create_town(db.session, current_user, form_text("name"), form_text("code")),
        "乡镇已新建",
        url_for("admin.towns"),
    )


@bp.post("/towns/<int:town_id>")
@admin_required
def town_update(town_id: int) -> Response:
    return act(
        lambda: regions.update_town(db.session, current_user, town_id, form_text("name"), form_text("code")),
        "乡镇已保存",
        url_for("admin.towns"),
    )


@bp.post("/towns/<int:town_id>/<any(retire, restore):change>")
@admin_required
def town_retire(town_id: int, change: str) -> Response:
    service = regions.retire_town if change == "retire" else regions.restore_town
    done = "乡镇已停用" if change == "retire" else "乡镇已恢复；其下行政村仍为停用，请逐个恢复"
    return act(lambda: service(db.session, current_user, town_id), done, url_for("admin.towns"))


def _village_fields() -> VillageFields:
    return VillageFields(
        name=form_text("name"),
        code=form_text("code"),
        center_lat=form_float("center_lat"),
        center_lng=form_float("center_lng"),
        fence_radius_m=form_int("fence_radius_m"),
    )


@bp.post("/villages/new")
@admin_required
def village_create() -> Response:
    return act(
        lambda: regions.create_village(db.session, current_user, form_int("town_id", required=True), _village_fields()),
        "行政村已新建",
        url_for("admin.villages"),
        lambda village: url_for("admin.village", village_id=village.id),
    )


@bp.get("/villages/<int:village_id>")
@admin_required
def village(village_id: int) -> str:
    return render_template("village.html", view=queries.village_view(db.session, current_scope(), village_id))


def _back_to_village(village_id: int) -> str:
    return url_for("admin.village", village_id=village_id)


@bp.post("/villages/<int:village_id>")
@admin_required
def village_update(village_id: int) -> Response:
    return act(
        lambda: regions.update_village(db.session, current_user, current_scope(), village_id, _village_fields()),
        "行政村已保存",
        _back_to_village(village_id),
    )


@bp.post("/villages/<int:village_id>/<any(retire, restore):change>")
@admin_required
def village_retire(village_id: int, change: str) -> Response:
    service = regions.retire_village if change == "retire" else regions.restore_village
    return act(
        lambda: service(db.session, current_user, current_scope(), village_id),
        "行政村已停用" if change == "retire" else "行政村已恢复",
        _back_to_village(village_id),
    )


@bp.post("/villages/<int:village_id>/grids")
@admin_required
def grid_create(village_id: int) -> Response:
    return act(
        lambda: regions.create_grid(db.session, current_user, current_scope(), village_id, form_text("name")),
        "网格已新建",
        _back_to_village(village_id),
    )


@bp.post("/villages/<int:village_id>/grids/<int:grid_id>")
@admin_required
def grid_update(village_id: int, grid_id: int) -> Response:
    return act(
        lambda: regions.rename_grid(db.session, current_user, current_scope(), grid_id, form_text("name")),
        "网格已保存",
        _back_to_village(village_id),
    )


@bp.post("/villages/<int:village_id>/grids/<int:grid_id>/<any(retire, restore):change>")
@admin_required
def grid_retire(village_id: int, grid_id: int, change: str) -> Response:
    service = regions.retire_grid if change == "retire" else regions.restore_grid
    return act(
        lambda: service(db.session, current_user, current_scope(), grid_id),
        "网格已停用" if change == "retire" else "网格已恢复",
        _back_to_village(village_id),
    )
