"""农户 management: register a household with its head, edit it, move it, retire it; members join, leave,
are edited or become head; the household's helper (帮扶责任人) starts and ends; the list of poor and monitored
households with no helper. Parse the form, call one service, flash the outcome."""

from __future__ import annotations

from flask import render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from admin_ui.access import (
    act,
    admin_required,
    bp,
    current_scope,
    form_date,
    form_int,
    form_text,
    int_arg,
    nav_item,
    page_arg,
)
from backend.db import db
from backend.org import cadres, households, queries
from backend.org.households import FLAG_FIELDS, HouseholdFields, MemberFields
from backend.org.models import GENDERS, RELATIONS
from backend.org.queries import HOUSEHOLD_FLAGS

nav_item("admin.unpaired", "未结对户", "org", 25)

# The form's flag boxes: the household column each sets, and its label.
FLAG_CHOICES = [(column.key, label) for column, label in HOUSEHOLD_FLAGS.values()]


def _household_fields() -> HouseholdFields:
    return HouseholdFields(
        number=form_text("number", 40),
        address=form_text("address", 200),
        flags=frozenset(name for name in request.form.getlist("flag") if name in FLAG_FIELDS),
    )


def _member_fields() -> MemberFields:
    """Blank personal fields keep what is stored (the page shows them masked, never the values)."""
    return MemberFields(
        name=form_text("name", 40) or None,
        relation=form_text("relation", 10),
        gender=form_text("gender", 2),
        birth_year=form_int("birth_year"),
        phone=form_text("phone", 30) or None,
        id_number=form_text("id_number", 30) or None,
    )


def _manage_page(household_id: int) -> str:
    return url_for("admin.household_manage", household_id=household_id)


@bp.get("/households/new")
@admin_required
def household_new() -> str:
    scope = current_scope()
    return render_template(
        "household_new.html",
        grid_choices=queries.grid_choices(db.session, scope),
        flag_choices=FLAG_CHOICES,
        genders=GENDERS,
    )


@bp.post("/households/new")
@admin_required
def household_create() -> Response:
    return act(
        lambda: households.create_household(
            db.session,
            current_user,
            current_scope(),
            form_int("grid_id", required=True),
            _household_fields(),
            _member_fields(),
        ),
        "农户已登记",
        url_for("admin.household_new"),
        lambda household: _manage_page(household.id),
    )


@bp.get("/households/<int:household_id>/manage")
@admin_required
def household_manage(household_id: int) -> str:
    scope = current_scope()
    view = queries.household_view(db.session, scope, household_id)
    return render_template(
        "household_manage.html",
        household=view,
        current_flags={HOUSEHOLD_FLAGS[key][0].key for key, _label in view.flags},
        flag_choices=FLAG_CHOICES,
        grid_choices=[g for g in queries.grid_choices(db.session, scope) if g[0] != view.grid_id],
        cadre_choices=queries.cadre_choices(db.session, scope),
        relations=RELATIONS,
        genders=GENDERS,
    )


@bp.post("/households/<int:household_id>/edit")
@admin_required
def household_update(household_id: int) -> Response:
    return act(
        lambda: households.update_household(
            db.session, current_user, current_scope(), household_id, _household_fields()
        ),
        "农户信息已保存",
        _manage_page(household_id),
    )


@bp.post("/households/<int:household_id>/move")
@admin_required
def household_move(household_id: int) -> Response:
    return act(
        lambda: households.move_household(
            db.session, current_user, current_scope(), household_id, form_int("grid_id", required=True)
        ),
        "农户已迁移",
        _manage_page(household_id),
    )


@bp.post("/households/<int:household_id>/<any(retire, restore):change>")
@admin_required
def household_retire(household_id: int, change: str) -> Response:
    service = households.retire_household if change == "retire" else households.restore_household
    return act(
        lambda: service(db.session, current_user, current_scope(), household_id),
        "农户已注销" if change == "retire" else "农户已恢复；如需帮扶请重新结对",
        _manage_page(household_id),
    )


@bp.post("/households/<int:household_id>/members")
@admin_required
def member_create(household_id: int) -> Response:
    return act(
        lambda: households.add_member(db.session, current_user, current_scope(), household_id, _member_fields()),
        "家庭成员已添加",
        _manage_page(household_id),
    )


@bp.post("/households/<int:household_id>/members/<int:resident_id>")
@admin_required
def member_update(household_id: int, resident_id: int) -> Response:
    return act(
        lambda: households.update_member(db.session, current_user, current_scope(), resident_id, _member_fields()),
        "家庭成员已保存",
        _manage_page(household_id),
    )


@bp.post("/households/<int:household_id>/members/<int:resident_id>/leave")
@admin_required
def member_leave(household_id: int, resident_id: int) -> Response:
    return act(
        lambda: households.member_leaves(db.session, current_user, current_scope(), resident_id),
        "该成员已迁出",
        _manage_page(household_id),
    )


@bp.post("/households/<int:household_id>/members/<int:resident_id>/head")
@admin_required
def member_head(household_id: int, resident_id: int) -> Response:
    return act(
        lambda: households.set_head(
            db.session, current_user, current_scope(), resident_id, form_text("old_head_relation", 10)
        ),
        "户主已更换",
        _manage_page(household_id),
    )


@bp.post("/households/<int:household_id>/pairing")
@admin_required
def pairing_start(household_id: int) -> Response:
    return act(
        lambda: cadres.start_pairing(
            db.session,
            current_user,
            current_scope(),
            household_id,
            form_int("cadre_id", required=True),
            form_date("start_on"),
        ),
        "帮扶责任人已结对",
        _manage_page(household_id),
    )


@bp.post("/households/<int:household_id>/pairing/end")
@admin_required
def pairing_end(household_id: int) -> Response:
    return act(
        lambda: cadres.end_pairing(db.session, current_user, current_scope(), household_id, form_date("end_on")),
        "结对已结束",
        _manage_page(household_id),
    )


@bp.get("/unpaired")
@admin_required
def unpaired() -> str:
    scope = current_scope()
    village_id = int_arg("village")
    return render_template(
        "unpaired.html",
        page=queries.unpaired_page(db.session, scope, village_id=village_id, page=page_arg()),
        village_id=village_id,
        village_choices=queries.village_choices(db.session, scope),
    )
