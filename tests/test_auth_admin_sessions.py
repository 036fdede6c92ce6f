"""Admin sign-ins the server can end: sign-out ends that browser's session, and disabling an account, a new
password or a new role or scope sign the user out everywhere (admin sessions, phone tokens, sign-in tickets)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from backend.auth import accounts
from backend.auth.jobs import purge_tokens
from backend.auth.models import AdminSession, Role, User
from backend.db import db
from backend.errors import InvalidRequest
from backend.timeutil import now_utc
from tests.admin_helpers import PASSWORD, html, post_form, post_login
from tests.factories import World

NEW_PASSWORD = "a brand new passphrase"


def copy_of_cookie(app: Flask, client: FlaskClient) -> FlaskClient:
    """Another browser holding the session cookie `client` has now (as if copied off its disk)."""
    copied = app.test_client()
    copied.set_cookie("session", client.get_cookie("session").value, domain="localhost")
    return copied


def change_account(database, world: World, name: str, change) -> None:  # type: ignore[no-untyped-def]
    with database() as s:
        change(s, s.get(User, world.ids[f"user:{name}"]))


def test_a_cookie_copied_before_logout_no_longer_opens_the_admin_after_it(app, admin):
    browser = admin("county_admin")
    copied = copy_of_cookie(app, browser)
    assert copied.get("/admin/").status_code == 200

    assert post_form(browser, "/admin/logout", {}).status_code == 302
    assert copied.get("/admin/").status_code == 302
    assert browser.get("/admin/").status_code == 302


def test_logging_out_in_one_browser_leaves_the_admin_signed_in_in_another(app, admin):
    office, home = admin("town_admin"), admin("town_admin")
    post_form(office, "/admin/logout", {})
    assert office.get("/admin/").status_code == 302
    assert home.get("/admin/").status_code == 200


def test_the_session_cookie_carries_a_token_the_database_holds_only_as_a_keyed_hash(app, admin, database, world):
    browser = admin("reviewer")
    with browser.session_transaction() as sess:
        token = sess["admin_session"]
    with database() as s:
        stored = s.scalars(select(AdminSession.token_hash).where(AdminSession.user_id == world.ids["user:reviewer"]))
        assert token not in set(stored)


def test_a_disabled_admin_is_signed_out_of_the_admin_and_the_phone_for_good(app, admin, api, database, world, caplog):
    browser, phone = admin("county_admin"), api("county_admin")
    assert phone.get("/me").status_code == 200

    with caplog.at_level("INFO", logger="backend.auth"):
        change_account(database, world, "county_admin", accounts.disable_account)
    user_id = world.ids["user:county_admin"]
    assert f"sessions ended for user {user_id} (account disabled): 1 admin session(s), 1 API token(s)" in caplog.text
    assert browser.get("/admin/").status_code == 302
    assert phone.get("/me").status_code == 401

    with database() as s:
        s.get(User, world.ids["user:county_admin"]).is_active = True
    # Enabled again: the old sign-ins stay ended (revoked, not just refused while disabled).
    assert browser.get("/admin/").status_code == 302
    assert phone.get("/me").status_code == 401


def test_a_disabled_villager_cannot_redeem_a_sign_in_ticket_issued_before(api, database, world):
    change_account(database, world, "villager", accounts.disable_account)
    redeemed = api(None).post("/auth/tickets/redeem", json={"ticket": world.signin_ticket})
    assert redeemed.status_code == 401


def test_a_new_password_signs_the_admin_out_everywhere_and_only_it_signs_in(app, admin, api, database, world):
    browser, phone = admin("town_admin"), api("town_admin")

    change_account(database, world, "town_admin", lambda s, user: accounts.set_password(s, user, NEW_PASSWORD))
    assert browser.get("/admin/").status_code == 302
    assert phone.get("/me").status_code == 401
    username = "t_town"
    assert post_login(app.test_client(), username, PASSWORD).status_code == 200
    assert post_login(app.test_client(), username, NEW_PASSWORD).status_code == 302


def test_a_password_shorter_than_ten_characters_is_refused(session, world):
    with pytest.raises(InvalidRequest, match="至少 10 位"):
        accounts.set_password(session, session.get(User, world.ids["user:town_admin"]), "too short")


def test_a_new_role_or_scope_signs_the_admin_out_and_the_next_sign_in_has_it(app, admin, api, database, world):
    browser, phone = admin("town_admin"), api("town_admin")

    change_account(
        database, world, "town_admin", lambda s, u: accounts.assign_admin_role(s, u, Role.reviewer, "610999102001")
    )
    assert browser.get("/admin/").status_code == 302
    assert phone.get("/me").status_code == 401
    with database() as s:
        user = s.get(User, world.ids["user:town_admin"])
        assert (user.role, user.village_id, user.town_id) == (Role.reviewer, world.ids["V3"], None)

    again = admin("town_admin")
    assert "河口村" in html(again.get("/admin/")) and "村评议小组" in html(again.get("/admin/"))

    # The same role over another village is a change of scope.
    change_account(
        database, world, "town_admin", lambda s, u: accounts.assign_admin_role(s, u, Role.reviewer, "610999101001")
    )
    assert again.get("/admin/").status_code == 302


def test_setting_the_role_and_region_an_admin_already_has_keeps_them_signed_in(admin, database, world):
    browser = admin("town_admin")
    change_account(
        database, world, "town_admin", lambda s, u: accounts.assign_admin_role(s, u, Role.town_admin, "610999101")
    )
    assert browser.get("/admin/").status_code == 200


def test_users_commands_disable_set_passwords_and_roles_and_name_what_they_refuse(app, admin, database, world):
    runner = app.test_cli_runner()
    browser = admin("county_admin")

    result = runner.invoke(args=["users", "set-password", "t_county"], input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert browser.get("/admin/").status_code == 302
    assert post_login(app.test_client(), "t_county", NEW_PASSWORD).status_code == 302

    result = runner.invoke(args=["users", "set-role", "t_county", "town_admin", "610999102"])
    assert result.exit_code == 0, result.output
    with database() as s:
        user = s.get(User, world.ids["user:county_admin"])
        assert (user.role, user.town_id, user.county_id) == (Role.town_admin, world.ids["T2"], None)

    result = runner.invoke(args=["users", "disable", "t_county"])
    assert result.exit_code == 0, result.output
    with database() as s:
        assert s.get(User, world.ids["user:county_admin"]).is_active is False

    refused = runner.invoke(args=["users", "disable", "nobody_here"])
    assert refused.exit_code == 1 and "没有账号 nobody_here" in refused.output
    refused = runner.invoke(args=["users", "set-role", "t_town", "reviewer", "999"])
    assert refused.exit_code == 1 and "没有代码为 999 的行政村" in refused.output


def test_the_nightly_purge_drops_sessions_a_month_after_they_ended(app, admin, world):
    post_form(admin("reviewer"), "/admin/logout", {})
    admin("reviewer")  # still signed in: kept however old
    with time_machine.travel(now_utc() + timedelta(days=31), tick=False), app.app_context():
        purge_tokens(db.session)
        db.session.commit()
        left = db.session.scalars(
            select(AdminSession.ended_at).where(AdminSession.user_id == world.ids["user:reviewer"])
        )
        assert list(left) == [None]
