"""What an admin does to a household's binding: reissue or revoke its card code, unbind a lost phone. Each is
scope-checked and writes an audit row in the same transaction. Services flush; the boundary commits."""

from __future__ import annotations

from sqlalchemy.orm import Session

from backend.audit.service import Actor, place_of_village, record
from backend.auth.models import Role, User
from backend.auth.scope import Scope, load_household
from backend.auth.service import household_label, issue_binding_code
from backend.auth.sessions import end_all_sessions
from backend.errors import NotFound


def reissue_code(session: Session, scope: Scope, actor: Actor, household_id: int) -> str:
    """A new card code for the household; the old one stops working, phones already bound stay bound."""
    household = load_household(session, scope, household_id)
    code = issue_binding_code(session, household)
    record(
        session,
        actor,
        "binding_code.issue",
        "binding_code",
        household.id,
        f"{household_label(household)} 重新发放绑定码，旧码作废",
        place_of_village(session, household.village_id),
    )
    return code


def revoke_code(session: Session, scope: Scope, actor: Actor, household_id: int) -> None:
    """The household's card code stops working; no new one until an admin issues or prints one."""
    household = load_household(session, scope, household_id)
    household.binding_code_hash = None
    household.binding_code_issued_at = None
    session.flush()
    record(
        session,
        actor,
        "binding_code.revoke",
        "binding_code",
        household.id,
        f"{household_label(household)} 作废绑定码",
        place_of_village(session, household.village_id),
    )


def unbind_phone(session: Session, scope: Scope, actor: Actor, household_id: int, user_id: int) -> None:
    """A lost or changed phone leaves the household: its tokens and sign-in tickets end at once, so its next
    request is refused; signing in again with that WeChat gives an unbound account that needs a card code."""
    household = load_household(session, scope, household_id)
    user = session.get(User, user_id)
    if user is None or user.role != Role.villager or user.household_id != household.id:
        raise NotFound("该手机没有绑定本户")
    user.household_id = None
    user.bound_at = None
    session.flush()
    end_all_sessions(session, user, "unbound from its household")
    record(
        session,
        actor,
        "user.unbind",
        "user",
        user.id,
        f"{household_label(household)} 解绑手机（微信账号 #{user.id}）",
        place_of_village(session, household.village_id),
    )
