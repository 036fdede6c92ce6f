"""Tokens (expiry, revocation, logout) and household binding with the card code."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from backend.auth.models import ApiToken, User
from backend.db import db
from backend.org.models import Household
from backend.timeutil import now_utc


def test_dev_login_returns_a_token_that_opens_me(api, world) -> None:
    response = api(None).post("/auth/login", json={"code": "dev:t_villager"})
    assert response.status_code == 200
    body = response.json
    assert body["user"]["role"] == "villager"
    assert body["user"]["household_id"] == world.ids["H1"]
    assert body["user"]["village_id"] == world.ids["V1"]
    me = api(None)
    me.token = body["token"]
    assert me.get("/me").json["id"] == body["user"]["id"]


def test_tokens_are_stored_only_as_hashes(app, api, world) -> None:
    token = api(None).post("/auth/login", json={"code": "dev:t_cadre"}).json["token"]
    with app.app_context():
        stored = db.session.scalars(select(ApiToken.token_hash)).all()
    assert token not in stored
    assert all(len(h) == 64 for h in stored)


def test_an_expired_token_is_refused(app, api, world) -> None:
    with app.app_context():
        db.session.execute(update(ApiToken).values(expires_at=now_utc() - timedelta(seconds=1)))
        db.session.commit()
    response = api("villager").get("/me")
    assert response.status_code == 401
    assert response.json["code"] == "unauthenticated"
    assert "过期" in response.json["message"]


def test_logout_revokes_the_token_but_not_other_sessions(api, world) -> None:
    phone = api("villager")
    other_phone = api(None)
    other_phone.token = api(None).post("/auth/login", json={"code": "dev:t_villager"}).json["token"]
    assert phone.post("/auth/logout").status_code == 204
    assert phone.get("/me").status_code == 401
    assert other_phone.get("/me").status_code == 200


def test_a_revoked_token_stays_revoked(app, api, world) -> None:
    with app.app_context():
        db.session.execute(update(ApiToken).values(revoked_at=now_utc()))
        db.session.commit()
    assert api("cadre").get("/me").status_code == 401


def test_garbage_or_missing_bearer_is_unauthenticated(api, world) -> None:
    client = api(None)
    assert client.get("/me").json["code"] == "unauthenticated"
    assert client.get("/me", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/me", headers={"Authorization": "Basic abc"}).status_code == 401


def test_dev_login_for_an_unknown_user_is_refused(api, world) -> None:
    response = api(None).post("/auth/login", json={"code": "dev:nobody"})
    assert response.status_code == 401
    assert response.json["code"] == "wechat_code_invalid"


def test_dev_login_is_refused_when_disabled(app, api, world) -> None:
    app.config["DEV_LOGIN_ENABLED"] = False
    try:
        response = api(None).post("/auth/login", json={"code": "dev:t_villager"})
    finally:
        app.config["DEV_LOGIN_ENABLED"] = True
    assert response.status_code == 401


def test_one_card_code_binds_as_many_phones_as_the_household_has_members_and_no_more(app, api, world) -> None:
    code = world.binding_codes["H6"]  # H6 has two members
    for phone in ("villager_unbound", "villager_far"):
        bound = api(phone).post("/auth/bind", json={"binding_code": code})
        assert bound.status_code == 200, bound.json
        assert bound.json["household_id"] == world.ids["H6"]
    third = api("villager_neighbour").post("/auth/bind", json={"binding_code": code})
    assert third.status_code == 409
    assert third.json["code"] == "binding_full"
    with app.app_context():
        neighbour = db.session.get(User, world.ids["user:villager_neighbour"])
        assert neighbour.household_id == world.ids["H2"]
        assert db.session.get(Household, world.ids["H6"]).binding_code_hash is not None


def test_binding_code_is_forgiving_about_spaces_and_dashes(api, world) -> None:
    code = world.binding_codes["H6"]
    spaced = f"{code[:4]}-{code[4:]} "
    assert api("villager_unbound").post("/auth/bind", json={"binding_code": spaced}).status_code == 200


def test_guessing_binding_codes_is_rate_limited(api, world) -> None:
    phone = api("villager_unbound")
    statuses = [phone.post("/auth/bind", json={"binding_code": f"WRONG{i:03d}"}).status_code for i in range(6)]
    assert statuses[:5] == [422] * 5
    assert statuses[5] == 429
    limited = phone.post("/auth/bind", json={"binding_code": world.binding_codes["H6"]})
    assert limited.json["code"] == "rate_limited"


def test_after_binding_the_villager_sees_the_new_household(api, world) -> None:
    phone = api("villager_unbound")
    assert phone.get(f"/households/{world.ids['H6']}").status_code == 403
    phone.post("/auth/bind", json={"binding_code": world.binding_codes["H6"]})
    assert phone.get(f"/households/{world.ids['H6']}").status_code == 200


def test_cadre_login_names_the_village_they_are_posted_to_and_the_cadre(api, world) -> None:
    user = api(None).post("/auth/login", json={"code": "dev:t_cadre"}).json["user"]
    assert (user["role"], user["village_id"]) == ("cadre", world.ids["V1"])
    assert user["cadre_id"] is not None
    assert api("cadre").get("/me").json["cadre_id"] == user["cadre_id"]
