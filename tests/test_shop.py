"""The points supermarket through the phone API: what villagers and the review panel see and get."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import delete, select, update

from backend.auth.models import User
from backend.inbox.models import Notification
from backend.jobs.runner import execute
from backend.points.ledger import balance_mismatches
from backend.points.models import LedgerEntry, PointsAccount, RuleBook
from backend.shop import redemptions
from backend.shop.models import Product, Redemption, RedemptionWindow, ShopSetting, WindowCadence
from backend.shop.settings import window_covers
from backend.shop.stock import stock_mismatches
from backend.timeutil import now_utc, today_local
from tests.factories_shop import add_product, staff_scope, stock_shop, villager_scope
from tests.test_points_claims import claim


@pytest.fixture
def shop(database, world):  # type: ignore[no-untyped-def]
    with database() as s:
        stock_shop(s, world)
    return world


def points_of(database, household_id: int) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    with database() as s:
        account = s.get(PointsAccount, household_id)
        return (account.balance, account.held) if account else (None, None)


def stock_of(database, product_id: int) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    with database() as s:
        product = s.get_one(Product, product_id)
        return product.stock, product.held


def books_balance(database) -> None:  # type: ignore[no-untyped-def]
    with database() as s:
        assert balance_mismatches(s) == []
        assert stock_mismatches(s) == []


def notifications(database, household_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    with database() as s:
        return list(
            s.scalars(
                select(Notification.kind).where(Notification.household_id == household_id).order_by(Notification.id)
            )
        )


def redeem(api, shop, quantity: int = 1, who: str = "villager", product: str = "product:rice", **kwargs):  # type: ignore[no-untyped-def]
    return api(who).post("/shop/redemptions", json={"product_id": shop.ids[product], "quantity": quantity}, **kwargs)


def test_the_villager_sees_the_active_goods_of_their_own_village(api, shop, database) -> None:
    with database() as s:
        add_product(s, shop, "洗衣粉", 15, 0)
        hidden = add_product(s, shop, "旧毛巾", 5, 3)
        s.execute(update(Product).where(Product.id == hidden).values(is_active=False))
        add_product(s, shop, "食用油", 50, 4, village="V2")
    items = api("villager").get("/shop/products").json["items"]
    assert [(p["name"], p["points"], p["stock"]) for p in items] == [("大米（10斤）", 30, 10), ("洗衣粉", 15, 0)]
    assert set(items[0]) >= {"id", "name", "image_url", "points", "stock", "per_household_limit"}


def test_approve_then_hand_over_spends_the_held_points_and_stock(api, shop, database, app) -> None:
    household, rice = shop.ids["H1"], shop.ids["product:rice"]
    made = redeem(api, shop, 2)
    assert made.status_code == 201, made.json
    assert (made.json["status"], made.json["points_held"]) == ("pending", 60)
    assert points_of(database, household) == (40, 60)
    assert stock_of(database, rice) == (8, 2)

    approved = api("reviewer").post(f"/review/redemptions/{made.json['id']}/approve")
    assert approved.status_code == 200, approved.json
    code = approved.json["pickup_code"]
    assert len(code) == 6 and code.isdigit()
    mine = api("villager").get("/shop/redemptions").json["items"][0]
    assert (mine["status"], mine["pickup_code"]) == ("approved", code)
    qr = api("villager").get(f"/shop/redemptions/{made.json['id']}/qr.svg")
    assert qr.status_code == 200 and qr.mimetype == "image/svg+xml" and b"<svg" in qr.data
    # A full QR code (21 modules or more, drawn 6 px each with a 2-module border), never a Micro QR (≤ 17).
    assert int(re.search(rb'width="(\d+)"', qr.data).group(1)) // 6 - 4 >= 21
    assert notifications(database, household) == ["redemption_approved"]
    assert points_of(database, household) == (40, 60)

    keeper = api("reviewer")
    url = f"/review/redemptions/{made.json['id']}/hand-over"
    wrong = keeper.post(url, json={"pickup_code": "000000" if code != "000000" else "111111"})
    assert (wrong.status_code, wrong.json["code"]) == (422, "pickup_code_invalid")
    done = keeper.post(url, json={"pickup_code": code})
    assert (done.status_code, done.json["status"]) == (200, "handed_over")
    assert points_of(database, household) == (40, 0)
    assert stock_of(database, rice) == (8, 0)
    twice = keeper.post(url, json={"pickup_code": code})
    assert (twice.status_code, twice.json["code"]) == (409, "redemption_not_approved")
    with database() as s:
        kinds = s.execute(
            select(LedgerEntry.kind, LedgerEntry.amount, LedgerEntry.held_delta)
            .where(LedgerEntry.household_id == household)
            .order_by(LedgerEntry.id)
        ).all()
    assert [(k.value, a, h) for k, a, h in kinds] == [("base", 100, 0), ("hold", -60, 60), ("spend", 0, -60)]
    books_balance(database)


def test_rejection_releases_points_and_stock_and_tells_the_household_why(api, shop, database) -> None:
    household, rice = shop.ids["H1"], shop.ids["product:rice"]
    made = redeem(api, shop, 3).json
    assert points_of(database, household) == (10, 90)
    rejected = api("reviewer").post(f"/review/redemptions/{made['id']}/reject", json={"reason": "大米已发完"})
    assert (rejected.status_code, rejected.json["status"]) == (200, "rejected")
    assert points_of(database, household) == (100, 0)
    assert stock_of(database, rice) == (10, 0)
    assert notifications(database, household) == ["redemption_rejected"]
    late = api("reviewer").post(f"/review/redemptions/{made['id']}/approve")
    assert (late.status_code, late.json["code"]) == (409, "redemption_not_pending")
    books_balance(database)


def test_the_villager_may_cancel_only_while_pending(api, shop, database) -> None:
    household, rice = shop.ids["H1"], shop.ids["product:rice"]
    first = redeem(api, shop).json
    cancelled = api("villager").post(f"/shop/redemptions/{first['id']}/cancel")
    assert (cancelled.status_code, cancelled.json["status"]) == (200, "cancelled")
    assert points_of(database, household) == (100, 0)
    assert stock_of(database, rice) == (10, 0)
    second = redeem(api, shop).json
    api("reviewer").post(f"/review/redemptions/{second['id']}/approve")
    refused = api("villager").post(f"/shop/redemptions/{second['id']}/cancel")
    assert (refused.status_code, refused.json["code"]) == (409, "redemption_not_pending")
    assert points_of(database, household) == (70, 30)
    books_balance(database)


def test_uncollected_goods_expire_after_the_pickup_days_and_everything_is_released(api, shop, database, app) -> None:
    household, rice = shop.ids["H1"], shop.ids["product:rice"]
    made = redeem(api, shop, 2).json
    api("reviewer").post(f"/review/redemptions/{made['id']}/approve")
    start = now_utc()
    with app.app_context(), time_machine.travel(start + timedelta(days=6, hours=12), tick=False):
        assert execute("shop.expire_redemptions", {}) == 0  # still inside the 7 days: a reminder only
    assert notifications(database, household) == ["redemption_approved", "redemption_ready"]
    assert points_of(database, household) == (40, 60)
    with app.app_context(), time_machine.travel(start + timedelta(days=7, minutes=1), tick=False):
        assert execute("shop.expire_redemptions", {}) == 1
        assert execute("shop.expire_redemptions", {}) == 0  # idempotent
    with database() as s:
        assert s.get_one(Redemption, made["id"]).status == "expired"
    assert points_of(database, household) == (100, 0)
    assert stock_of(database, rice) == (10, 0)
    assert notifications(database, household)[-1] == "redemption_expired"
    books_balance(database)


def test_a_village_setting_overrides_the_county_pickup_days(api, shop, database) -> None:
    with database() as s:
        s.add(ShopSetting(county_id=shop.ids["C1"], pickup_days=10))
        s.add(ShopSetting(village_id=shop.ids["V1"], pickup_days=2))
    made = redeem(api, shop).json
    approved = api("reviewer").post(f"/review/redemptions/{made['id']}/approve").json
    expires = datetime.fromisoformat(approved["expires_at"])
    assert timedelta(days=2) - timedelta(minutes=1) < expires - now_utc() <= timedelta(days=2)


def test_the_per_household_limit_counts_open_and_collected_redemptions_this_period(api, shop, database) -> None:
    with database() as s:
        shop.ids["product:oil"] = add_product(s, shop, "食用油", 20, 10, per_household_limit=2)
    assert redeem(api, shop, 2, product="product:oil").status_code == 201
    over = redeem(api, shop, 1, product="product:oil")
    assert (over.status_code, over.json["code"]) == (409, "redemption_limit_reached")
    assert "限兑 2" in over.json["message"]
    assert redeem(api, shop, 1, who="villager_neighbour", product="product:oil").status_code == 201
    mine = api("villager").get("/shop/redemptions").json["items"][0]["id"]
    api("villager").post(f"/shop/redemptions/{mine}/cancel")
    assert redeem(api, shop, 1, product="product:oil").status_code == 201  # a cancelled request frees the quota


def test_requests_outside_the_village_window_are_closed(api, shop, database) -> None:
    today = today_local()
    with database() as s:
        s.execute(delete(RedemptionWindow).where(RedemptionWindow.village_id == shop.ids["V1"]))
        other_day = today.day % 28 + 1
        s.add(
            RedemptionWindow(
                village_id=shop.ids["V1"], cadence=WindowCadence.monthly, first_day=other_day, last_day=other_day
            )
        )
    closed = redeem(api, shop)
    assert (closed.status_code, closed.json["code"]) == (409, "redemption_closed")
    assert points_of(database, shop.ids["H1"]) == (None, None)
    assert stock_of(database, shop.ids["product:rice"]) == (10, 0)


@pytest.mark.parametrize(
    ("cadence", "first", "last", "on", "open_"),
    [
        ("monthly", 1, 1, date(2026, 3, 1), True),
        ("monthly", 1, 1, date(2026, 3, 2), False),
        ("quarterly", 1, 7, date(2026, 7, 7), True),
        ("quarterly", 1, 7, date(2026, 7, 8), False),
        ("quarterly", 1, 7, date(2026, 8, 3), False),
    ],
)
def test_windows_open_on_the_first_of_the_month_or_the_first_week_of_a_quarter(cadence, first, last, on, open_) -> None:
    window = RedemptionWindow(cadence=WindowCadence(cadence), first_day=first, last_day=last)
    assert window_covers(window, on) is open_


def test_a_vetoed_household_cannot_redeem_when_the_rule_book_says_so(api, shop, database) -> None:
    veto = claim(api, "cadre", "V01", shop, household_id=shop.ids["H1"]).json["id"]
    assert api("reviewer").post(f"/review/claims/{veto}/approve").status_code == 200
    blocked = redeem(api, shop)
    assert (blocked.status_code, blocked.json["code"]) == (409, "redemption_vetoed")
    with database() as s:
        s.execute(update(RuleBook).values(veto_blocks_redemption=False))
    assert redeem(api, shop).status_code == 201


def test_not_enough_points_or_stock_is_refused_with_clear_codes(api, shop, database) -> None:
    with database() as s:
        shop.ids["product:towel"] = add_product(s, shop, "毛巾", 10, 1)
    poor = redeem(api, shop, 4)  # 120 points > 100
    assert (poor.status_code, poor.json["code"]) == (409, "insufficient_points")
    assert redeem(api, shop, product="product:towel").status_code == 201
    gone = redeem(api, shop, who="villager_neighbour", product="product:towel")
    assert (gone.status_code, gone.json["code"]) == (409, "out_of_stock")
    assert points_of(database, shop.ids["H2"]) == (None, None)  # the refused request left nothing behind
    books_balance(database)


def test_idempotent_retry_returns_the_first_answer_and_holds_once(api, shop, database) -> None:
    phone = api("villager")
    headers = {"Idempotency-Key": "b0c1-redeem-1"}
    body = {"product_id": shop.ids["product:rice"], "quantity": 1}
    first = phone.post("/shop/redemptions", json=body, headers=headers)
    replay = phone.post("/shop/redemptions", json=body, headers=headers)
    assert first.status_code == replay.status_code == 201
    assert replay.json == first.json
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert points_of(database, shop.ids["H1"]) == (70, 30)
    other = phone.post("/shop/redemptions", json={**body, "quantity": 2}, headers=headers)
    assert (other.status_code, other.json["code"]) == (409, "idempotency_mismatch")
    assert len(phone.get("/shop/redemptions").json["items"]) == 1


def test_other_villages_reviewers_cannot_decide_and_villagers_see_only_their_household(api, shop, database) -> None:
    made = redeem(api, shop).json
    for path, body in [("approve", None), ("reject", {"reason": "不认识"}), ("hand-over", {"pickup_code": "123456"})]:
        response = api("reviewer_other").post(f"/review/redemptions/{made['id']}/{path}", json=body)
        assert (response.status_code, response.json["code"]) == (403, "not_in_scope")
    assert api("reviewer_other").get("/review/redemptions").json["items"] == []
    assert [r["id"] for r in api("reviewer").get("/review/redemptions").json["items"]] == [made["id"]]
    assert api("villager_neighbour").get("/shop/redemptions").json["items"] == []
    theirs = api("villager_neighbour").post(f"/shop/redemptions/{made['id']}/cancel")
    assert (theirs.status_code, theirs.json["code"]) == (403, "not_in_scope")
    far = redeem(api, shop, who="villager_far")
    assert (far.status_code, far.json["code"]) == (403, "not_in_scope")
    assert points_of(database, shop.ids["H1"]) == (70, 30)


def test_wrong_pickup_codes_are_rate_limited(api, shop) -> None:
    made = redeem(api, shop).json
    code = api("reviewer").post(f"/review/redemptions/{made['id']}/approve").json["pickup_code"]
    wrong = "000000" if code != "000000" else "111111"
    keeper = api("reviewer")
    url = f"/review/redemptions/{made['id']}/hand-over"
    assert [keeper.post(url, json={"pickup_code": wrong}).status_code for _ in range(5)] == [422] * 5
    throttled = keeper.post(url, json={"pickup_code": code})
    assert (throttled.status_code, throttled.json["code"]) == (429, "rate_limited")


def test_a_typed_pickup_code_names_the_goods_to_hand_over_within_the_keepers_villages(api, shop, database) -> None:
    made = redeem(api, shop, 2).json
    code = api("reviewer").post(f"/review/redemptions/{made['id']}/approve").json["pickup_code"]
    url = "/review/redemptions/by-pickup-code"
    found = api("reviewer").get(url, query_string={"pickup_code": f" {code} "})
    assert found.status_code == 200, found.json
    assert (found.json["id"], found.json["product"]["name"], found.json["quantity"]) == (made["id"], "大米（10斤）", 2)
    assert "pickup_code" not in found.json
    assert api("town_admin").get(url, query_string={"pickup_code": code}).json["id"] == made["id"]
    elsewhere = api("reviewer_other").get(url, query_string={"pickup_code": code})
    assert (elsewhere.status_code, elsewhere.json["code"]) == (422, "pickup_code_invalid")
    named = api("reviewer_other").get(url, query_string={"pickup_code": code, "village_id": shop.ids["V1"]})
    assert (named.status_code, named.json["code"]) == (403, "not_in_scope")
    assert points_of(database, shop.ids["H1"]) == (40, 60)


def test_a_code_open_in_two_of_the_keepers_villages_needs_the_village(api, shop, database) -> None:
    first = redeem(api, shop).json
    code = api("reviewer").post(f"/review/redemptions/{first['id']}/approve").json["pickup_code"]
    with database() as s:
        oil = add_product(s, shop, "食用油", 20, 3, village="V2")
        villager, reviewer = s.get_one(User, shop.ids["user:villager"]), s.get_one(User, shop.ids["user:reviewer"])
        second = redemptions.request_redemption(s, villager_scope(shop, "H3", "V2"), villager, oil, 1)
        redemptions.approve_redemption(s, staff_scope(shop, "V2"), reviewer, second.id)
        second.pickup_code, second_id = code, second.id
    url = "/review/redemptions/by-pickup-code"
    both = api("town_admin").get(url, query_string={"pickup_code": code})
    assert (both.status_code, both.json["code"]) == (409, "pickup_code_ambiguous")
    named = api("town_admin").get(url, query_string={"pickup_code": code, "village_id": shop.ids["V2"]})
    assert named.json["id"] == second_id


def test_wrong_codes_typed_to_look_goods_up_are_rate_limited(api, shop) -> None:
    made = redeem(api, shop).json
    code = api("reviewer").post(f"/review/redemptions/{made['id']}/approve").json["pickup_code"]
    wrong = "000000" if code != "000000" else "111111"
    keeper = api("reviewer")
    url = "/review/redemptions/by-pickup-code"
    assert [keeper.get(url, query_string={"pickup_code": wrong}).status_code for _ in range(5)] == [422] * 5
    throttled = keeper.get(url, query_string={"pickup_code": code})
    assert (throttled.status_code, throttled.json["code"]) == (429, "rate_limited")


def test_check_stock_command_finds_a_tampered_stock(app, api, shop, database) -> None:
    redeem(api, shop, 2)
    runner = app.test_cli_runner()
    clean = runner.invoke(args=["check-stock"])
    assert clean.exit_code == 0, clean.output
    with database() as s:
        s.execute(update(Product).values(stock=Product.stock + 1))
    tampered = runner.invoke(args=["check-stock"])
    assert tampered.exit_code == 1
    assert f"product {shop.ids['product:rice']}: stock 9 ≠ ledger 8" in tampered.output


def test_windows_and_request_dates_follow_beijing_time(api, shop, database) -> None:
    # 17:30 UTC on 31 March is already 1 April in Beijing: a 1st-of-the-month window is open.
    with database() as s:
        s.execute(delete(RedemptionWindow))
        s.add(RedemptionWindow(village_id=shop.ids["V1"], cadence=WindowCadence.monthly, first_day=1, last_day=1))
    with time_machine.travel(datetime(2026, 3, 31, 17, 30, tzinfo=UTC), tick=False):
        made = redeem(api, shop)
    assert made.status_code == 201, made.json
    assert made.json["requested_on"] == "2026-04-01"


def test_goods_taken_off_the_shelf_cannot_be_requested(api, shop, database) -> None:
    with database() as s:
        s.execute(update(Product).where(Product.id == shop.ids["product:rice"]).values(is_active=False))
    refused = redeem(api, shop)
    assert (refused.status_code, refused.json["code"]) == (409, "product_unavailable")
