"""A villager declares a good deed with a photo from the phone's camera; the review panel approves it on their own
phone, and the family's points grow by the rule book's amount."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from backend.photos.service import photos_of
from backend.points.models import Claim, ClaimStatus, LedgerEntry
from tests.e2e.phone import Database, Server, back, shows_balance, take_photo
from tests.factories import World

pytestmark = pytest.mark.real_commits  # the server answers from its own threads and connections

DEED = "孝老爱亲、照顾孤寡老人"  # P11, +3, a photo required
NOTE = "照顾隔壁独居的张奶奶"


def test_a_good_deed_declared_with_a_camera_photo_and_approved_on_the_reviewer_s_phone_adds_its_points(
    open_app: Callable[[str], Page],
    open_another_phone: Callable[[str], Page],
    server: Server,
    village: World,
    database: Database,
) -> None:
    start = server.call("GET", "/points/summary", village.tokens["villager"])["balance"]
    page = open_app(village.tokens["villager"])
    shows_balance(page, start)

    page.get_by_role("button", name=re.compile("^申报好事")).click()
    page.get_by_role("button", name="申报一件好事").click()
    submit = page.get_by_role("button", name="提交申报")
    page.get_by_role("radio", name=re.compile(DEED)).click()
    expect(page.get_by_text("这一项要拍一张照片作证")).to_be_visible()
    expect(submit).to_be_disabled()
    take_photo(page)
    page.get_by_label("说明（可不填）").fill(NOTE)
    submit.click()
    expect(page.get_by_role("status")).to_have_text("已提交申报，请等村评议小组审核。")
    mine = page.get_by_role("article").filter(has_text=DEED)
    expect(mine).to_contain_text("待审核")
    expect(mine.get_by_role("button", name="第 1 张照片，点一下看大图")).to_be_visible()

    with database() as session:
        claim = session.scalars(select(Claim).where(Claim.rule_item_id == village.ids["item:P11"])).one()
        assert (claim.household_id, claim.status, claim.note) == (village.ids["H1"], ClaimStatus.pending, NOTE)
        claim_id = claim.id
        [photo] = photos_of(session, "claim", [claim_id])[claim_id]
        assert max(photo.width, photo.height) <= 1600, "shrunk on the phone before it was sent"

    reviewer = open_another_phone(village.tokens["reviewer"])
    card = reviewer.get_by_role("article").filter(has_text=DEED)
    expect(card).to_contain_text(NOTE)
    expect(card.get_by_role("button", name="第 1 张照片，点一下看大图")).to_be_visible()
    card.get_by_role("button", name="同意").click()
    expect(card.get_by_role("status")).to_have_text("已通过，积分已记入这户")

    with database() as session:
        assert session.get_one(Claim, claim_id).status == ClaimStatus.approved
        entry = session.scalars(
            select(LedgerEntry).where(LedgerEntry.source_type == "claim", LedgerEntry.source_id == claim_id)
        ).one()
        assert (entry.household_id, entry.amount) == (village.ids["H1"], 3)

    page.reload()
    expect(mine).to_contain_text("已通过，加 3 分")
    back(page)
    shows_balance(page, start + 3)
    assert server.call("GET", "/points/summary", village.tokens["villager"])["balance"] == start + 3
