"""A villager's phone app in a real browser, against a real server: their family's points, the ledger, and goods
redeemed, cancelled, approved on the review panel's phone and collected there with the pickup code, never another
household's data."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from backend.demo.county import DemoSummary
from backend.inbox.models import Notification, PushStatus
from backend.org.models import Household
from backend.shop.models import Redemption, RedemptionStatus
from tests.e2e.phone import Database, Server, back, shows_balance, tab
from tests.factories import World

pytestmark = pytest.mark.real_commits  # the server answers from its own threads and connections

RICE = "大米（10斤）"
RICE_POINTS = 30
OURS = "拾金不昧"  # a good deed of H1's, +5
THEIRS = "应征入伍"  # one of H2's, their neighbours in the same village


def balance_of(server: Server, world: World) -> int:
    return server.call("GET", "/points/summary", world.tokens["villager"])["balance"]


def redeem_rice(page: Page) -> None:
    rice = page.get_by_role("article").filter(has_text=RICE)
    rice.get_by_role("button", name="兑换", exact=True).click()
    rice.get_by_role("button", name="确认兑换").click()
    expect(page.get_by_role("status")).to_contain_text("已申请兑换")


def redemption_status(database: Database, redemption_id: int) -> RedemptionStatus:
    with database() as session:
        return session.get_one(Redemption, redemption_id).status


def wait_for_push(database: Database, redemption_id: int) -> PushStatus:
    """The approval's WeChat push is a job: run in-process without Redis, else by the worker. Waits for it."""
    deadline = time.monotonic() + 30
    while True:
        with database() as session:
            status = session.scalar(
                select(Notification.push_status).where(
                    Notification.ref_type == "redemption", Notification.ref_id == redemption_id
                )
            )
        if status != PushStatus.pending or time.monotonic() > deadline:
            return status
        time.sleep(0.2)


