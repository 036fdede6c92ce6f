"""The village's monthly points notice (公示) on a villager's phone: every household's month-end points, and an
objection written on the screen while the window is open, which then waits for the review panel."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from backend.points.models import Objection, ObjectionStatus
from tests.e2e.phone import Database, Server
from tests.factories import NOTICE_MONTH, World

pytestmark = pytest.mark.real_commits  # the server answers from its own threads and connections

TEXT = "我家六月参加了公益劳动，公示里没有"


def test_the_villager_reads_the_monthly_notice_and_objects_to_it(
    open_app: Callable[[str], Page], server: Server, world: World, database: Database
) -> None:
    notice = server.call("GET", f"/publications/{NOTICE_MONTH}", world.tokens["villager"])
    ours = next(line for line in notice["lines"] if line["household_id"] == world.ids["H1"])
    page = open_app(world.tokens["villager"])
    page.get_by_role("button", name=re.compile("^村里公示")).click()
    page.goto(f"/m/#/notice?month={NOTICE_MONTH}")  # a link to June's notice
    expect(page.get_by_role("region", name="公示情况")).to_contain_text(
        f"我家：加 0 分，扣 0 分，月末 {ours['balance']} 分"
    )
    for line in notice["lines"]:
        expect(page.get_by_text(f"{line['household_number']}号户 {line['name']}")).to_be_visible()

    page.get_by_role("button", name="对整个公示有异议").click()
    send = page.get_by_role("button", name="提交申诉")
    expect(send).to_be_disabled()
    page.get_by_label("对本月公示有什么异议").fill(TEXT)
    send.click()
    expect(page.get_by_text(f"对整个公示：{TEXT}")).to_be_visible()
    expect(page.get_by_text("待处理", exact=True)).to_be_visible()
    with database() as session:
        objection = session.scalars(select(Objection).where(Objection.text == TEXT)).one()
        assert (objection.household_id, objection.entry_id, objection.status) == (
            world.ids["H1"],
            None,
            ObjectionStatus.open,
        )

    page.reload()  # the objection stays on the notice
    expect(page.get_by_text(f"对整个公示：{TEXT}")).to_be_visible()


def test_a_month_not_yet_published_says_so(open_app: Callable[[str], Page], world: World) -> None:
    page = open_app(world.tokens["villager"])
    expect(page.get_by_role("region", name="我家积分")).to_be_visible()
    page.goto("/m/#/notice?month=2024-05")
    expect(page.get_by_text("5月的积分还没有公示，公示后会在这里看到。")).to_be_visible()
    page.get_by_role("button", name="下个月").click()
    expect(page.get_by_role("region", name="公示情况")).to_contain_text("6月积分公示")
