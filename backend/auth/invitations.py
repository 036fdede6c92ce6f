"""Cadre invitations: an admin creates a one-time code for a cadre; the cadre signs in to the phone app with
WeChat and redeems it, and that WeChat becomes the cadre's login. A cadre account already tied to another WeChat
is refused until an admin releases it (`release_wechat`). Services flush; the boundary commits."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.audit.service import Actor, Place, place_of_village, record
from backend.auth.models import CadreInvitation, Role, User
from backend.auth.scope import Scope, filter_villages, load_cadre
from backend.auth.service import IssuedToken, new_binding_code, normalize_code, sign_in
from backend.auth.sessions import end_all_sessions
from backend.crypto import lookup_hash, mask_name
from backend.errors import Conflict, Forbidden, InvitationInvalid
from backend.org.models import Cadre, Posting
from backend.timeutil import now_utc

INVITATION_TTL = timedelta(days=7)
ALREADY_BOUND = "该干部账号已绑定其他微信，请管理员先在“干部微信登录”页解除绑定"


@dataclass(frozen=True)
class IssuedInvitation:
    code: str
    expires_at: datetime


def _place_of_cadre(session: Session, cadre: Cadre, scope: Scope | None = None) -> Place:
    """Where a cadre's audit rows belong: the village of their latest posting (in the acting admin's scope), so the
    town and village admins who manage them read the rows too."""
    stmt = select(Posting.village_id).where(Posting.cadre_id == cadre.id)
    if scope is not None:
        stmt = filter_villages(stmt, scope, Posting.village_id)
    village_id = session.scalar(stmt.order_by(Posting.start_on.desc(), Posting.id.desc()).limit(1))
    return place_of_village(session, village_id) if village_id is not None else Place(county_id=cadre.county_id)


def _usable(invitation: CadreInvitation, now: datetime) -> bool:
    return invitation.used_at is None and invitation.revoked_at is None and invitation.expires_at > now


def cadre_login(session: Session, cadre_id: int) -> User | None:
    return session.scalar(select(User).where(User.cadre_id == cadre_id))


def invite_cadre(session: Session, scope: Scope, actor: Actor, cadre_id: int) -> IssuedInvitation:
    """A fresh single-use code for the cadre, valid for INVITATION_TTL; older unused ones are revoked."""
    cadre = load_cadre(session, scope, cadre_id)
    login = cadre_login(session, cadre.id)
    if login is not None and login.wechat_openid is not None:
        raise Conflict(ALREADY_BOUND)
    now = now_utc()
    session.execute(
        update(CadreInvitation)
        .where(
            CadreInvitation.cadre_id == cadre.id,
            CadreInvitation.used_at.is_(None),
            CadreInvitation.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    code = new_binding_code()
    invitation = CadreInvitation(
        cadre_id=cadre.id, code_hash=lookup_hash(code), created_by_id=actor.id, expires_at=now + INVITATION_TTL
    )
    session.add(invitation)
    session.flush()
    record(
        session,
        actor,
        "cadre.invite",
        "cadre",
        cadre.id,
        f"为驻村干部 {mask_name(cadre.name)} 生成微信登录邀请码（{INVITATION_TTL.days} 天内有效）",
        _place_of_cadre(session, cadre, scope),
    )
    return IssuedInvitation(code, invitation.expires_at)


def release_wechat(session: Session, scope: Scope, actor: Actor, cadre_id: int) -> None:
    """The cadre's account lets go of its WeChat (a new phone, a wrong person): its tokens end at once, and a
    new invitation can bind another WeChat."""
    cadre = load_cadre(session, scope, cadre_id)
    login = cadre_login(session, cadre.id)
    if login is None or login.wechat_openid is None:
        raise Conflict("该干部账号没有绑定微信")
    login.wechat_openid = None
    login.wechat_session_key = None
    session.flush()
    end_all_sessions(session, login, "cadre WeChat released")
    record(
        session,
        actor,
        "cadre.unbind",
        "cadre",
        cadre.id,
        f"解除驻村干部 {mask_name(cadre.name)} 的微信绑定",
        _place_of_cadre(session, cadre, scope),
    )


def redeem_invitation(session: Session, user: User, raw_code: str, *, ttl: timedelta) -> IssuedToken:
    """The WeChat signed in as `user` (a fresh, unbound villager account) becomes the invited cadre's login; the
    fresh account is retired and a token for the cadre's account is returned. Guarded update: a code redeems once."""
    if user.role != Role.villager or user.household_id is not None:
        raise Forbidden("此微信已是其他账号的登录，不能再用于干部登录")
    invitation = session.scalar(
        select(CadreInvitation).where(CadreInvitation.code_hash == lookup_hash(normalize_code(raw_code)))
    )
    now = now_utc()
    if invitation is None or not _usable(invitation, now):
        raise InvitationInvalid()
    login = cadre_login(session, invitation.cadre_id)
    if login is not None and login.wechat_openid is not None:
        raise Conflict(ALREADY_BOUND)
    spent = session.execute(
        update(CadreInvitation)
        .where(
            CadreInvitation.id == invitation.id,
            CadreInvitation.used_at.is_(None),
            CadreInvitation.revoked_at.is_(None),
            CadreInvitation.expires_at > now,
        )
        .values(used_at=now, used_by_id=user.id)
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:
        raise InvitationInvalid()
    cadre = session.get(Cadre, invitation.cadre_id)
    if login is None:
        login = User(username=f"cadre_{secrets.token_hex(6)}", role=Role.cadre, cadre_id=cadre.id, is_active=True)
        login.display_name = cadre.name
        session.add(login)
    openid, session_key = user.wechat_openid, user.wechat_session_key
    user.wechat_openid = None
    user.wechat_session_key = None
    user.is_active = False
    session.flush()
    end_all_sessions(session, user, "WeChat moved to a cadre account")
    login.wechat_openid = openid
    login.wechat_session_key = session_key
    session.flush()
    record(
        session,
        login,
        "cadre.bind",
        "cadre",
        cadre.id,
        f"驻村干部 {mask_name(cadre.name)} 用邀请码绑定了微信",
        _place_of_cadre(session, cadre),
    )
    return sign_in(session, login, ttl)
