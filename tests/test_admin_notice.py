"""Admin: 月度公示 management (close, publication, objections, lock, Excel) and 积分排名 (Excel), within scope."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from backend.points.models import LedgerEntry, MonthlyNotice, NoticeStatus, Objection
from backend.timeutil import now_utc
from tests.admin_helpers import html, post_form
from tests.factories_points import LAST_DAY_OF_PREV, PREV_MONTH, THIS_MONTH, record_and_approve
from tests.xlsx import read_xlsx


def test_reviewer_closes_a_month_and_the_publication_shows_masked_households(admin, database, world) -> None:
    with database() as s:
        record_and_approve(s, world, "H2", "P09", LAST_DAY_OF_PREV)
    reviewer = admin("reviewer")
    response = post_form(reviewer, "/admin/notices", {"village_id": world.ids["V1"], "month": PREV_MONTH})
    assert response.status_code == 302, html(response)
    page = html(reviewer.get(response.headers["Location"]))
    assert f"青石村 {PREV_MONTH} 积分公示" in page
    assert "公示中" in page and "见义勇为" in page
    with database() as s:
        notice = s.scalars(select(MonthlyNotice).where(MonthlyNotice.month == PREV_MONTH)).one()
        notice_id = notice.id
    rows = read_xlsx(reviewer.get(f"/admin/notices/{notice_id}?format=xlsx"))
    assert rows[0] == ["户号", "户主（脱敏）", "本月加分", "本月扣分", "月末积分", "一票否决"]
    assert [(r[0], r[2], r[4]) for r in rows[1:]] == [("001", 0, 100), ("002", 10, 110), ("003", 0, 100)]
    assert all("*" in r[1] for r in rows[1:])
    listing = read_xlsx(reviewer.get("/admin/notices?format=xlsx"))
    assert {(r[0], r[1], r[2]) for r in listing[1:]} == {
        (PREV_MONTH, "青石村", "公示中"),
        ("2024-06", "青石村", "公示中"),
    }


def test_objections_are_upheld_or_dismissed_from_the_page_and_the_month_locks(api, admin, database, world) -> None:
    notice_id = world.ids["notice"]
    month = "2024-06"
    first = api("villager").post(f"/publications/{month}/objections", json={"text": "漏记公益劳动"}).json["id"]
    second = api("villager_neighbour").post(f"/publications/{month}/objections", json={"text": "扣分有误"}).json["id"]
    reviewer = admin("reviewer")
    token_page = f"/admin/notices/{notice_id}"
    assert "漏记公益劳动" in html(reviewer.get(token_page))

    refused = post_form(reviewer, f"/admin/notices/{notice_id}/lock", {}, token_from=token_page)
    assert refused.status_code == 409 and "公示期尚未结束" in html(refused)
    upheld = post_form(
        reviewer, f"/admin/objections/{first}/uphold", {"amount": "2", "reason": "核实属实"}, token_from=token_page
    )
    assert upheld.status_code == 302
    no_reason = post_form(reviewer, f"/admin/objections/{second}/dismiss", {"reason": ""}, token_from=token_page)
    assert no_reason.status_code == 422
    dismissed = post_form(
        reviewer, f"/admin/objections/{second}/dismiss", {"reason": "经核实无误"}, token_from=token_page
    )
    assert dismissed.status_code == 302
    with database() as s:
        correction = s.scalars(select(LedgerEntry).where(LedgerEntry.source_type == "objection")).one()
        assert (correction.household_id, correction.amount, correction.month) == (world.ids["H1"], 2, THIS_MONTH)
        assert s.get_one(Objection, second).answer == "经核实无误"
        s.get_one(MonthlyNotice, notice_id).objection_deadline = now_utc()
    page = html(reviewer.get(token_page))
    assert "成立：核实属实" in page and "不成立：经核实无误" in page
    assert post_form(reviewer, f"/admin/notices/{notice_id}/lock", {}, token_from=token_page).status_code == 302
    with database() as s:
        assert s.get_one(MonthlyNotice, notice_id).status == NoticeStatus.locked
    assert "已锁定" in html(reviewer.get(token_page))


def test_admins_outside_the_village_cannot_see_or_act_on_its_notice(admin, world) -> None:
    other = admin("reviewer_other")
    assert other.get(f"/admin/notices/{world.ids['notice']}").status_code == 403
    assert post_form(other, f"/admin/notices/{world.ids['notice']}/lock", {}).status_code == 403
    closing = post_form(other, "/admin/notices", {"village_id": world.ids["V1"], "month": PREV_MONTH})
    assert closing.status_code == 403
    assert world.ids["notice"] and "2024-06" not in html(other.get("/admin/notices"))


def test_rankings_page_shows_ties_and_exports_to_excel(admin, database, world) -> None:
    with database() as s:
        record_and_approve(s, world, "H2", "P09", LAST_DAY_OF_PREV)
        record_and_approve(s, world, "H6", "P19", LAST_DAY_OF_PREV)
        record_and_approve(s, world, "H1", "V01", LAST_DAY_OF_PREV)
    reviewer = admin("reviewer")
    page = html(reviewer.get(f"/admin/rankings?kind=month&period={PREV_MONTH}"))
    assert "一票否决，不参与评比" in page
    rows = read_xlsx(reviewer.get(f"/admin/rankings?kind=month&period={PREV_MONTH}&format=xlsx"))
    assert rows[0] == ["名次", "户号", "户主（脱敏）", "期间积分", "星级", "一票否决"]
    assert [(r[0], r[1], r[3], r[5]) for r in rows[1:]] == [
        (1, "002", 10, None),
        (1, "003", 10, None),
        (None, "001", 0, "是"),
    ]
    bad = reviewer.get("/admin/rankings?kind=quarter&period=2026-10")
    assert bad.status_code == 422 and "期间格式" in html(bad)


@pytest.mark.parametrize("amount", ["2147483000", str(2**40), "²", "1001", "-1001"])
def test_an_objection_cannot_be_upheld_with_an_absurd_correction(api, admin, database, world, amount) -> None:
    objection = api("villager").post("/publications/2024-06/objections", json={"text": "漏记公益劳动"}).json["id"]
    reviewer = admin("reviewer")
    refused = post_form(reviewer, f"/admin/objections/{objection}/uphold", {"amount": amount, "reason": "核实属实"})
    assert refused.status_code == 422
    with database() as s:
        assert s.scalars(select(LedgerEntry).where(LedgerEntry.source_type == "objection")).all() == []
        assert s.get_one(Objection, objection).status.value == "open"
    assert (
        post_form(
            reviewer, f"/admin/objections/{objection}/uphold", {"amount": "1000", "reason": "核实属实"}
        ).status_code
        == 302
    )


@pytest.mark.parametrize("village_id", ["2147483648", "9" * 30, "٣", "", "abc"])
def test_closing_a_month_for_a_village_id_no_column_holds_gets_a_message_not_a_500(admin, world, village_id) -> None:
    response = post_form(admin("reviewer"), "/admin/notices", {"village_id": village_id, "month": PREV_MONTH})
    assert response.status_code == 422, html(response)[:300]
