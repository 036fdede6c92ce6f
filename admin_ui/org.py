"""行政村, 农户 and 驻村干部 pages: parse the query string, call one service, render."""

from __future__ import annotations

from flask import render_template

from admin_ui.access import admin_required, bp, choice_arg, current_scope, int_arg, page_arg, text_arg
from backend.db import db
from backend.org import service
from backend.org.service import HOUSEHOLD_FLAGS


@bp.get("/villages")
@admin_required
def villages() -> str:
    q = text_arg("q")
    page = service.village_page(db.session, current_scope(), search=q, page=page_arg())
    return render_template("villages.html", page=page, q=q)


@bp.get("/households")
@admin_required
def households() -> str:
    scope = current_scope()
    filters = {"village_id": int_arg("village"), "flag": choice_arg("flag", HOUSEHOLD_FLAGS), "search": text_arg("q")}
    page = service.household_page(db.session, scope, **filters, page=page_arg())
    return render_template(
        "households.html",
        page=page,
        filters=filters,
        village_choices=service.village_choices(db.session, scope),
        flag_choices=[(key, label) for key, (_column, label) in HOUSEHOLD_FLAGS.items()],
    )


@bp.get("/households/<int:household_id>")
@admin_required
def household(household_id: int) -> str:
    return render_template(
        "household.html", household=service.household_view(db.session, current_scope(), household_id)
    )


@bp.get("/cadres")
@admin_required
def cadres() -> str:
    q = text_arg("q")
    page = service.cadre_page(db.session, current_scope(), search=q, page=page_arg())
    return render_template("cadres.html", page=page, q=q)
