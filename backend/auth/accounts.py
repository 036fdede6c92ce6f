"""Changes to an account that must sign it out everywhere: disabling it, a new password, a new role or scope.
Each ends every session of the user (end_all_sessions) in the same transaction. Services flush."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.auth.models import ADMIN_ROLES, ROLE_LABELS, Role, User
from backend.auth.passwords import MIN_PASSWORD_LENGTH, hash_password
from backend.auth.sessions import end_all_sessions
from backend.errors import InvalidRequest, NotFound
from backend.org.models import County, Town, Village

# Where an admin role sits in the region tree: the table its region code names, the user's anchor column, and
# what the region is called.
_REGION_OF_ROLE: dict[Role, tuple[type[County] | type[Town] | type[Village], str, str]] = {
    Role.county_admin: (County, "county_id", "县"),
    Role.town_admin: (Town, "town_id", "镇"),
    Role.reviewer: (Village, "village_id", "行政村"),
}


def user_by_username(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"没有账号 {username}")
    return user


def disable_account(session: Session, user: User) -> None:
    user.is_active = False
    session.flush()
    end_all_sessions(session, user, "account disabled")


def set_password(session: Session, user: User, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidRequest(f"密码至少 {MIN_PASSWORD_LENGTH} 位")
    user.password_hash = hash_password(password)
    session.flush()
    end_all_sessions(session, user, "password set")


def admin_anchors(session: Session, role: Role, region_code: str) -> dict[str, int | None]:
    """The region anchor columns of an admin of the region with this code (a county's, a town's or a village's,
    as the role needs): that region's id in its column, None in the others."""
    if role not in ADMIN_ROLES:
        raise InvalidRequest(f"{ROLE_LABELS[role]}不是管理员角色")
    model, anchor, region = _REGION_OF_ROLE[role]
    region_id = session.scalar(select(model.id).where(model.code == region_code))
    if region_id is None:
        raise NotFound(f"没有代码为 {region_code} 的{region}")
    return {column: None for _, column, _ in _REGION_OF_ROLE.values()} | {anchor: region_id}


def assign_admin_role(session: Session, user: User, role: Role, region_code: str) -> None:
    """Make the user an admin of the region with this code; the other region anchors are cleared. No change,
    no sign-out."""
    anchors = admin_anchors(session, role, region_code)
    if user.role == role and all(getattr(user, column) == value for column, value in anchors.items()):
        return
    user.role = role
    for column, value in anchors.items():
        setattr(user, column, value)
    session.flush()
    end_all_sessions(session, user, f"role set to {role.value}")
