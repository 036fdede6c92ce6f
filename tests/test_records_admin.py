"""驻村工作 admin pages: attendance and a cadre's month, coverage with gaps, problem ledger, leave approval,
and each ledger's Excel export read back."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from backend.db import db
from backend.months import Month
from backend.org.models import Pairing
from backend.records.models import LeaveRequest
from backend.timeutil import today_local
from tests.admin_helpers import html, post_form
from tests.xlsx import read_xlsx

TODAY = today_local().isoformat()


@pytest.fixture
def worked(api, world, database):  # type: ignore[no-untyped-def]
    """The V1 cadre checks in, writes a record, visits H1 (its second visit) and raises a problem; H2 is
    paired to them but not visited; the V3 cadre works too."""
    with database() as s:
        s.add(Pairing(cadre_id=world.ids["cadre"], household_id=world.ids["H2"], start_on=date(2024, 1, 1)))
    cadre = api("cadre")
    assert cadre.post("/checkins", {"lat": 33.15, "lng": 107.33, "accuracy": 10}).status_code == 201
    assert (
        cadre.post(
            "/daily-records",
            {
                "date": TODAY,
                "category": "industry",
                "content": "协调茶叶合作社收购",
                "place": "茶园",
                "household_ids": [world.ids["H1"]],
            },
        ).status_code
        == 201
    )
    visit = cadre.post(
        "/visits",
        {
            "household_id": world.ids["H1"],
            "purpose": "了解就医",
            "findings": "慢病卡未办",
            "problems": [{"description": "办理慢病卡"}],
        },
    )
    assert visit.status_code == 201
    far = api("cadre_far")
    assert (
        far.post(
            "/daily-records", {"date": TODAY, "category": "meeting", "content": "河口村党员大会", "place": "河口村"}
        ).status_code
        == 201
    )
    leave = cadre.post("/leaves", {"start_on": TODAY, "end_on": TODAY, "reason": "到县里开会"})
    assert leave.status_code == 201
    world.ids["leave"] = leave.json["id"]
    return world


def test_attendance_lists_cadres_of_the_scope_and_links_to_their_month(admin, worked) -> None:
    page = html(admin("town_admin").get("/admin/attendance"))
    assert "到岗考勤" in page and "赵*一" in page and "钱*村" not in page  # 钱驻村 is posted in 河口镇
    assert "本月进行中，尚差 19 天" in page and 'class="gap"' not in page  # the month is not over yet
    last_month = (today_local().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    past = html(admin("town_admin").get(f"/admin/attendance?month={last_month}"))
    assert "未达标，差 20 天" in past and 'class="gap"' in past
    month = html(admin("town_admin").get(f"/admin/cadres/{worked.ids['cadre']}/work"))
    assert "考勤日历" in month and "在岗 1 天" in month
    assert "协调茶叶合作社收购" in month and "慢病卡未办" in month and "河口村党员大会" not in month


def test_a_cadre_outside_the_scope_has_no_month_page(admin, worked) -> None:
    assert admin("town_admin_other").get(f"/admin/cadres/{worked.ids['cadre']}/work").status_code == 403


def test_coverage_shows_gaps_in_red_and_exports_them(admin, worked) -> None:
    client = admin("town_admin")
    page = html(client.get("/admin/coverage"))
    assert page.count('class="gap"') == 1 and "缺 2 次" in page  # H2: none of the two visits
    gaps = html(client.get("/admin/coverage?gaps=1"))
    assert f"/admin/households/{worked.ids['H2']}" in gaps and f"/admin/households/{worked.ids['H1']}" not in gaps
    rows = read_xlsx(client.get("/admin/coverage?format=xlsx"))
    assert rows[0][:4] == ["行政村", "户号", "帮扶责任人（脱敏）", "本月走访"]
    assert [(r[1], r[2], r[3], r[-1]) for r in rows[1:]] == [("001", "赵*一", 2, "达标"), ("002", "赵*一", 0, "未达标")]
    assert "没有符合条件的包联户" in html(admin("town_admin_other").get("/admin/coverage"))


def test_problem_ledger_filters_and_exports(admin, worked) -> None:
    client = admin("county_admin")
    page = html(client.get("/admin/problems?status=open"))
    assert "办理慢病卡" in page and "房屋漏雨需维修" in page
    assert "办理慢病卡" not in html(client.get("/admin/problems?status=closed"))
    assert "没有符合条件的问题" in html(client.get("/admin/problems?overdue=1"))
    rows = read_xlsx(client.get("/admin/problems?format=xlsx&status=open"))
    assert rows[0][3] == "问题" and {r[3] for r in rows[1:]} == {"办理慢病卡", "房屋漏雨需维修"}
    assert admin("county_admin_other").get("/admin/problems").status_code == 200
    assert "办理慢病卡" not in html(admin("county_admin_other").get("/admin/problems"))


def test_daily_record_and_visit_ledgers_export_within_scope(admin, worked) -> None:
    client = admin("reviewer")
    records = read_xlsx(client.get("/admin/daily-records?format=xlsx"))
    assert [r[4] for r in records[1:]] == ["召开村两委会议，研究产业路修缮", "协调茶叶合作社收购"]
    assert records[2][3] == "产业发展" and records[2][6] == "001"
    visits = read_xlsx(client.get("/admin/visits?format=xlsx"))
    assert {r[6] for r in visits[1:]} == {"慢病卡未办", "户主在家养伤"}
    assert "河口村党员大会" in html(admin("county_admin").get("/admin/daily-records"))
    attendance = read_xlsx(client.get("/admin/attendance?format=xlsx"))
    assert attendance[1][0] == "赵*一" and attendance[1][4] == 1


def test_town_admin_approves_leave_and_county_admin_only_reads(app, admin, worked) -> None:
    county = admin("county_admin")
    assert "待驻村所在镇审批" in html(county.get("/admin/leaves"))
    refused = post_form(county, f"/admin/leaves/{worked.ids['leave']}/decide", {"decision": "approve"})
    assert refused.status_code == 403
    town = admin("town_admin")
    assert "到县里开会" in html(town.get("/admin/leaves?status=pending"))
    done = post_form(town, f"/admin/leaves/{worked.ids['leave']}/decide", {"decision": "approve", "note": "同意"})
    assert done.status_code == 302
    assert "已批准" in html(town.get("/admin/leaves"))
    again = post_form(town, f"/admin/leaves/{worked.ids['leave']}/decide", {"decision": "reject"})
    assert again.status_code == 409
    rows = read_xlsx(town.get("/admin/leaves?format=xlsx"))
    assert rows[1][6] == "已批准" and rows[1][9] == "同意"
    with app.app_context():
        assert db.session.scalar(select(LeaveRequest.status)) == "approved"
    month = html(town.get(f"/admin/cadres/{worked.ids['cadre']}/work"))
    assert "在岗 1 天" in month and "请假 0 天" in month  # checked in on the leave day: on post wins


def test_leave_decision_needs_the_csrf_token(admin, worked) -> None:
    response = admin("town_admin").post(f"/admin/leaves/{worked.ids['leave']}/decide", data={"decision": "approve"})
    assert response.status_code == 400


def test_county_admin_adopts_the_guangyuan_rule_and_attendance_and_coverage_follow_it(admin, worked) -> None:
    county = admin("county_admin")
    page = html(county.get("/admin/cadre-settings"))
    assert 'name="required_days" min="0" max="31" required value="20"' in page
    assert '<option value="ziyang" selected>' in page
    saved = post_form(
        county,
        "/admin/cadre-settings",
        {"required_days": 18, "visit_rule": "guangyuan", "accuracy_cap_m": 100, "problem_deadline_days": 15},
    )
    assert saved.status_code == 302
    page = html(county.get("/admin/cadre-settings"))
    assert '<option value="guangyuan" selected>' in page and 'required value="18"' in page
    town = admin("town_admin")
    assert "本月进行中，尚差 17 天" in html(town.get("/admin/attendance"))
    # One visit per two months and one contact a month: H1 (two visits) meets it, H2 lacks the visit and the contact.
    coverage = html(town.get("/admin/coverage"))
    month = Month.of(today_local())
    start = month.shift(-((month.month - 1) % 2))
    assert f"<td>{start}~{start.shift(1)}</td>" in coverage, "the two-month window"
    assert "2 / 1" in coverage and "0 / 1" in coverage and "缺 2 次" in coverage
    assert coverage.count('class="gap"') == 1


def test_a_refused_setting_changes_nothing_and_says_why(admin, worked) -> None:
    county = admin("county_admin")
    refused = post_form(
        county,
        "/admin/cadre-settings",
        {
            "required_days": 40,
            "visit_rule": "custom",
            "visits_required": 1,
            "visit_period_months": 5,
            "contacts_per_month": 0,
            "accuracy_cap_m": 100,
            "problem_deadline_days": 15,
        },
    )
    assert refused.status_code == 400
    page = html(refused)
    assert "每月到岗天数应在 0–31 天之间" in page and "走访周期应为 1、2、3、6 或 12 个月" in page
    assert 'required value="40"' in page, "what was typed stays in the form"
    assert 'required value="20"' in html(county.get("/admin/cadre-settings")), "nothing was saved"


def test_town_admin_reads_the_county_settings_but_cannot_change_them(admin, worked) -> None:
    town = admin("town_admin")
    page = html(town.get("/admin/cadre-settings"))
    assert "只有县级管理员可以修改" in page and "<fieldset disabled>" in page
    refused = post_form(
        town,
        "/admin/cadre-settings",
        {"required_days": 1, "visit_rule": "ziyang", "accuracy_cap_m": 100, "problem_deadline_days": 15},
    )
    assert refused.status_code == 403
