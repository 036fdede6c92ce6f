"""Login, tokens, sign-in tickets and household binding. Services flush; the boundary commits."""

from __future__ import annotations

import hashlib
import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from backend.audit.service import place_of_village, record
from backend.auth.models import ApiToken, Role, SigninTicket, User
from backend.auth.wechat import DEV_CODE_PREFIX, WechatGateway
from backend.crypto import lookup_hash
from backend.errors import BindingCodeInvalid, BindingFull, Forbidden, Unauthenticated, WechatCodeInvalid
from backend.org.models import Household, Resident
from backend.timeutil import now_utc

# One answer for a sign-in ticket that is unknown, used or expired: a guesser learns nothing from it.
TICKET_SPENT = "登录链接已失效，请重新打开"

# No 0/O, 1/I/L: codes are read off a printed card by people with poor eyesight.
BINDING_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
BINDING_CODE_LENGTH = 8


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime
    user: User


def _token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_token(session: Session, user: User, ttl: timedelta) -> IssuedToken:
    raw = secrets.token_urlsafe(32)
    expires_at = now_utc() + ttl
    session.add(ApiToken(user_id=user.id, token_hash=_token_hash(raw), expires_at=expires_at))
    session.flush()
    return IssuedToken(raw, expires_at, user)


def login_with_wechat_code(
    session: Session, gateway: WechatGateway, code: str, *, dev_login: bool, ttl: timedelta
) -> IssuedToken:
    if code.startswith(DEV_CODE_PREFIX):
        if not dev_login:
            raise WechatCodeInvalid()
        user = session.scalar(select(User).where(User.username == code[len(DEV_CODE_PREFIX) :]))
        if user is None:
            raise WechatCodeInvalid("没有这个演示账号")
    else:
        wx = gateway.code_to_session(code)
        user = session.scalar(select(User).where(User.wechat_openid == wx.openid)) or _first_login(session, wx.openid)
        user.wechat_session_key = wx.session_key
    return sign_in(session, user, ttl)


def sign_in(session: Session, user: User, ttl: timedelta) -> IssuedToken:
    if not user.is_active:
        raise Forbidden("账号已停用")
    user.last_login_at = now_utc()
    session.flush()
    return issue_token(session, user, ttl)


@dataclass(frozen=True)
class IssuedTicket:
    ticket: str
    expires_at: datetime


def issue_signin_ticket(session: Session, user: User, ttl: timedelta) -> IssuedTicket:
    """A one-time ticket for the mini-program shell to open the H5 app with: it rides in a URL, the token never.
    Hex (256 bits), not base64: lookup_hash folds case (it is made for codes people type), and hex loses nothing."""
    raw = secrets.token_hex(32)
    expires_at = now_utc() + ttl
    session.add(SigninTicket(user_id=user.id, ticket_hash=lookup_hash(raw), expires_at=expires_at))
    session.flush()
    return IssuedTicket(raw, expires_at)


def redeem_signin_ticket(session: Session, raw: str, *, ttl: timedelta) -> IssuedToken:
    """A bearer token for an unused, unexpired ticket, which is then spent. Guarded update: of two redeems
    racing with one ticket, exactly one signs in."""
    now = now_utc()
    ticket = session.scalar(select(SigninTicket).where(SigninTicket.ticket_hash == lookup_hash(raw)))
    if ticket is None:
        raise Unauthenticated(TICKET_SPENT)
    spent = session.execute(
        update(SigninTicket)
        .where(SigninTicket.id == ticket.id, SigninTicket.used_at.is_(None), SigninTicket.expires_at > now)
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:
        raise Unauthenticated(TICKET_SPENT)
    return sign_in(session, ticket.user, ttl)


def _first_login(session: Session, openid: str) -> User:
    """A first-time WeChat user starts as an unbound villager and binds with the card code.

    Two phones racing on one openid: the loser's insert hits the unique key and takes the winner's row.
    """
    user = User(username=f"wx_{secrets.token_hex(6)}", role=Role.villager, wechat_openid=openid, is_active=True)
    try:
        with session.begin_nested():
            session.add(user)
    except IntegrityError:
        return session.scalars(select(User).where(User.wechat_openid == openid)).one()
    return user


def user_for_token(session: Session, raw: str) -> User:
    # One query for token, user and household: every API request starts here, and keeping the household
    # referenced from the user lets scope_for and the views find it in the identity map.
    token = session.scalar(
        select(ApiToken)
        .where(ApiToken.token_hash == _token_hash(raw))
        .options(joinedload(ApiToken.user).joinedload(User.household))
    )
    if token is None or token.revoked_at is not None:
        raise Unauthenticated("登录已失效，请重新登录")
    if token.expires_at <= now_utc():
        raise Unauthenticated("登录已过期，请重新登录")
    if not token.user.is_active:
        raise Unauthenticated("账号已停用")
    return token.user


def revoke_token(session: Session, raw: str) -> None:
    session.execute(
        update(ApiToken)
        .where(ApiToken.token_hash == _token_hash(raw), ApiToken.revoked_at.is_(None))
        .values(revoked_at=now_utc())
    )


def new_binding_code(rng: random.Random | None = None) -> str:
    """From `secrets`; `rng` is for the seeded demo county only, whose printed codes must repeat run to run."""
    choice = rng.choice if rng is not None else secrets.choice
    return "".join(choice(BINDING_ALPHABET) for _ in range(BINDING_CODE_LENGTH))


def issue_binding_code(session: Session, household: Household, *, rng: random.Random | None = None) -> str:
    """A new card code replaces the household's old one (phones already bound stay bound); only its keyed hash is
    stored, so a code is shown once, when it is issued. `rng`: the demo seed only."""
    code = new_binding_code(rng)
    household.binding_code_hash = lookup_hash(code)
    household.binding_code_issued_at = now_utc()
    session.flush()
    return code


def household_label(household: Household) -> str:
    """How audit rows and admin messages name a household: 青石村 003 号户."""
    return f"{household.village.name} {household.number} 号户"


def normalize_code(raw: str) -> str:
    """Codes are read off paper and typed: spaces and dashes are the reader's, not the code's."""
    return raw.replace(" ", "").replace("-", "")


def bind_household(session: Session, user: User, binding_code: str) -> Household:
    """Bind the villager's phone to the household whose card carries this code. One code serves the whole family:
    it binds as many phones as the household has members, each its own account and token, and stays valid until
    an admin reissues or revokes it (an unbound phone frees its place). The household row is locked while the
    phones are counted, so two phones racing for the last place cannot both win."""
    if user.role != Role.villager:
        raise Forbidden("只有村民账号可以绑定户")
    code_hash = lookup_hash(normalize_code(binding_code))
    household = session.scalar(select(Household).where(Household.binding_code_hash == code_hash).with_for_update())
    if household is None:
        raise BindingCodeInvalid()
    if user.household_id == household.id:
        return household
    bound = session.scalar(
        select(func.count(User.id)).where(User.household_id == household.id, User.is_active.is_(True))
    )
    members = session.scalar(
        select(func.count(Resident.id)).where(Resident.household_id == household.id, Resident.left_on.is_(None))
    )
    if bound >= members:
        raise BindingFull(f"本户 {members} 位家庭成员的名额已用完，请联系村里解绑不用的手机")
    user.household_id = household.id
    user.bound_at = now_utc()
    session.flush()
    record(
        session,
        user,
        "household.bind",
        "household",
        household.id,
        f"{household_label(household)} 绑定一部手机（第 {bound + 1}/{members} 部）",
        place_of_village(session, household.village_id),
    )
    return household
