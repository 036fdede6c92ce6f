"""组织架构 management pages: towns, villages, grids, households and members, cadres, postings and pairings are
created, edited and retired within the admin's scope, each change with its audit row; refusals are Chinese
messages, never a 500."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select

from backend.audit.models import AuditEntry
from backend.audit.service import CHANGED_PERSONAL
from backend.auth.models import User
from backend.ledger_check import ledger_mismatches
from backend.org.identity import make_id_number
from backend.org.models import Cadre, Grid, Household, Pairing, Posting, Resident, Town, Village
from backend.points.ledger import ensure_account
from backend.points.models import Claim, ClaimStatus, LedgerEntry, PointsAccount
from backend.timeutil import today_local
from tests.admin_helpers import html, post_form

HEAD_ID = make_id_number("612322", date(1980, 3, 4), 77)


def submit(client, path: str, data: dict) -> str:  # type: ignore[no-untyped-def]
    """Post a form as a browser does and return the page it lands on (with the flashed outcome)."""
    response = post_form(client, path, data)
    assert response.status_code == 302, (response.status_code, html(response)[:300])
    return html(client.get(response.headers["Location"]))


def audit_rows(database, action: str) -> list[AuditEntry]:  # type: ignore[no-untyped-def]
    with database() as s:
        rows = list(s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))
        s.expunge_all()
        return rows


def village_form(**overrides: object) -> dict:
    return {
        "town_id": "",
        "name": "新丰村",
        "code": "610999101009",
        "center_lat": "33.2",
        "center_lng": "107.4",
        "fence_radius_m": "800",
    } | overrides


# --- 乡镇、行政村、网格 ---


def test_a_county_admin_builds_a_town_village_and_grid_and_each_step_is_audited(admin, database, world):
    client = admin("county_admin")
    assert "乡镇已新建" in submit(client, "/admin/towns", {"name": "新丰镇", "code": "610999103"})
    with database() as s:
        town_id = s.scalar(select(Town.id).where(Town.code == "610999103"))
    page = submit(client, "/admin/villages/new", village_form(town_id=town_id, code="610999103001"))
    assert "行政村已新建" in page and "新丰村" in page
    with database() as s:
        village = s.scalar(select(Village).where(Village.code == "610999103001"))
        assert (village.center_lat, village.center_lng, village.fence_radius_m) == (33.2, 107.4, 800)
        village_id = village.id
    assert "网格已新建" in submit(client, f"/admin/villages/{village_id}/grids", {"name": "第一网格"})
    assert [r.summary for r in audit_rows(database, "town.create")] == ["新建乡镇 新丰镇"]
    assert audit_rows(database, "village.create")[0].village_id == village_id
    assert audit_rows(database, "grid.create")[0].summary == "新建网格 新丰村 第一网格"


def test_editing_a_village_records_its_fields_before_and_after(admin, database, world):
    client = admin("town_admin")
    v1 = world.ids["V1"]
    form = village_form(name="青石村", code="610999101001", center_lat="33.15", center_lng="107.33")
    assert "行政村已保存" in submit(client, f"/admin/villages/{v1}", form | {"fence_radius_m": "2000"})
    (row,) = audit_rows(database, "village.update")
    assert row.changes == {"fence_radius_m": [1500, 2000]} and row.actor_label == "t_town"


def test_bad_village_input_is_answered_in_chinese_and_changes_nothing(admin, database, world):
    client = admin("county_admin")
    t1 = world.ids["T1"]
    assert "行政区划代码应为 12 位数字" in submit(client, "/admin/villages/new", village_form(town_id=t1, code="123"))
    assert "须为数字" in submit(client, "/admin/villages/new", village_form(town_id=t1, center_lat="北纬33"))
    assert "应以所属乡镇代码 610999101 开头" in submit(
        client, "/admin/villages/new", village_form(town_id=t1, code="610999102009")
    )
    assert "已被使用" in submit(client, "/admin/villages/new", village_form(town_id=t1, code="610999101002"))
    assert "半径" in submit(client, "/admin/villages/new", village_form(town_id=t1, fence_radius_m="0"))
    with database() as s:
        assert s.scalar(select(func.count(Village.id)).where(Village.name == "新丰村")) == 0


def test_a_village_with_households_cannot_be_retired_and_a_retired_one_leaves_lists_and_choices(admin, database, world):
    client = admin("county_admin")
    assert "还有在册农户" in submit(client, f"/admin/villages/{world.ids['V1']}/retire", {})
    page = submit(client, "/admin/villages/new", village_form(town_id=world.ids["T1"]))
    with database() as s:
        new_id = s.scalar(select(Village.id).where(Village.code == "610999101009"))
    assert "行政村已停用" in submit(client, f"/admin/villages/{new_id}/retire", {})
    assert "新丰村" not in html(client.get("/admin/villages"))
    assert "新丰村" in html(client.get("/admin/villages?retired=1"))
    assert "新丰村" not in html(client.get("/admin/households"))  # the village filter's choices
    (row,) = audit_rows(database, "village.retire")
    assert row.changes == {"retired_on": [None, today_local().isoformat()]}
    assert "行政村已恢复" in submit(client, f"/admin/villages/{new_id}/restore", {})
    assert "新丰村" in html(client.get("/admin/villages")) and page


def test_a_town_admin_manages_only_its_own_town(admin, database, world):
    client = admin("town_admin")
    assert client.get(f"/admin/villages/{world.ids['V3']}").status_code == 403
    assert post_form(client, f"/admin/villages/{world.ids['V3']}/retire", {}).status_code == 302
    assert "无权访问" in submit(
        client, "/admin/villages/new", village_form(town_id=world.ids["T2"], code="610999102009")
    )
    assert "只有县管理员" in submit(client, "/admin/towns", {"name": "新丰镇", "code": "610999103"})
    assert "无权访问" in submit(client, f"/admin/villages/{world.ids['V3']}/grids", {"name": "第二网格"})
    with database() as s:
        assert s.get(Village, world.ids["V3"]).retired_on is None
        assert s.scalar(select(func.count(Grid.id)).where(Grid.village_id == world.ids["V3"])) == 1
        assert s.scalar(select(func.count(Town.id))) == 3
    assert audit_rows(database, "village.create") == []


def test_a_review_panel_reads_its_village_but_changes_nothing(admin, database, world):
    client = admin("reviewer")
    page = html(client.get(f"/admin/villages/{world.ids['V1']}"))
    assert "青石村" in page and "新建网格" not in page
    assert "只有乡镇或县管理员" in submit(client, f"/admin/villages/{world.ids['V1']}/grids", {"name": "第二网格"})
    assert "只有乡镇或县管理员" in submit(
        client, f"/admin/households/{world.ids['H1']}/edit", {"number": "009", "address": "x"}
    )
    assert client.get(f"/admin/villages/{world.ids['V2']}").status_code == 403
    assert "登记农户" not in html(client.get("/admin/households"))


# --- 农户与家庭成员 ---


def head_form(**overrides: object) -> dict:
    return {
        "number": "088",
        "address": "青石村8组",
        "flag": ["is_poor", "has_disabled"],
        "name": "周大山",
        "gender": "男",
        "birth_year": "1980",
        "phone": "13912345678",
        "id_number": HEAD_ID,
    } | overrides


def _grid(database, village: int) -> int:  # type: ignore[no-untyped-def]
    with database() as s:
        return s.scalar(select(Grid.id).where(Grid.village_id == village))


def test_a_household_is_registered_with_its_head_and_personal_data_never_reaches_the_log(admin, database, world):
    client = admin("town_admin")
    page = submit(client, "/admin/households/new", head_form(grid_id=_grid(database, world.ids["V1"])))
    assert "农户已登记" in page and "周*山" in page and HEAD_ID not in page
    with database() as s:
        household = s.scalar(select(Household).where(Household.number == "088"))
        assert (household.is_poor, household.has_disabled, household.is_monitored) == (True, True, False)
        (head,) = household.residents
        assert (head.is_head, head.relation, head.id_number) == (True, "户主", HEAD_ID)
    (row,) = audit_rows(database, "household.create")
    assert row.summary == "新建农户 青石村 088 号户" and "周大山" not in str(row.changes)


def test_bad_household_input_is_a_chinese_message(admin, database, world):
    client = admin("town_admin")
    grid = _grid(database, world.ids["V1"])
    assert "身份证号码无效" in submit(client, "/admin/households/new", head_form(grid_id=grid, id_number="1234"))
    assert "手机号码无效" in submit(client, "/admin/households/new", head_form(grid_id=grid, phone="010-1234"))
    assert "本村已有户号 001" in submit(client, "/admin/households/new", head_form(grid_id=grid, number="001"))
    assert "出生年份" in submit(client, "/admin/households/new", head_form(grid_id=grid, birth_year="1800"))
    assert "已登记在" in submit(
        client, "/admin/households/new", head_form(grid_id=grid, id_number=_head_id_number(database, world))
    )
    with database() as s:
        assert s.scalar(select(func.count(Household.id)).where(Household.number == "088")) == 0


def _head_id_number(database, world) -> str:  # type: ignore[no-untyped-def]
    with database() as s:
        return s.scalar(select(Resident.id_number).where(Resident.household_id == world.ids["H2"], Resident.is_head))


def test_editing_flags_is_audited_before_and_after(admin, database, world):
    client = admin("town_admin")
    form = {"number": "002", "address": "青石村新址", "flag": ["is_monitored"]}
    assert "农户信息已保存" in submit(client, f"/admin/households/{world.ids['H2']}/edit", form)
    (row,) = audit_rows(database, "household.update")
    assert row.changes["is_monitored"] == [False, True] and row.changes["address"][1] == "青石村新址"


def test_members_join_leave_and_change_head_with_exactly_one_head(admin, database, world):
    client = admin("town_admin")
    h1 = world.ids["H1"]
    child = {"name": "王小明", "relation": "子女", "gender": "男", "birth_year": "2010"}
    assert "家庭成员已添加" in submit(client, f"/admin/households/{h1}/members", child)
    assert "每户只有一位户主" in submit(client, f"/admin/households/{h1}/members", child | {"relation": "户主"})
    with database() as s:
        members = {r.relation: r.id for r in s.get(Household, h1).residents}
    assert "户主迁出前" in submit(client, f"/admin/households/{h1}/members/{members['户主']}/leave", {})
    page = submit(client, f"/admin/households/{h1}/members/{members['配偶']}/head", {"old_head_relation": "配偶"})
    assert "户主已更换" in page
    assert "该成员已迁出" in submit(client, f"/admin/households/{h1}/members/{members['户主']}/leave", {})
    with database() as s:
        current = s.get(Household, h1).residents
        assert [(r.id, r.relation) for r in current if r.is_head] == [(members["配偶"], "户主")]
        assert members["户主"] not in {r.id for r in current}
        assert s.get(Resident, members["户主"]).left_on == today_local()
    assert [r.action for r in audit_rows(database, "resident.leave")] == ["resident.leave"]
    assert len(audit_rows(database, "resident.update")) == 2  # the old head steps down, the new one up


def test_editing_a_member_keeps_masked_fields_and_logs_a_new_phone_only_as_changed(admin, database, world):
    client = admin("town_admin")
    with database() as s:
        spouse = s.scalar(select(Resident).where(Resident.household_id == world.ids["H1"], Resident.relation == "配偶"))
        spouse_id, name = spouse.id, spouse.name
    form = {"relation": "配偶", "gender": "女", "birth_year": "1971", "phone": "13700001111"}
    assert "家庭成员已保存" in submit(client, f"/admin/households/{world.ids['H1']}/members/{spouse_id}", form)
    with database() as s:
        spouse = s.get(Resident, spouse_id)
        assert (spouse.name, spouse.phone, spouse.birth_year) == (name, "13700001111", 1971)
    (row,) = audit_rows(database, "resident.update")
    assert row.changes == {"birth_year": [1970, 1971], "phone": [CHANGED_PERSONAL, CHANGED_PERSONAL]}


def test_moving_a_household_to_another_village_keeps_its_points_and_moves_its_pairing(admin, database, world):
    h1, v2 = world.ids["H1"], world.ids["V2"]
    with database() as s:
        s.get(Claim, world.ids["claim"]).status = ClaimStatus.rejected  # reviewed: nothing pending in V1
        s.get(Household, h1).number = "101"  # V2 has a 001 already
        ensure_account(s, s.get(Household, h1), 100)
        balance = s.get(PointsAccount, h1).balance
        entries = list(s.execute(select(LedgerEntry.id, LedgerEntry.village_id).where(LedgerEntry.household_id == h1)))
    client = admin("town_admin")
    assert "农户已迁移" in submit(client, f"/admin/households/{h1}/move", {"grid_id": _grid(database, v2)})
    with database() as s:
        household = s.get(Household, h1)
        assert household.village_id == v2
        account = s.get(PointsAccount, h1)
        assert (account.village_id, account.balance) == (v2, balance)
        assert (
            list(s.execute(select(LedgerEntry.id, LedgerEntry.village_id).where(LedgerEntry.household_id == h1)))
            == entries
        )
        assert (
            ledger_mismatches(
                s, PointsAccount.household_id, LedgerEntry.household_id, [(PointsAccount.balance, LedgerEntry.amount)]
            )
            == []
        )
        (pairing,) = s.scalars(select(Pairing).where(Pairing.household_id == h1))
        assert (pairing.village_id, pairing.end_on) == (v2, None)
    moves = audit_rows(database, "household.move")
    assert {row.village_id for row in moves} == {world.ids["V1"], v2}
    assert moves[0].changes["village_id"] == [world.ids["V1"], v2]


def test_a_household_cannot_move_out_of_the_admins_scope_or_with_a_claim_pending(admin, database, world):
    client = admin("town_admin")
    h1 = world.ids["H1"]
    with database() as s:
        s.get(Household, h1).number = "101"  # V3 has a 001 already
    assert "无权访问" in submit(client, f"/admin/households/{h1}/move", {"grid_id": _grid(database, world.ids["V3"])})
    county = admin("county_admin")
    assert "待审核的积分申报" in submit(
        county, f"/admin/households/{h1}/move", {"grid_id": _grid(database, world.ids["V3"])}
    )
    with database() as s:
        assert s.get(Household, h1).village_id == world.ids["V1"]
    other_town = admin("town_admin_other")
    assert other_town.get(f"/admin/households/{h1}/manage").status_code == 403
    assert "无权访问" in submit(other_town, f"/admin/households/{h1}/retire", {})


def test_retiring_a_household_ends_its_pairing_and_hides_it(admin, database, world):
    client = admin("town_admin")
    assert "农户已注销" in submit(client, f"/admin/households/{world.ids['H1']}/retire", {})
    with database() as s:
        (pairing,) = s.scalars(select(Pairing).where(Pairing.household_id == world.ids["H1"]))
        assert pairing.end_on == today_local()
    page = html(client.get(f"/admin/households?village={world.ids['V1']}"))
    assert "002" in page and ">001<" not in page
    assert len(audit_rows(database, "household.retire")) == 1


# --- 驻村干部、任职、结对 ---


def cadre_form(database, world, **overrides: object) -> dict:  # type: ignore[no-untyped-def]
    return {
        "name": "吴网格",
        "phone": "13611112222",
        "id_number": "",
        "work_unit": "青石镇政府",
        "village_id": world.ids["V1"],
        "post": "grid_worker",
        "grid_id": _grid(database, world.ids["V1"]),
        "start_on": "",
        "end_on": "",
    } | overrides


def test_a_grid_worker_is_registered_with_a_posting_to_a_grid(admin, database, world):
    client = admin("town_admin")
    page = submit(client, "/admin/cadres/new", cadre_form(database, world))
    assert "驻村干部已登记" in page and "吴*格" in page and "13611112222" not in page
    assert "吴*格" in html(client.get(f"/admin/villages/{world.ids['V1']}"))  # the grid's worker
    assert len(audit_rows(database, "cadre.create")) == 1
    (posting,) = audit_rows(database, "posting.create")
    assert posting.changes["post"] == [None, "grid_worker"]


def test_bad_cadre_and_posting_input_is_a_chinese_message(admin, database, world):
    client = admin("town_admin")
    assert "网格员请选择负责的网格" in submit(client, "/admin/cadres/new", cadre_form(database, world, grid_id=""))
    assert "手机号码无效" in submit(client, "/admin/cadres/new", cadre_form(database, world, phone="12"))
    assert "结束日期不能早于开始日期" in submit(
        client, "/admin/cadres/new", cadre_form(database, world, start_on="2026-05-02", end_on="2026-05-01")
    )
    assert "日期" in submit(client, "/admin/cadres/new", cadre_form(database, world, start_on="2026-13-01"))
    assert "无权访问" in submit(client, "/admin/cadres/new", cadre_form(database, world, village_id=world.ids["V3"]))
    with database() as s:
        assert s.scalar(select(func.count(Cadre.id)).where(Cadre.work_unit == "青石镇政府")) == 0


def test_postings_end_on_a_date_not_before_they_started(admin, database, world):
    client = admin("town_admin")
    cadre = world.ids["cadre"]
    with database() as s:
        posting = s.scalar(select(Posting).where(Posting.cadre_id == cadre))
        posting_id, started = posting.id, posting.start_on
    early = (started - timedelta(days=1)).isoformat()
    path = f"/admin/cadres/{cadre}/postings/{posting_id}/end"
    assert "结束日期不能早于开始日期" in submit(client, path, {"end_on": early})
    assert "任职已结束" in submit(client, path, {"end_on": today_local().isoformat()})
    assert audit_rows(database, "posting.update")[0].changes == {"end_on": [None, today_local().isoformat()]}


def test_a_town_admin_cannot_touch_another_towns_cadre(admin, database, world):
    with database() as s:
        far = s.scalar(select(User.cadre_id).where(User.id == world.ids["user:cadre_far"]))
    client = admin("town_admin")
    assert client.get(f"/admin/cadres/{far}").status_code == 403
    form = {"work_unit": "别处", "name": "", "phone": "", "id_number": ""}
    assert "无权访问" in submit(client, f"/admin/cadres/{far}", form)
    with database() as s:
        assert s.get(Cadre, far).work_unit == "县农业农村局"


def test_no_poor_household_is_missed_and_a_new_helper_takes_over_the_day_before(admin, database, world):
    client = admin("town_admin")
    h1, h2 = world.ids["H1"], world.ids["H2"]
    assert "所有脱贫户、监测户都已结对" in html(client.get("/admin/unpaired"))
    submit(client, f"/admin/households/{h2}/edit", {"number": "002", "address": "青石村", "flag": ["is_poor"]})
    assert ">002<" in html(client.get("/admin/unpaired"))
    page = submit(client, "/admin/cadres/new", cadre_form(database, world, post="helper", grid_id=""))
    with database() as s:
        helper = s.scalar(select(Cadre.id).where(Cadre.work_unit == "青石镇政府"))
    assert "帮扶责任人已结对" in submit(client, f"/admin/households/{h2}/pairing", {"cadre_id": helper})
    assert "所有脱贫户、监测户都已结对" in html(client.get("/admin/unpaired"))
    tomorrow = today_local() + timedelta(days=1)
    form = {"cadre_id": helper, "start_on": tomorrow.isoformat()}
    assert "帮扶责任人已结对" in submit(client, f"/admin/households/{h1}/pairing", form)
    assert "已是这户的帮扶责任人" in submit(client, f"/admin/households/{h1}/pairing", form)
    with database() as s:
        pairings = list(s.scalars(select(Pairing).where(Pairing.household_id == h1).order_by(Pairing.id)))
        assert [(p.cadre_id, p.end_on) for p in pairings] == [(world.ids["cadre"], today_local()), (helper, None)]
    assert len(audit_rows(database, "pairing.create")) == 2 and len(audit_rows(database, "pairing.update")) == 1
    assert page


def test_retiring_a_cadre_ends_postings_and_pairings_and_refuses_their_phone_at_once(admin, api, database, world):
    phone = api("cadre")
    assert phone.get("/me").status_code == 200
    assert "只有县管理员" in submit(admin("town_admin"), f"/admin/cadres/{world.ids['cadre']}/retire", {})
    page = submit(admin("county_admin"), f"/admin/cadres/{world.ids['cadre']}/retire", {})
    assert "驻村干部已停用" in page
    assert phone.get("/me").status_code == 401
    with database() as s:
        assert (
            s.scalar(
                select(func.count(Pairing.id)).where(Pairing.cadre_id == world.ids["cadre"], Pairing.end_on.is_(None))
            )
            == 0
        )
        assert s.get(User, world.ids["user:cadre"]).is_active is False
    assert "赵*一" not in html(admin("county_admin").get("/admin/cadres"))


# --- 恢复: a retired town, grid, household or cadre comes back, alone, audited ---


def test_a_restored_town_comes_back_alone_and_its_villages_are_restored_one_by_one(admin, database, world):
    client = admin("county_admin")
    submit(client, "/admin/towns", {"name": "新丰镇", "code": "610999103"})
    with database() as s:
        town_id = s.scalar(select(Town.id).where(Town.code == "610999103"))
    submit(client, "/admin/villages/new", village_form(town_id=town_id, code="610999103001"))
    with database() as s:
        village_id = s.scalar(select(Village.id).where(Village.code == "610999103001"))
    submit(client, f"/admin/villages/{village_id}/retire", {})
    assert "乡镇已停用" in submit(client, f"/admin/towns/{town_id}/retire", {})
    assert "请先恢复乡镇" in submit(client, f"/admin/villages/{village_id}/restore", {})
    assert "只有县管理员" in submit(admin("town_admin"), f"/admin/towns/{town_id}/restore", {})
    towns_page = submit(client, f"/admin/towns/{town_id}/restore", {})
    assert "乡镇已恢复" in towns_page and f"/admin/towns/{town_id}/retire" in towns_page
    assert "新丰村" in html(client.get("/admin/villages?retired=1")), "its village stays retired"
    assert "行政村已恢复" in submit(client, f"/admin/villages/{village_id}/restore", {})
    (row,) = audit_rows(database, "town.restore")
    assert (row.summary, row.changes) == ("恢复乡镇 新丰镇", {"retired_on": [today_local().isoformat(), None]})


def test_a_retired_grid_is_restored_from_its_village_page(admin, database, world):
    client = admin("town_admin")
    v1 = world.ids["V1"]
    submit(client, f"/admin/villages/{v1}/grids", {"name": "第三网格"})
    with database() as s:
        grid_id = s.scalar(select(Grid.id).where(Grid.village_id == v1, Grid.name == "第三网格"))
    page = submit(client, f"/admin/villages/{v1}/grids/{grid_id}/retire", {})
    assert f"/admin/villages/{v1}/grids/{grid_id}/restore" in page
    assert "网格已恢复" in submit(client, f"/admin/villages/{v1}/grids/{grid_id}/restore", {})
    with database() as s:
        assert s.get(Grid, grid_id).retired_on is None
    assert [r.target_id for r in audit_rows(database, "grid.restore")] == [grid_id]


def test_a_retired_household_is_found_under_only_retired_and_restored_without_its_pairing(admin, database, world):
    client = admin("town_admin")
    h1 = world.ids["H1"]
    submit(client, f"/admin/households/{h1}/retire", {})
    retired_list = html(client.get(f"/admin/households?village={world.ids['V1']}&retired=1"))
    assert ">001<" in retired_list and ">002<" not in retired_list
    manage = html(client.get(f"/admin/households/{h1}/manage"))
    assert f"/admin/households/{h1}/restore" in manage and "恢复该户" in manage
    assert "农户已恢复" in submit(client, f"/admin/households/{h1}/restore", {})
    assert ">001<" in html(client.get(f"/admin/households?village={world.ids['V1']}"))
    with database() as s:
        open_pairings = select(func.count(Pairing.id)).where(Pairing.household_id == h1, Pairing.end_on.is_(None))
        assert s.scalar(open_pairings) == 0, "the pairing the retirement ended stays ended"
    (row,) = audit_rows(database, "household.restore")
    assert (row.target_id, row.village_id, row.changes) == (
        h1,
        world.ids["V1"],
        {"retired_on": [today_local().isoformat(), None]},
    )


def test_a_retired_cadre_is_listed_under_only_retired_and_restored_by_the_county_without_posts_or_login(
    admin, api, database, world
):
    county = admin("county_admin")
    cadre_id = world.ids["cadre"]
    submit(county, f"/admin/cadres/{cadre_id}/retire", {})
    assert "赵*一" in html(county.get("/admin/cadres?retired=1"))
    assert "只有县管理员" in submit(admin("town_admin"), f"/admin/cadres/{cadre_id}/restore", {})
    assert "恢复该干部" in html(county.get(f"/admin/cadres/{cadre_id}"))
    assert "驻村干部已恢复" in submit(county, f"/admin/cadres/{cadre_id}/restore", {})
    assert "赵*一" in html(county.get("/admin/cadres"))
    assert api("cadre").get("/me").status_code == 401, "the login stays disabled until an admin gives it back"
    with database() as s:
        assert s.get(Cadre, cadre_id).retired_on is None
        assert (
            s.scalar(select(func.count(Posting.id)).where(Posting.cadre_id == cadre_id, Posting.end_on.is_(None))) == 0
        )
    (row,) = audit_rows(database, "cadre.restore")
    assert row.changes == {"retired_on": [today_local().isoformat(), None]} and "赵第一" not in row.summary


def test_a_cadre_whose_phone_a_new_cadre_now_uses_cannot_be_restored(admin, database, world):
    county = admin("county_admin")
    cadre_id = world.ids["cadre"]
    with database() as s:
        phone = s.get(Cadre, cadre_id).phone
    submit(county, f"/admin/cadres/{cadre_id}/retire", {})
    assert "驻村干部已登记" in submit(county, "/admin/cadres/new", cadre_form(database, world, phone=phone))
    assert "已有使用该手机号或身份证号的驻村干部" in submit(county, f"/admin/cadres/{cadre_id}/restore", {})
    with database() as s:
        assert s.get(Cadre, cadre_id).retired_on is not None
    assert audit_rows(database, "cadre.restore") == []


def test_an_admin_of_another_town_cannot_restore_here(admin, database, world):
    client = admin("town_admin")
    submit(client, f"/admin/households/{world.ids['H1']}/retire", {})
    outsider = admin("town_admin_other")
    response = post_form(outsider, f"/admin/households/{world.ids['H1']}/restore", {})
    if response.status_code == 302:
        with outsider.session_transaction() as session:
            assert [m for _c, m in session["_flashes"]] == ["无权访问该范围的数据"]
    else:
        assert response.status_code == 403
    with database() as s:
        assert s.get(Household, world.ids["H1"]).retired_on is not None
    assert audit_rows(database, "household.restore") == []
