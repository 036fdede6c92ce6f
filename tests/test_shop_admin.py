"""积分超市 in the admin UI: the queue, hand-over by pickup code, products and stock, exports."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from backend.shop import stock
from backend.shop.models import Product, Redemption, RedemptionWindow, ShopSetting
from backend.shop.stock import stock_mismatches
from tests.admin_helpers import html, post_form
from tests.factories import World
from tests.factories_shop import PICKUP_CODE, add_product, staff_scope
from tests.photo_corpus import scene_jpeg
from tests.xlsx import read_xlsx


@pytest.fixture
def shop(shop_world: World) -> World:
    return shop_world


def status_of(database, redemption_id: int) -> str:  # type: ignore[no-untyped-def]
    with database() as s:
        return s.get_one(Redemption, redemption_id).status.value


def test_the_queue_lists_pending_requests_and_approval_sends_a_code(admin, shop, database) -> None:
    browser = admin("reviewer")
    page = html(browser.get("/admin/shop/redemptions"))
    assert "大米（10斤）" in page and "待审核" in page
    pending = shop.ids["redemption:pending"]
    response = post_form(browser, f"/admin/shop/redemptions/{pending}/approve", {})
    assert response.status_code == 302
    assert status_of(database, pending) == "approved"
    with database() as s:
        assert len(s.get_one(Redemption, pending).pickup_code) == 6


def test_the_keeper_hands_over_by_typing_the_pickup_code(admin, shop, database) -> None:
    browser = admin("reviewer")
    wrong = post_form(browser, "/admin/shop/hand-over", {"pickup_code": "000001"})
    assert wrong.status_code == 302
    assert "取货码不正确" in html(browser.get("/admin/shop/redemptions"))
    assert status_of(database, shop.ids["redemption:approved"]) == "approved"
    right = post_form(browser, "/admin/shop/hand-over", {"pickup_code": PICKUP_CODE})
    assert right.status_code == 302
    assert status_of(database, shop.ids["redemption:approved"]) == "handed_over"


@pytest.mark.parametrize(
    ("sent", "back_to"),
    [
        ("/admin/shop/redemptions?status=approved&page=2", "/admin/shop/redemptions?status=approved&page=2"),
        ("https://evil.example/admin/shop/redemptions", "/admin/shop/redemptions"),
        ("//evil.example/admin/shop/redemptions", "/admin/shop/redemptions"),
        ("/admin/shop/redemptions\r\nSet-Cookie: x=1", "/admin/shop/redemptions"),
        ("\n", "/admin/shop/redemptions"),
    ],
)
def test_after_a_decision_the_keeper_returns_to_the_queue_never_elsewhere(admin, shop, sent, back_to) -> None:
    pending = shop.ids["redemption:pending"]
    response = post_form(admin("reviewer"), f"/admin/shop/redemptions/{pending}/approve", {"next": sent})
    assert response.status_code == 302
    assert response.headers["Location"].removeprefix("http://localhost") == back_to


def test_rejecting_needs_a_reason_and_releases_the_hold(admin, shop, database) -> None:
    browser = admin("reviewer")
    pending = shop.ids["redemption:pending"]
    post_form(browser, f"/admin/shop/redemptions/{pending}/reject", {"reason": ""})
    assert status_of(database, pending) == "pending"
    post_form(browser, f"/admin/shop/redemptions/{pending}/reject", {"reason": "本月大米已兑完"})
    assert status_of(database, pending) == "rejected"
    with database() as s:
        rice = s.get_one(Product, shop.ids["product:rice"])
        assert (rice.stock, rice.held) == (9, 1)  # the approved one still holds a bag


def test_a_reviewer_of_another_village_changes_nothing(admin, shop, database) -> None:
    browser = admin("reviewer_other")
    assert "大米" not in html(browser.get("/admin/shop/redemptions"))
    post_form(browser, f"/admin/shop/redemptions/{shop.ids['redemption:pending']}/approve", {})
    assert status_of(database, shop.ids["redemption:pending"]) == "pending"
    assert browser.get(f"/admin/shop/products/{shop.ids['product:rice']}").status_code == 403


def test_products_are_created_restocked_by_donors_written_off_and_ledgered(admin, shop, database) -> None:
    browser = admin("reviewer")
    created = post_form(
        browser,
        "/admin/shop/products",
        {"village_id": shop.ids["V1"], "name": "洗衣粉", "unit": "袋", "points": "15", "per_household_limit": "2"},
    )
    assert created.status_code == 302
    with database() as s:
        product_id = s.scalar(select(Product.id).where(Product.name == "洗衣粉"))
    url = f"/admin/shop/products/{product_id}"
    post_form(browser, f"{url}/stock", {"action": "restock", "quantity": "20", "note": "爱心人士捐赠"})
    post_form(browser, f"{url}/stock", {"action": "write_off", "quantity": "25", "note": "受潮"})  # too many
    post_form(browser, f"{url}/stock", {"action": "write_off", "quantity": "2", "note": "受潮"})
    page = html(browser.get(url))
    assert "爱心人士捐赠" in page and "受潮" in page and "每月2袋" in page
    with database() as s:
        assert s.get_one(Product, product_id).stock == 18
        assert stock_mismatches(s) == []
    ledger = read_xlsx(browser.get(f"{url}?format=xlsx"))
    assert ledger[0][:3] == ["时间", "类型", "可兑库存变动"]
    assert [(row[1], row[2], row[6]) for row in ledger[1:]] == [("报损", -2, "受潮"), ("入库", 20, "爱心人士捐赠")]


def test_a_product_with_a_long_stock_ledger_opens_on_its_second_page_with_links_back(admin, world, database) -> None:
    with database() as s:
        product_id = add_product(s, world, "洗衣粉", 15, 0, unit="袋")
        for n in range(1, 26):
            stock.restock(s, staff_scope(world, "V1"), world.ids["user:reviewer"], product_id, 1, f"第{n:02d}批捐赠")
    url = f"/admin/shop/products/{product_id}"
    browser = admin("reviewer")
    response = browser.get(f"{url}?page=2")
    assert response.status_code == 200
    page = html(response)
    assert "第 21–25 条，共 25 条" in page
    assert "第01批捐赠" in page and "第05批捐赠" in page and "第06批捐赠" not in page  # newest first: the oldest five
    assert f'href="{url}?page=1" rel="prev"' in page
    first = html(browser.get(url))
    assert "第25批捐赠" in first and f'href="{url}?page=2" rel="next"' in first
    stray = html(browser.get(f"{url}?product_id={product_id + 1}&page=2"))
    assert f'href="{url}?page=1" rel="prev"' in stray  # a query parameter never points the links elsewhere


def test_editing_a_product_can_take_it_off_the_shelf(admin, shop, api) -> None:
    browser = admin("reviewer")
    url = f"/admin/shop/products/{shop.ids['product:rice']}"
    post_form(browser, url, {"name": "大米（10斤）", "unit": "袋", "points": "35", "limit_period": "month"})
    assert api("villager").get("/shop/products").json["items"] == []


def test_queue_and_products_export_to_excel(admin, shop) -> None:
    browser = admin("town_admin")
    queue = read_xlsx(browser.get("/admin/shop/redemptions?status=all&format=xlsx"))
    assert queue[0][:4] == ["编号", "行政村", "户号", "商品"]
    assert sorted(row[6] for row in queue[1:]) == ["待审核", "待领取"]
    products = read_xlsx(browser.get("/admin/shop/products?format=xlsx"))
    assert products[1][1:6] == ["青石村", "大米（10斤）", "袋", 30, 8]


def test_windows_and_pickup_days_are_set_per_village(admin, shop, database) -> None:
    browser = admin("reviewer")
    village = shop.ids["V1"]
    post_form(
        browser, f"/admin/shop/villages/{village}/windows", {"cadence": "quarterly", "first_day": 1, "last_day": 7}
    )
    post_form(browser, f"/admin/shop/villages/{village}/pickup-days", {"pickup_days": 3})
    page = html(browser.get(f"/admin/shop/products?village={village}"))
    assert "每季度首月1–7日" in page
    with database() as s:
        assert s.scalar(select(ShopSetting.pickup_days).where(ShopSetting.village_id == village)) == 3
        window = s.scalar(select(RedemptionWindow.id).where(RedemptionWindow.cadence == "quarterly"))
    post_form(browser, f"/admin/shop/villages/{village}/windows/{window}/delete", {})
    assert "每季度首月1–7日" not in html(browser.get(f"/admin/shop/products?village={village}"))


def test_a_product_photo_uploaded_by_the_keeper_shows_on_the_villagers_phone(admin, shop, api, app) -> None:
    browser = admin("reviewer")
    url = f"/admin/shop/products/{shop.ids['product:rice']}"
    response = post_form(browser, f"{url}/photos", {"photo": (io.BytesIO(scene_jpeg(7)), "rice.jpg")})
    assert response.status_code == 302
    assert "<img" in html(browser.get(url)) and "<img" in html(browser.get("/admin/shop/products"))
    item = api("villager").get("/shop/products").json["items"][0]
    assert item["image_url"] and item["thumb_url"]
    served = app.test_client().get(item["thumb_url"])
    assert (served.status_code, served.mimetype) == (200, "image/jpeg")
    assert api("villager_far").get("/shop/products").json["items"] == []  # their village has no shop goods


def test_a_file_that_is_not_an_image_is_refused_and_nothing_is_attached(admin, shop, database) -> None:
    browser = admin("reviewer")
    url = f"/admin/shop/products/{shop.ids['product:rice']}"
    post_form(browser, f"{url}/photos", {"photo": (io.BytesIO(b"not an image at all"), "x.jpg")})
    page = html(browser.get(url))
    assert "还没有照片" in page


@pytest.mark.parametrize("quantity", ["2147483600", "10001", "0", "1e3", "２"])
def test_a_restock_of_an_absurd_quantity_is_refused_and_changes_nothing(admin, shop, database, quantity) -> None:
    browser = admin("reviewer")
    url = f"/admin/shop/products/{shop.ids['product:rice']}"
    with database() as s:
        before = s.get_one(Product, shop.ids["product:rice"]).stock
    refused = post_form(browser, f"{url}/stock", {"action": "restock", "quantity": quantity, "note": "捐赠"})
    assert refused.status_code == 302
    page = html(browser.get(url))
    assert "已入库" not in page and ("入库数量应在 1 到 10000 之间" in page or "请填写整数" in page)
    with database() as s:
        assert s.get_one(Product, shop.ids["product:rice"]).stock == before
        assert stock_mismatches(s) == []