def test_the_villager_sees_the_family_points_and_redeems_cancels_and_collects_goods_with_a_pickup_code(
    open_app: Callable[[str], Page],
    open_another_phone: Callable[[str], Page],
    server: Server,
    village: World,
    database: Database,
) -> None:
    with database() as session:
        ours = session.get_one(Household, village.ids["H1"]).address
    start = balance_of(server, village)
    assert start == 105  # 100 base points and 拾金不昧's 5

    page = open_app(village.tokens["villager"])
    shows_balance(page, start)

    page.get_by_role("button", name=re.compile("^积分明细")).click()
    expect(page.get_by_text(OURS, exact=True)).to_be_visible()
    expect(page.get_by_text("基础分", exact=True)).to_be_visible()
    back(page)

    tab(page, "积分超市")
    redeem_rice(page)
    expect(page.get_by_role("article").filter(has_text="待审核")).to_contain_text(f"{RICE} × 1袋")
    tab(page, "首页")
    shows_balance(page, start - RICE_POINTS)
    expect(page.get_by_text(f"另有 {RICE_POINTS} 分冻结中")).to_be_visible()

    tab(page, "积分超市")
    tab(page, "我的兑换")
    pending = page.get_by_role("article").filter(has_text="待审核")
    pending.get_by_role("button", name="取消兑换").click()
    pending.get_by_role("button", name="确定取消").click()
    expect(page.get_by_text("已取消，积分已退回")).to_be_visible()
    tab(page, "商品")
    expect(page.get_by_text(f"我家可用积分 {start} 分")).to_be_visible()
    redeem_rice(page)
    [asked] = server.call("GET", "/shop/redemptions?status=pending", village.tokens["villager"])["items"]

    # At the village counter, the review panel member approves it on their own phone.
    keeper = open_another_phone(village.tokens["reviewer"])
    tab(keeper, "核销")
    asking = keeper.get_by_role("article").filter(has_text=f"{RICE} × 1袋")
    asking.get_by_role("button", name="同意").click()
    expect(asking.get_by_role("status")).to_have_text("已同意。村民会收到取货码，凭码来领取")
    assert redemption_status(database, asked["id"]) == RedemptionStatus.approved

    page.reload()  # the villager opens the app again: 我的兑换 now has the approved one
    page.get_by_role("button", name="出示取货码").click()
    shown = page.get_by_label(re.compile(r"^取货码 \d{6}$"))
    code = "".join(shown.inner_text().split())
    [approved] = server.call("GET", "/shop/redemptions?status=approved", village.tokens["villager"])["items"]
    assert code == approved["pickup_code"]
    qr = page.get_by_role("img", name=f"取货码 {code} 的二维码")
    expect(qr).to_be_visible()
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0"), "the QR image is drawn"
    assert qr.bounding_box()["width"] >= 200, "large enough for the keeper's phone to scan"
    expect(page.get_by_text(f"{RICE} × 1袋")).to_be_visible()

    back(page)
    tab(page, "消息")
    expect(page.get_by_text("兑换已通过，请到村积分超市领取")).to_be_visible()
    # The push ran, and found nobody: no one of H1 has signed in with WeChat.
    assert wait_for_push(database, asked["id"]) == PushStatus.no_recipient

    # The villager shows the code; the keeper types it, sees what to hand over, and confirms.
    keeper.get_by_label("村民手机上的取货码（6 位数字）").fill(code)
    keeper.get_by_role("button", name="查看要交的东西").click()
    handing = keeper.locator("section").filter(has_text="请把下面的东西交给村民")
    expect(handing.get_by_text(f"{RICE} × 1袋", exact=True)).to_be_visible()
    expect(handing).to_contain_text(ours)
    keeper.get_by_role("button", name="东西已交给村民，确认核销").click()
    expect(keeper.get_by_role("status").filter(has_text="已领取")).to_have_text(f"已领取：{RICE} × 1袋")
    assert redemption_status(database, asked["id"]) == RedemptionStatus.handed_over

    tab(page, "首页")
    spent = balance_of(server, village)
    assert spent == start - RICE_POINTS
    shows_balance(page, spent)
    expect(page.get_by_text("冻结中")).to_have_count(0)
    page.get_by_role("button", name=re.compile("^积分明细")).click()
    expect(page.get_by_text(f"兑换{RICE}×1（已领取）")).to_be_visible()


def test_a_villager_taps_a_demo_account_and_sees_the_family_balance(
    phone: Page, server: Server, demo_county: DemoSummary
) -> None:
    """How a developer opens the app after `make run`: the 登录 screen lists the demo county's accounts."""
    first = next(a for a in server.call("GET", "/auth/dev-accounts", None)["items"] if a["role"] == "villager")
    phone.goto("/m/")
    expect(phone.get_by_role("heading", name=first["role_label"])).to_be_visible()
    phone.get_by_role("button", name=f"{first['name']} {first['village']}").first.click()
    expect(phone.get_by_role("region", name="我家积分")).to_be_visible()
    token = phone.evaluate("localStorage.getItem('xz.token')")
    shows_balance(phone, server.call("GET", "/points/summary", token)["balance"])


def test_the_villager_never_sees_another_household_s_points_messages_or_address(
    open_app: Callable[[str], Page], server: Server, village: World, database: Database
) -> None:
    with database() as session:
        ours, theirs = (session.get_one(Household, village.ids[key]).address for key in ("H1", "H2"))
    page = open_app(village.tokens["villager"])
    shows_balance(page, balance_of(server, village))
    hidden = [THEIRS, theirs]

    def nothing_of_theirs() -> None:
        for text in hidden:
            expect(page.locator("#app")).not_to_contain_text(text)

    nothing_of_theirs()
    page.get_by_role("button", name=re.compile("^积分明细")).click()
    expect(page.get_by_text(OURS, exact=True)).to_be_visible()
    nothing_of_theirs()
    back(page)
    tab(page, "消息")
    expect(page.get_by_text(f"“{OURS}”已认定")).to_be_visible()
    nothing_of_theirs()
    tab(page, "我的")
    expect(page.get_by_text(ours)).to_be_visible()
    nothing_of_theirs()
