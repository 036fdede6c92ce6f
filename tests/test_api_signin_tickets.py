"""One-time sign-in tickets: the mini-program shell opens the H5 app with a ticket in the URL, never a token."""

from __future__ import annotations

import re
import threading
from collections import Counter
from datetime import datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from backend.auth import service
from backend.auth.jobs import TOKEN_RETENTION, purge_tokens
from backend.auth.models import ApiToken, SigninTicket
from backend.crypto import lookup_hash
from backend.db import db
from backend.timeutil import now_utc
from tests.factories import World

SPENT = {"code": "unauthenticated", "message": "登录链接已失效，请重新打开"}
URL_SAFE = re.compile(r"^[A-Za-z0-9_-]+$")


def ticket_for(api, role: str) -> str:  # type: ignore[no-untyped-def]
    response = api(role).post("/auth/tickets")
    assert response.status_code == 201, response.json
    return response.json["ticket"]


def test_a_ticket_signs_in_once_within_a_minute_and_never_again(api, world) -> None:
    issued = api("cadre").post("/auth/tickets")
    assert issued.status_code == 201
    ticket = issued.json["ticket"]
    assert URL_SAFE.match(ticket) and len(ticket) * 4 >= 128  # hex: 4 bits a character
    expires_at = datetime.fromisoformat(issued.json["expires_at"])
    assert now_utc() < expires_at <= now_utc() + timedelta(seconds=60)

    first = api(None).post("/auth/tickets/redeem", json={"ticket": ticket})
    assert first.status_code == 200, first.json
    assert first.json["user"]["id"] == world.ids["user:cadre"]
    phone = api(None)
    phone.token = first.json["token"]
    assert phone.get("/me").json["id"] == world.ids["user:cadre"]

    again = api(None).post("/auth/tickets/redeem", json={"ticket": ticket})
    assert (again.status_code, again.json) == (401, SPENT)


def test_redeeming_answers_exactly_as_login_does(api, world) -> None:
    login = api(None).post("/auth/login", json={"code": "dev:t_villager"}).json
    redeemed = api(None).post("/auth/tickets/redeem", json={"ticket": ticket_for(api, "villager")}).json
    assert redeemed.keys() == login.keys() == {"token", "expires_at", "user"}
    assert redeemed["user"] == login["user"]
    assert redeemed["token"] != login["token"]
    lifetime = datetime.fromisoformat(redeemed["expires_at"]) - now_utc()
    assert timedelta(days=29) < lifetime <= timedelta(days=30)


def test_a_ticket_older_than_a_minute_no_longer_signs_in(api, world, monkeypatch) -> None:
    ticket = ticket_for(api, "villager")
    later = now_utc() + timedelta(seconds=61)
    monkeypatch.setattr(service, "now_utc", lambda: later)
    response = api(None).post("/auth/tickets/redeem", json={"ticket": ticket})
    assert (response.status_code, response.json) == (401, SPENT)


def test_an_unknown_ticket_signs_in_nobody_and_changes_nothing(app, api, world) -> None:
    last = world.signin_ticket[-1]
    near_miss = world.signin_ticket[:-1] + ("1" if last == "0" else "0")
    response = api(None).post("/auth/tickets/redeem", json={"ticket": near_miss})
    assert (response.status_code, response.json) == (401, SPENT)
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(SigninTicket.used_at.is_not(None))) == 0


def test_tickets_are_stored_only_as_keyed_hashes(app, api, world) -> None:
    ticket = ticket_for(api, "reviewer")
    with app.app_context():
        stored = db.session.scalars(select(SigninTicket.ticket_hash)).all()
    assert ticket not in stored
    assert lookup_hash(ticket) in stored


def test_redeeming_tickets_is_rate_limited_like_login(app, api, world) -> None:
    phone = api(None)
    statuses = [phone.post("/auth/tickets/redeem", json={"ticket": f"guess{n}"}).status_code for n in range(31)]
    assert statuses == [401] * 30 + [429]
    limited = phone.post("/auth/tickets/redeem", json={"ticket": world.signin_ticket})
    assert limited.json["code"] == "rate_limited"


def test_the_nightly_purge_drops_tickets_a_month_past_their_expiry(app, world) -> None:
    with app.app_context():
        user_id = world.ids["user:villager"]
        old = now_utc() - TOKEN_RETENTION - timedelta(days=1)
        db.session.add(SigninTicket(user_id=user_id, ticket_hash="0" * 64, expires_at=old))
        db.session.flush()
        assert purge_tokens(db.session) == 1
        assert db.session.scalars(select(SigninTicket.ticket_hash)).all() == [lookup_hash(world.signin_ticket)]


@pytest.mark.real_commits  # threads: each its own connection
def test_phones_redeeming_one_ticket_at_once_get_one_token(app: Flask, world: World) -> None:
    barrier = threading.Barrier(4)
    statuses: list[int] = []

    def redeem() -> None:
        client = app.test_client()
        barrier.wait()
        statuses.append(client.post("/api/mp/v1/auth/tickets/redeem", json={"ticket": world.signin_ticket}).status_code)

    threads = [threading.Thread(target=redeem) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Counter(statuses) == {200: 1, 401: 3}
    with app.app_context():
        tokens = db.session.scalar(select(func.count()).where(ApiToken.user_id == world.ids["user:villager"]))
        db.session.remove()
    assert tokens == 2  # the world's own, and the one the ticket gave
