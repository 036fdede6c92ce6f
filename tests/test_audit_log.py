"""操作日志: a change and its audit row commit together, personal data appears only as "changed", and each
admin reads only the rows of their own part of the tree, on the page and in the Excel export."""

from __future__ import annotations

from backend.audit.service import CHANGED_PERSONAL, diff, place_of_town, place_of_village, record
from backend.auth.models import User
from tests.admin_helpers import html
from tests.xlsx import read_xlsx


def test_a_diff_keeps_changed_fields_and_never_the_values_of_personal_data() -> None:
    before = {"address": "青石村1号", "phone": "13900000001", "is_poor": True, "grid": "一组"}
    after = {"address": "青石村2号", "phone": "13900000002", "is_poor": True, "grid": "一组"}
    assert diff(before, after, personal=frozenset({"phone"})) == {
        "address": ["青石村1号", "青石村2号"],
        "phone": [CHANGED_PERSONAL, CHANGED_PERSONAL],
    }
    assert diff({"phone": None}, {"phone": "13900000002"}, frozenset({"phone"})) == {"phone": [None, CHANGED_PERSONAL]}


def _log_changes(database, world) -> None:  # type: ignore[no-untyped-def]
    with database() as s:
        county_admin = s.get(User, world.ids["user:county_admin"])
        record(
            s,
            county_admin,
            "household.update",
            "household",
            world.ids["H1"],
            "修改农户 001 的住址",
            place_of_village(s, world.ids["V1"]),
            {"address": ["青石村1号", "青石村2号"]},
        )
        record(
            s,
            county_admin,
            "village.create",
            "village",
            world.ids["V3"],
            "新建行政村 河口村",
            place_of_village(s, world.ids["V3"]),
        )
        record(s, None, "town.update", "town", world.ids["T3"], "修改乡镇 远山镇", place_of_town(s, world.ids["T3"]))


def test_each_admin_reads_only_the_audit_rows_of_their_own_part_of_the_tree(admin, database, world) -> None:
    _log_changes(database, world)
    county = html(admin("county_admin").get("/admin/audit"))
    assert "修改农户 001 的住址" in county and "新建行政村 河口村" in county and "远山镇" not in county
    assert "青石村1号 → 青石村2号" in county
    town = html(admin("town_admin").get("/admin/audit"))
    assert "修改农户 001 的住址" in town and "河口村" not in town
    other_town = html(admin("town_admin_other").get("/admin/audit"))
    assert "修改农户" not in other_town and "新建行政村 河口村" in other_town
    assert "修改乡镇 远山镇" in html(admin("county_admin_other").get("/admin/audit"))


def test_the_county_exports_its_audit_log_to_excel_newest_first(admin, database, world) -> None:
    _log_changes(database, world)
    rows = read_xlsx(admin("county_admin").get("/admin/audit?format=xlsx"))
    assert rows[0] == ["时间", "操作人", "操作", "对象", "对象编号", "说明", "修改内容（修改前 → 修改后）"]
    assert [r[1:] for r in rows[1:]] == [
        ["t_county", "新建", "行政村", world.ids["V3"], "新建行政村 河口村", None],
        ["t_county", "修改", "农户", world.ids["H1"], "修改农户 001 的住址", "address: 青石村1号 → 青石村2号"],
    ]


def test_the_audit_page_filters_by_action_and_object(admin, database, world) -> None:
    _log_changes(database, world)
    page = html(admin("county_admin").get("/admin/audit?action=create&target=village"))
    assert "新建行政村 河口村" in page and "修改农户" not in page
