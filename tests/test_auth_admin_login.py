"""Admin sign-in throttling: failures per address are rate-limited, each account name backs off exponentially
from the addresses that failed it, nobody elsewhere can lock its owner out, and an unknown name is answered
exactly as a known one."""

from __future__ import annotations

import re
from datetime import timedelta

import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from backend.auth import admin_login
from backend.auth.models import AdminLoginFailure
from backend.timeutil import now_utc
from tests.admin_helpers import CSRF_INPUT, PASSWORD, html, post_login

WRONG = "not the password"
CSRF_TOKENS = re.compile(r'(name="csrf_token"[^>]*value|name="csrf-token" content)="[^"]+"')
ATTACKER, OFFICE = "203.0.113.9", "198.51.100.7"


def browser_at(app: Flask, address: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def fail(client: FlaskClient, username: str, times: int) -> list[int]:
    return [post_login(client, username, WRONG).status_code for _ in range(times)]


def test_an_admin_who_mistypes_now_and_then_signs_in_at_once(app, world, with_password):
    username = with_password("town_admin")
    client = app.test_client()
    assert fail(client, username, 4) == [200] * 4
    assert post_login(client, username, PASSWORD).status_code == 302


def test_after_five_failures_each_next_try_waits_twice_as_long_without_a_password_check(app, world, with_password):
    username = with_password("town_admin")
    client = app.test_client()
    with time_machine.travel(now_utc(), tick=False) as clock:
        assert fail(client, username, 5) == [200] * 5
        for wait in (1, 2, 4, 8):
            refused = post_login(client, username, PASSWORD)  # the right password, not even checked
            # Retry-After: at least the wait (the per-address limit's window may end later).
            assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= wait
            assert f"尝试过于频繁，请 {wait} 秒后再试" in html(refused)
            clock.shift(timedelta(seconds=wait))
            assert fail(client, username, 1) == [200]
        clock.shift(timedelta(seconds=16))
        assert post_login(client, username, PASSWORD).status_code == 302
        assert client.get("/admin/").status_code == 200


def test_the_wait_stops_growing_at_fifteen_minutes(app, world, with_password):
    username = with_password("town_admin")
    client = app.test_client()
    with time_machine.travel(now_utc(), tick=False) as clock:
        for _ in range(16):
            fail(client, username, 1)
            clock.shift(admin_login.MAX_WAIT)
        clock.shift(-admin_login.MAX_WAIT)
        assert "请 900 秒后再试" in html(post_login(client, username, PASSWORD))


def test_an_attacker_failing_county_admin_from_one_address_does_not_keep_county_admin_out(app, world, with_password):
    username = with_password("county_admin")
    attacker, owner = browser_at(app, ATTACKER), browser_at(app, OFFICE)
    assert fail(attacker, username, 8) == [200] * 5 + [429] * 3

    assert post_login(owner, username, PASSWORD).status_code == 302
    assert owner.get("/admin/").status_code == 200
    # The attacker stays throttled: the owner's sign-in forgot only the owner's address's failures.
    assert post_login(attacker, username, PASSWORD).status_code == 429


def test_each_new_address_gets_one_password_check_while_the_name_backs_off(app, world, with_password):
    username = with_password("county_admin")
    fail(browser_at(app, ATTACKER), username, 5)
    elsewhere = browser_at(app, OFFICE)
    assert fail(elsewhere, username, 2) == [200, 429]


def test_rapid_failed_sign_ins_from_one_address_get_429_from_the_twenty_first(app, world, caplog):
    client = browser_at(app, ATTACKER)
    with caplog.at_level("INFO", logger="flask-limiter"):
        statuses = [post_login(client, f"nobody{i}", WRONG).status_code for i in range(41)]
    assert statuses == [200] * 20 + [429] * 21
    refused = post_login(client, "nobody", WRONG)
    assert refused.status_code == 429 and "操作过于频繁，请稍后再试" in html(refused)
    assert f"(ip:{ATTACKER}) exceeded at endpoint: admin.login" in caplog.text


def test_an_office_behind_one_address_signs_in_as_often_as_it_likes(app, world, with_password):
    username = with_password("reviewer")
    assert {post_login(app.test_client(), username, PASSWORD).status_code for _ in range(25)} == {302}


def test_an_unknown_name_gets_the_byte_identical_answer_of_a_known_one(app, world, with_password):
    known, unknown = with_password("county_admin"), "no_such_admin"

    def answers(username: str) -> list[tuple[int, str, str | None]]:
        client = browser_at(app, f"192.0.2.{len(username)}")
        replies = [post_login(client, username, WRONG) for _ in range(6)]
        return [
            (r.status_code, CSRF_TOKENS.sub("", html(r)).replace(username, "NAME"), r.headers.get("Retry-After"))
            for r in replies
        ]

    with time_machine.travel(now_utc(), tick=False):
        known_answers, unknown_answers = answers(known), answers(unknown)
    assert known_answers == unknown_answers
    assert [status for status, _, _ in known_answers] == [200] * 5 + [429]


def test_a_wrong_password_for_an_unknown_name_costs_a_password_hash_like_a_known_one(app, world, monkeypatch):
    checked: list[str | None] = []
    real = admin_login.verify_password

    def spy(password_hash: str | None, password: str) -> bool:
        checked.append(password_hash)
        return real(password_hash, password)

    monkeypatch.setattr(admin_login, "verify_password", spy)
    client = app.test_client()
    post_login(client, "no_such_admin", WRONG)
    post_login(client, "t_cadre", WRONG)  # known, but not an admin
    assert checked == [None, None]  # verify_password hashes the password when there is no hash to check


def test_failures_are_kept_by_name_hash_and_address_and_logged_without_the_password(app, world, database, caplog):
    client = browser_at(app, ATTACKER)
    with caplog.at_level("INFO", logger="backend.auth"):
        fail(client, "t_county", 6)
    with database() as s:
        rows = s.execute(select(AdminLoginFailure.username_hash, AdminLoginFailure.address)).all()
    assert len(rows) == 5 and {address for _, address in rows} == {ATTACKER}
    assert "t_county" not in {name for name, _ in rows}
    logged = caplog.text
    assert logged.count("admin sign-in failed") == 5 and logged.count("admin sign-in throttled") == 1
    assert ATTACKER in logged and WRONG not in logged and "t_county" not in logged


def test_sign_in_and_out_are_logged_with_the_user_id_and_address(app, world, with_password, caplog):
    username = with_password("reviewer")
    client = browser_at(app, OFFICE)
    with caplog.at_level("INFO", logger="backend.auth"):
        post_login(client, username, PASSWORD)
        token = CSRF_INPUT.search(html(client.get("/admin/"))).group(1)
        client.post("/admin/logout", data={"csrf_token": token})
    user_id = world.ids["user:reviewer"]
    assert re.search(rf"admin sign-in: user {user_id} from {OFFICE}", caplog.text)
    assert re.search(rf"admin sign-out: user {user_id} from {OFFICE}", caplog.text)
