"""行政村, 农户 and 驻村干部 pages: parse the query string, call one service, render."""

from __future__ import annotations

from flask import render_template, request
from flask_login import current_user
from werkzeug.wrappers import Response

from admin_ui.access import admin_required, bp, choice_arg, current_scope, int_arg, nav_item, page_arg, text_arg
from admin_ui.export import EXPORT_MAX_ROWS, wants_xlsx, xlsx_response
from backend.db import db
from backend.org import queries
from backend.org.queries import HOUSEHOLD_FLAGS

nav_item("admin.villages", "行政村", "org", 10, also_active=("admin.village",))
nav_item(
    "admin.households",
    "农户",
    "org",
    20,
    also_active=("admin.household", "admin.household_new", "admin.household_manage"),
)
nav_item("admin.cadres", "驻村干部", "org", 30, also_active=("admin.cadre", "admin.cadre_new"))


@bp.get("/villages")
@admin_required
def villages() -> str:
    q, retired = text_arg("q"), request.args.get("retired") == "1"
    page = queries.village_page(db.session, current_scope(), search=q, retired=retired, page=page_arg())
    towns = [t for t in queries.town_rows(db.session, current_user) if t.retired_on is None]
    return render_template("villages.html", page=page, q=q, retired=retired, towns=towns)


@bp.get("/households")
@admin_required
def households() -> str | Response:
    scope = current_scope()
    filters = {
        "village_id": int_arg("village"),
        "flag": choice_arg("flag", HOUSEHOLD_FLAGS),
        "search": text_arg("q"),
        "retired": request.args.get("retired") == "1",
    }
    if wants_xlsx():
        rows = queries.household_page(db.session, scope, **filters, per_page=EXPORT_MAX_ROWS).items
        return xlsx_response(
            "农户",
            "农户",
            ["户号", "行政村", "网格", "户主（脱敏）", "人数", "户类型"],
            (
                [
                    h.number,
                    h.village_name,
                    h.grid_name,
                    h.head_name,
                    h.member_count,
                    "、".join(label for _key, label in h.flags),
                ]
                for h in rows
            ),
        )
    page = queries.household_page(db.session, scope, **filters, page=page_arg())
    return render_template(
        "households.html",
        page=page,
        filters=filters,
        village_choices=queries.village_choices(db.session, scope),
        flag_choices=[(key, label) for key, (_column, label) in HOUSEHOLD_FLAGS.items()],
    )


@bp.get("/households/<int:household_id>")
@admin_required
def household(household_id: int) -> str:
    return render_template(
        "household.html", household=queries.household_view(db.session, current_scope(), household_id)
    )


@bp.get("/cadres")
@admin_required
def cadres() -> str:
    q, retired = text_arg("q"), request.args.get("retired") == "1"
    page = queries.cadre_page(db.session, current_scope(), search=q, retired=retired, page=page_arg())
    return render_template("cadres.html", page=page, q=q, retired=retired)
