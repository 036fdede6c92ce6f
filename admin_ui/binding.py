"""Binding pages: a household's card code, bound phones and 查看完整信息 (a section of the household page), the
household cards (明白卡) of a village as PDF, and cadres' WeChat logins with their invitations.

Codes are kept only as keyed hashes, so a new code (a reissue, a card, an invitation) is shown once, in the
answer to the POST that made it, never cached."""

from __future__ import annotations

import io

import segno
from flask import flash, make_response, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from admin_ui.access import act, admin_required, bp, current_scope, nav_item, page_arg
from backend.auth import binding, invitations, queries
from backend.db import db
from backend.org.reveal import reveal_resident
from backend.points import cards
from backend.timeutil import today_local

nav_item("admin.binding_cards", "明白卡", "org", 40)
nav_item("admin.cadre_logins", "干部微信登录", "org", 41)


def _shown_once(html: str) -> Response:
    """A page carrying a secret (a new code, a full phone number): neither the browser nor a proxy keeps it."""
    response = make_response(html)
    response.headers["Cache-Control"] = "no-store"
    return response


def _qr_svg(code: str, title: str) -> str:
    buffer = io.BytesIO()
    segno.make_qr(code, error="m").save(buffer, kind="svg", scale=6, border=2, title=title, xmldecl=False)
    return buffer.getvalue().decode()


def _pdf(data: bytes, name: str) -> Response:
    response = send_file(
        io.BytesIO(data), mimetype="application/pdf", as_attachment=True, download_name=f"{name}-{today_local()}.pdf"
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _household_page(household_id: int) -> str:
    return url_for("admin.household", household_id=household_id)


@bp.app_template_global()
def household_binding(household_id: int) -> queries.HouseholdBinding:
    """For the binding section of the household page (admin_ui/templates/_household_binding.html)."""
    return queries.household_binding(db.session, current_scope(), household_id)


# --- One household ---


@bp.post("/households/<int:household_id>/binding/reissue")
@admin_required
def binding_reissue(household_id: int) -> Response:
    code = binding.reissue_code(db.session, current_scope(), current_user, household_id)
    return _shown_once(
        render_template(
            "binding_code.html",
            household_id=household_id,
            code=cards.grouped_code(code),
            qr=_qr_svg(code, "绑定码"),
        )
    )


@bp.post("/households/<int:household_id>/binding/revoke")
@admin_required
def binding_revoke(household_id: int) -> Response:
    return act(
        lambda: binding.revoke_code(db.session, current_scope(), current_user, household_id),
        "绑定码已作废；已绑定的手机不受影响",
        _household_page(household_id),
    )


@bp.post("/households/<int:household_id>/binding/phones/<int:user_id>/unbind")
@admin_required
def binding_unbind(household_id: int, user_id: int) -> Response:
    return act(
        lambda: binding.unbind_phone(db.session, current_scope(), current_user, household_id, user_id),
        "已解绑，这部手机立即退出登录",
        _household_page(household_id),
    )


@bp.post("/households/<int:household_id>/card.pdf")
@admin_required
def household_card(household_id: int) -> Response:
    return _pdf(cards.print_household_card(db.session, current_scope(), current_user, household_id), "明白卡")


@bp.post("/households/<int:household_id>/residents/<int:resident_id>/reveal")
@admin_required
def resident_reveal(household_id: int, resident_id: int) -> Response:
    revealed = reveal_resident(db.session, current_scope(), current_user, household_id, resident_id)
    return _shown_once(render_template("binding_reveal.html", resident=revealed))


# --- Villages' cards ---


@bp.get("/binding/cards")
@admin_required
def binding_cards() -> str:
    return render_template(
        "binding_cards.html", page=queries.village_cards_page(db.session, current_scope(), page=page_arg())
    )


@bp.post("/villages/<int:village_id>/cards.pdf")
@admin_required
def village_cards(village_id: int) -> Response:
    if request.form.get("confirm") != "1":
        flash("请先勾选“我知道本村旧卡上未使用的绑定码将作废”，再打印", "error")
        return redirect(url_for("admin.binding_cards"))
    return _pdf(cards.print_village_cards(db.session, current_scope(), current_user, village_id), "明白卡")


# --- Cadres' WeChat logins ---


@bp.get("/binding/cadres")
@admin_required
def cadre_logins() -> str:
    return render_template(
        "binding_cadres.html", page=queries.cadre_login_page(db.session, current_scope(), page=page_arg())
    )


@bp.post("/binding/cadres/<int:cadre_id>/invite")
@admin_required
def cadre_invite(cadre_id: int) -> Response:
    issued = invitations.invite_cadre(db.session, current_scope(), current_user, cadre_id)
    return _shown_once(
        render_template(
            "binding_invitation.html",
            code=cards.grouped_code(issued.code),
            expires_at=issued.expires_at,
            qr=_qr_svg(issued.code, "干部邀请码"),
        )
    )


@bp.post("/binding/cadres/<int:cadre_id>/release")
@admin_required
def cadre_release(cadre_id: int) -> Response:
    return act(
        lambda: invitations.release_wechat(db.session, current_scope(), current_user, cadre_id),
        "已解除微信绑定，该干部的手机立即退出登录；请重新生成邀请码给新微信",
        url_for("admin.cadre_logins"),
    )
