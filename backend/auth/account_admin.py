"""Admin accounts managed from the admin pages: create, reset a password, change role or region, disable and
enable again. Each change is audited, and those that must (backend.auth.accounts) sign the user out
everywhere, so it takes effect on the very next request.

Who manages whom: a county admin, every admin account of its county (county, town and village review panel)
and its cadres' accounts (disable and enable: cadres sign in with WeChat); a town admin, the review panels of
its own villages. Nobody disables, demotes or moves their own account (a county must not lock itself out).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.orm import Session

from backend.audit.service import Place, diff, place_of_town, place_of_village, record
from backend.auth.accounts import admin_anchors, assign_admin_role, disable_account, set_password
from backend.auth.models import ADMIN_ROLES, ROLE_LABELS, Role, User
from backend.errors import Conflict, Forbidden, InvalidRequest, NotFound, NotInScope
from backend.org.models import Cadre, Town, Village

USERNAME = re.compile(r"[A-Za-z0-9_.-]{3,64}")
ACCOUNT_FIELDS = ("role", "county_id", "town_id", "village_id", "is_active")


def managed_accounts(actor: User) -> ColumnElement[bool]:
    """The accounts `actor` manages, as a filter on User."""
    if actor.role == Role.county_admin:
        towns = select(Town.id).where(Town.county_id == actor.county_id)
        villages = select(Village.id).where(Village.town_id.in_(towns))
        cadres = select(Cadre.id).where(Cadre.county_id == actor.county_id)
        return or_(
            (User.role == Role.county_admin) & (User.county_id == actor.county_id),
            (User.role == Role.town_admin) & User.town_id.in_(towns),
            (User.role == Role.reviewer) & User.village_id.in_(villages),
            (User.role == Role.cadre) & User.cadre_id.in_(cadres),
        )
    if actor.role == Role.town_admin:
        villages = select(Village.id).where(Village.town_id == actor.town_id)
        return (User.role == Role.reviewer) & User.village_id.in_(villages)
    return false()


def _require_account_admin(actor: User) -> None:
    if actor.role not in (Role.county_admin, Role.town_admin):
        raise Forbidden("只有乡镇或县管理员可以管理账号")


def load_account(session: Session, actor: User, user_id: int) -> User:
    _require_account_admin(actor)
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("账号不存在")
    if session.scalar(select(User.id).where(User.id == user.id, managed_accounts(actor))) is None:
        raise NotInScope()
    return user


def _grantable(session: Session, actor: User, role: Role, region_code: str) -> dict[str, int | None]:
    """The anchors of `role` over the region with this code, if the actor may give that role there."""
    if role not in ADMIN_ROLES:
        raise InvalidRequest("请选择管理员角色")
    if actor.role == Role.town_admin and role != Role.reviewer:
        raise Forbidden("乡镇管理员只能管理本镇村评议小组的账号")
    anchors = admin_anchors(session, role, (region_code or "").strip())
    if anchors["county_id"] is not None:
        inside = anchors["county_id"] == actor.county_id and actor.role == Role.county_admin
    elif anchors["town_id"] is not None:
        inside = session.get_one(Town, anchors["town_id"]).county_id == actor.county_id
    else:
        town = session.get_one(Village, anchors["village_id"]).town
        inside = town.county_id == actor.county_id if actor.role == Role.county_admin else town.id == actor.town_id
    if not inside:
        raise NotInScope("只能在本管辖范围内设置账号")
    return anchors


def _place(session: Session, user: User) -> Place:
    if user.village_id is not None:
        return place_of_village(session, user.village_id)
    if user.town_id is not None:
        return place_of_town(session, user.town_id)
    if user.cadre_id is not None:
        return Place(county_id=session.get_one(Cadre, user.cadre_id).county_id)
    return Place(county_id=user.county_id)


def _state(user: User) -> dict[str, Any]:
    return {name: getattr(user, name) for name in ACCOUNT_FIELDS}


def _audit(
    session: Session,
    actor: User,
    verb: str,
    user: User,
    summary: str,
    before: dict[str, Any],
    *,
    password: bool = False,
) -> None:
    """An audit row of the account's role, region and state before → after; a new password only as changed."""
    after = _state(user)
    if password:
        before, after = before | {"password": 0}, after | {"password": 1}
    changes = diff(before, after, personal=frozenset({"password"}))
    record(session, actor, f"user.{verb}", "user", user.id, summary, _place(session, user), changes)


def _label(user: User) -> str:
    return f"{user.username}（{ROLE_LABELS[user.role]}）"


def create_account(session: Session, actor: User, username: str, password: str, role: Role, region_code: str) -> User:
    _require_account_admin(actor)
    user = add_admin(session, username, password, role, _grantable(session, actor, role, region_code))
    record(session, actor, "user.create", "user", user.id, f"新建账号 {_label(user)}", _place(session, user))
    return user


def add_admin(session: Session, username: str, password: str, role: Role, anchors: dict[str, int | None]) -> User:
    """A new admin account with its password, anchored where `anchors` say; the caller checked the right to
    grant it and writes the audit row (an admin page, or `flask create-county` for a county's first admin)."""
    username = (username or "").strip()
    if not USERNAME.fullmatch(username):
        raise InvalidRequest("用户名为 3–64 位英文字母、数字或 _ . -")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise InvalidRequest(f"用户名 {username} 已被使用")
    user = User(username=username, role=role, is_active=True, **anchors)
    session.add(user)
    session.flush()
    set_password(session, user, password)
    return user


def reset_password(session: Session, actor: User, user_id: int, password: str) -> User:
    user = load_account(session, actor, user_id)
    if user.role not in ADMIN_ROLES:
        raise InvalidRequest("只有管理员账号使用密码登录")
    before = _state(user)
    set_password(session, user, password)
    _audit(session, actor, "update", user, f"重置账号 {_label(user)} 的密码", before, password=True)
    return user


def change_role(session: Session, actor: User, user_id: int, role: Role, region_code: str) -> User:
    user = load_account(session, actor, user_id)
    if user.id == actor.id:
        raise Conflict("不能修改自己的角色或管辖范围")
    if user.role not in ADMIN_ROLES:
        raise InvalidRequest("只有管理员账号可以修改角色")
    anchors = _grantable(session, actor, role, region_code)
    before = _state(user)
    if user.role != role or any(getattr(user, column) != value for column, value in anchors.items()):
        assign_admin_role(session, user, role, region_code.strip())
    _audit(session, actor, "update", user, f"修改账号 {_label(user)} 的角色或管辖范围", before)
    return user


def set_active(session: Session, actor: User, user_id: int, active: bool) -> User:
    """Disable (signed out everywhere at once) or enable again (the old sign-ins stay ended)."""
    user = load_account(session, actor, user_id)
    if user.id == actor.id:
        raise Conflict("不能停用自己的账号")
    if user.is_active == active:
        raise Conflict("账号已是该状态")
    before = _state(user)
    if active:
        user.is_active = True
        session.flush()
    else:
        disable_account(session, user)
    verb = "restore" if active else "retire"
    _audit(session, actor, verb, user, f"{'启用' if active else '停用'}账号 {_label(user)}", before)
    return user
