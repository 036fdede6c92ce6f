"""Binding on the phone app in a real browser: a family member binds their own phone with the card code, a new
cadre's WeChat joins with an invitation, and a helper taps to call a paired household."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from backend.auth import invitations
from backend.auth.models import User
from backend.auth.scope import scope_for
from backend.org.models import Resident
from tests.e2e.phone import Database, Server, tab
from tests.factories import World

pytestmark = pytest.mark.real_commits  # the server answers from its own threads and connections


def fresh_wechat(server: Server, code: str) -> str:
    """The token of a WeChat signing in for the first time: an account bound to nothing yet."""
    return server.call("POST", "/auth/login", None, {"code": code})["token"]


def test_a_family_member_binds_their_own_phone_with_the_card_code(
    open_app: Callable[[str], Page], server: Server, world: World
) -> None:
    phone = open_app(fresh_wechat(server, "wx-e2e-daughter"))
    phone.get_by_label("绑定码").fill(world.binding_codes["H6"])
    phone.get_by_role("button", name="绑定", exact=True).click()
    expect(phone.get_by_role("region", name="我家积分")).to_be_visible()


def test_an_invited_cadre_signs_in_with_the_invitation_code(
    open_app: Callable[[str], Page], server: Server, world: World, database: Database
) -> None:
    with database() as session:
        admin = session.get(User, world.ids["user:town_admin"])
        code = invitations.invite_cadre(session, scope_for(session, admin), admin, world.ids["cadre"]).code
    phone = open_app(fresh_wechat(server, "wx-e2e-zhao"))
    phone.get_by_role("button", name="我是驻村干部，用邀请码登录").click()
    phone.get_by_label("邀请码").fill(code)
    phone.get_by_role("button", name="登录", exact=True).click()
    expect(phone.get_by_role("tab", name="走访")).to_be_visible()


def test_a_helper_taps_to_call_a_paired_household(
    open_app: Callable[[str], Page], world: World, database: Database
) -> None:
    with database() as session:
        head_phone = session.scalar(
            select(Resident.phone).where(Resident.household_id == world.ids["H1"], Resident.is_head)
        )
    phone = open_app(world.tokens["cadre"])
    tab(phone, "走访")
    call = phone.get_by_role("link", name="拨打 户主 王*", exact=False).first
    expect(call).to_contain_text(head_phone)
    expect(call).to_have_attribute("href", f"tel:{head_phone}")
