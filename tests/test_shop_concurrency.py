"""Many phones at once, through the HTTP API with real connections: never oversell, never overdraw."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from backend.auth.models import Role, User
from backend.auth.service import issue_token
from backend.db import db
from backend.org.models import Grid, Household, Village
from backend.points.ledger import balance_mismatches
from backend.shop.models import Product, Redemption, StockEntry, StockKind
from backend.shop.stock import stock_mismatches
from tests.factories import World
from tests.factories_shop import add_product, open_all_month

URL = "/api/mp/v1/shop/redemptions"

pytestmark = pytest.mark.real_commits  # threads: each its own connection


def fire(app: Flask, requests: list[tuple[str, dict]]) -> list[tuple[int, str | None, str]]:
    """Send every (token, body) from its own thread and test client, all released at once."""
    results: list[tuple[int, str | None, str]] = []
    barrier = threading.Barrier(len(requests))

    def send(token: str, body: dict) -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post(URL, json=body, headers={"Authorization": f"Bearer {token}"})
        results.append((response.status_code, (response.json or {}).get("code"), response.get_data(as_text=True)))

    threads = [threading.Thread(target=send, args=request) for request in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def villagers(session, world: World, count: int) -> list[str]:  # type: ignore[no-untyped-def]
    """`count` more households of 青石村, each with a bound villager and a token."""
    village = session.get_one(Village, world.ids["V1"])
    grid = session.scalar(select(Grid).where(Grid.village_id == village.id))
    households = [
        Household(village_id=village.id, grid_id=grid.id, number=f"9{n:03d}", address=f"青石村九组{n}号")
        for n in range(count)
    ]
    session.add_all(households)
    session.flush()
    users = [User(username=f"t_crowd_{n}", role=Role.villager, household_id=h.id) for n, h in enumerate(households)]
    session.add_all(users)
    session.flush()
    return [issue_token(session, user, timedelta(hours=1)).token for user in users]


def assert_books_balance(app: Flask) -> None:
    with app.app_context():
        assert balance_mismatches(db.session) == []
        assert stock_mismatches(db.session) == []
        assert db.session.scalar(select(func.min(Product.stock))) >= 0
        db.session.remove()


def test_two_hundred_households_racing_for_the_last_five_bags_get_exactly_five(app, database, world) -> None:
    with database() as s:
        open_all_month(s, world, "V1")
        product_id = add_product(s, world, "大米（10斤）", 30, 5)
        tokens = villagers(s, world, 200)
    results = fire(app, [(token, {"product_id": product_id, "quantity": 1}) for token in tokens])
    statuses = Counter((status, code) for status, code, _ in results)
    assert statuses == {(201, None): 5, (409, "out_of_stock"): 195}, statuses
    assert not any("database is locked" in body for _, _, body in results)
    with database() as s:
        product = s.get_one(Product, product_id)
        assert (product.stock, product.held) == (0, 5)
        holds = s.scalar(select(func.count()).where(StockEntry.kind == StockKind.hold))
        assert holds == 5
        assert s.scalar(select(func.count()).select_from(Redemption)) == 5
    assert_books_balance(app)


def test_one_household_firing_fifty_requests_gets_only_what_it_can_afford(app, database, world) -> None:
    with database() as s:
        open_all_month(s, world, "V1")
        product_id = add_product(s, world, "食用油", 30, 100)  # base score 100 buys three
    token = world.tokens["villager"]
    results = fire(app, [(token, {"product_id": product_id, "quantity": 1}) for _ in range(50)])
    statuses = Counter((status, code) for status, code, _ in results)
    assert statuses == {(201, None): 3, (409, "insufficient_points"): 47}, statuses
    with database() as s:
        product = s.get_one(Product, product_id)
        assert (product.stock, product.held) == (97, 3)
    assert_books_balance(app)
