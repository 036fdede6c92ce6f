"""Login with a wx.login code or a one-time ticket, the dev logins, household binding, logout, and who am I."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import fields, validate

from backend.auth import invitations, service
from backend.auth.models import ROLE_LABELS, Role, User
from backend.auth.scope import scope_for
from backend.auth.wechat import DevWechatGateway, HttpWechatGateway, WechatGateway
from backend.crypto import mask_name
from backend.db import db
from backend.demo.org import demo_logins
from backend.errors import NotFound
from backend.extensions import limiter
from miniprogram_api import BASE
from miniprogram_api.policy import ALL_ROLES, allow, bearer_token, current_user, public
from miniprogram_api.schemas import ApiSchema, Int

blp = Blueprint("mp_auth", __name__, url_prefix=BASE, description="登录与身份")


class LoginArgs(ApiSchema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=128))


class BindArgs(ApiSchema):
    binding_code = fields.String(required=True, validate=validate.Length(min=4, max=32))


class RedeemInvitationArgs(ApiSchema):
    invitation_code = fields.String(
        required=True, validate=validate.Length(min=4, max=32), metadata={"description": "管理员给驻村干部的邀请码"}
    )


class UserSchema(ApiSchema):
    id = Int()
    role = fields.String()
    name = fields.String()
    household_id = Int(allow_none=True)
    village_id = Int(allow_none=True)
    cadre_id = Int(allow_none=True, metadata={"description": "驻村干部本人（日纪实、走访按它筛选）"})


class LoginResult(ApiSchema):
    token = fields.String()
    expires_at = fields.DateTime()
    user = fields.Nested(UserSchema)


class TicketSchema(ApiSchema):
    ticket = fields.String()
    expires_at = fields.DateTime()


class RedeemTicketArgs(ApiSchema):
    ticket = fields.String(required=True, validate=validate.Length(min=1, max=128))


class DevAccountSchema(ApiSchema):
    username = fields.String()
    name = fields.String()
    role = fields.String()
    role_label = fields.String()
    village = fields.String(allow_none=True)


class DevAccountsSchema(ApiSchema):
    items = fields.List(fields.Nested(DevAccountSchema))


def wechat_gateway() -> WechatGateway:
    gateway = current_app.extensions.get("xz_wechat_gateway")
    if gateway is not None:
        return gateway
    cfg = current_app.config
    if not cfg["WECHAT_APPID"]:
        # Laptops without a mini-program account; production refuses to start without WECHAT_APPID.
        return DevWechatGateway(enabled=cfg["DEV_LOGIN_ENABLED"])
    return HttpWechatGateway(cfg["WECHAT_API_BASE"], cfg["WECHAT_APPID"], cfg["WECHAT_SECRET"], cfg["WECHAT_TIMEOUT"])


def user_view(user: User) -> dict:
    village_id = user.village_id
    if user.role == Role.villager and user.household is not None:
        village_id = user.household.village_id
    elif user.role == Role.cadre:
        villages = scope_for(db.session, user).village_ids
        village_id = min(villages) if villages else None
    return {
        "id": user.id,
        "role": user.role.value,
        "name": user.display_name,
        "household_id": user.household_id,
        "village_id": village_id,
        "cadre_id": user.cadre_id,
    }


def signed_in(issued: service.IssuedToken) -> dict:
    return {"token": issued.token, "expires_at": issued.expires_at, "user": user_view(issued.user)}


@blp.route("/auth/login", methods=["POST"])
@public
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"])
@blp.arguments(LoginArgs)
@blp.response(200, LoginResult)
def login(args: dict) -> dict:
    """A bearer token for a wx.login code, and the user it signs in."""
    issued = service.login_with_wechat_code(
        db.session,
        wechat_gateway(),
        args["code"],
        dev_login=current_app.config["DEV_LOGIN_ENABLED"],
        ttl=timedelta(days=current_app.config["TOKEN_TTL_DAYS"]),
    )
    return signed_in(issued)


@blp.route("/auth/tickets", methods=["POST"])
@allow(*ALL_ROLES)
@blp.response(201, TicketSchema)
def issue_ticket() -> service.IssuedTicket:
    """A one-time sign-in ticket, valid for a minute: the mini-program shell opens the H5 app with it."""
    ttl = timedelta(seconds=current_app.config["SIGNIN_TICKET_TTL"])
    return service.issue_signin_ticket(db.session, current_user(), ttl)


@blp.route("/auth/tickets/redeem", methods=["POST"])
@public
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"])
@blp.arguments(RedeemTicketArgs)
@blp.response(200, LoginResult)
def redeem_ticket(args: dict) -> dict:
    """A bearer token for a one-time sign-in ticket, as login answers; a ticket signs in once."""
    ttl = timedelta(days=current_app.config["TOKEN_TTL_DAYS"])
    return signed_in(service.redeem_signin_ticket(db.session, args["ticket"], ttl=ttl))


@blp.route("/auth/dev-accounts", methods=["GET"])
@public
@blp.response(200, DevAccountsSchema)
def dev_accounts() -> dict:
    """The demo county's logins the dev sign-in offers, villagers first; not found unless dev login is on."""
    if not current_app.config["DEV_LOGIN_ENABLED"]:
        raise NotFound()
    return {"items": [dev_account(login.user, login.village) for login in demo_logins(db.session)]}


def dev_account(user: User, village: str | None) -> dict:
    # A cadre's display name is their own name (masked); the others' name a household or an office.
    name = mask_name(user.display_name) if user.role == Role.cadre else user.display_name
    return {
        "username": user.username,
        "name": name,
        "role": user.role.value,
        "role_label": ROLE_LABELS[user.role],
        "village": village,
    }


@blp.route("/auth/bind", methods=["POST"])
@allow(Role.villager)
@limiter.limit(lambda: current_app.config["BIND_RATE_LIMIT"])
@blp.arguments(BindArgs)
@blp.response(200, UserSchema)
def bind(args: dict) -> dict:
    """Bind the villager to the household on a card's binding code; the user, now with that household."""
    service.bind_household(db.session, current_user(), args["binding_code"])
    return user_view(current_user())


@blp.route("/auth/invitations/redeem", methods=["POST"])
@allow(Role.villager)
@limiter.limit(lambda: current_app.config["BIND_RATE_LIMIT"])
@blp.arguments(RedeemInvitationArgs)
@blp.response(200, LoginResult)
def redeem_invitation(args: dict) -> dict:
    """Make this WeChat the invited cadre's login with a one-time invitation code; a new token for the cadre."""
    ttl = timedelta(days=current_app.config["TOKEN_TTL_DAYS"])
    return signed_in(invitations.redeem_invitation(db.session, current_user(), args["invitation_code"], ttl=ttl))


@blp.route("/auth/logout", methods=["POST"])
@allow(*ALL_ROLES)
@blp.response(204)
def logout() -> None:
    """Revoke the bearer token this request carries; no content."""
    service.revoke_token(db.session, bearer_token())


@blp.route("/me", methods=["GET"])
@allow(*ALL_ROLES)
@blp.response(200, UserSchema)
def me() -> dict:
    """The signed-in user: role, name, household and village."""
    return user_view(current_user())
