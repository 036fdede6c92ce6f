"""账号管理: admin accounts of the reader's county or town (create, reset a password, change role or region,
disable and enable again), and its cadres' accounts (disable, enable). Each change signs the account out at once
where it must (backend.auth.account_admin)."""

from __future__ import annotations

from flask import render_template, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from admin_ui.access import act, admin_required, bp, form_text, nav_item, page_arg
from backend.auth import account_admin
from backend.auth.models import ADMIN_ROLES, ROLE_LABELS, Role
from backend.auth.queries import account_page, region_choices
from backend.db import db
from backend.errors import InvalidRequest

nav_item("admin.accounts", "账号管理", "org", 80)


def _role() -> Role:
    value = form_text("role", 20)
    if value not in Role.__members__ or Role(value) not in ADMIN_ROLES:
        raise InvalidRequest("请选择管理员角色")
    return Role(value)


@bp.get("/accounts")
@admin_required
def accounts() -> str:
    roles = [Role.reviewer] if current_user.role == Role.town_admin else sorted(ADMIN_ROLES, reverse=True)
    return render_template(
        "accounts.html",
        page=account_page(db.session, current_user, page=page_arg()),
        role_choices=[(role.value, ROLE_LABELS[role]) for role in roles],
        region_choices=region_choices(db.session, current_user),
    )


@bp.post("/accounts")
@admin_required
def account_create() -> Response:
    return act(
        lambda: account_admin.create_account(
            db.session,
            current_user,
            form_text("username", 64),
            form_text("password", 200),
            _role(),
            form_text("region"),
        ),
        "账号已新建",
        url_for("admin.accounts"),
    )


@bp.post("/accounts/<int:user_id>/password")
@admin_required
def account_password(user_id: int) -> Response:
    return act(
        lambda: account_admin.reset_password(db.session, current_user, user_id, form_text("password", 200)),
        "密码已重置，该账号已在所有设备上退出登录",
        url_for("admin.accounts"),
    )


@bp.post("/accounts/<int:user_id>/role")
@admin_required
def account_role(user_id: int) -> Response:
    return act(
        lambda: account_admin.change_role(db.session, current_user, user_id, _role(), form_text("region")),
        "角色与管辖范围已保存，该账号已退出登录",
        url_for("admin.accounts"),
    )


@bp.post("/accounts/<int:user_id>/<any(disable, enable):change>")
@admin_required
def account_active(user_id: int, change: str) -> Response:
    return act(
        lambda: account_admin.set_active(db.session, current_user, user_id, change == "enable"),
        "账号已启用" if change == "enable" else "账号已停用，并已在所有设备上退出登录",
        url_for("admin.accounts"),
    )
