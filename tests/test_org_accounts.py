"""账号管理: a county admin manages its county's admin and cadre accounts, a town admin only its villages' review
panels; a disabled account or a changed scope takes effect on the very next request, in the admin and on the
phone; every change is audited, a password only as changed."""

from __future__ import annotations

from sqlalchemy import select

from backend.audit.models import AuditEntry
from backend.audit.service import CHANGED_PERSONAL
from backend.auth.models import Role, User
from tests.admin_helpers import PASSWORD, html, post_form, post_login
from tests.test_org_admin import submit

NEW_PASSWORD = "a brand new password"


def _audit(database, action: str) -> list[AuditEntry]:  # type: ignore[no-untyped-def]
    with database() as s:
        rows = list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))
        s.expunge_all()
        return rows


def test_a_county_admin_creates_a_town_admin_who_can_sign_in(app, admin, database, world):
    client = admin("county_admin")
    form = {"username": "qingshi_town", "password": NEW_PASSWORD, "role": "town_admin", "region": "610999101"}
    assert "账号已新建" in submit(client, "/admin/accounts", form)
    assert post_login(app.test_client(), "qingshi_town", NEW_PASSWORD).status_code == 302
    with database() as s:
        user = s.scalar(select(User).where(User.username == "qingshi_town"))
        assert (user.role, user.town_id, user.county_id) == (Role.town_admin, world.ids["T1"], None)
    (row,) = _audit(database, "user.create")
    assert row.summary == "新建账号 qingshi_town（镇管理员）" and row.town_id == world.ids["T1"]
    assert NEW_PASSWORD not in str(row.changes)


def test_bad_account_input_is_a_chinese_message(admin, database):
    client = admin("county_admin")
    base = {"username": "new_one", "password": NEW_PASSWORD, "role": "reviewer", "region": "610999101001"}
    assert "密码至少 10 位" in submit(client, "/admin/accounts", base | {"password": "short"})
    assert "用户名为 3–64 位" in submit(client, "/admin/accounts", base | {"username": "名字"})
    assert "已被使用" in submit(client, "/admin/accounts", base | {"username": "t_town"})
    assert "请选择管理员角色" in submit(client, "/admin/accounts", base | {"role": "villager"})
    assert "没有代码为" in submit(client, "/admin/accounts", base | {"region": "610999101"})
    with database() as s:
        assert s.scalar(select(User.id).where(User.username == "new_one")) is None


def test_a_town_admin_manages_only_review_panels_of_its_own_villages(admin, database, world):
    client = admin("town_admin")
    page = html(client.get("/admin/accounts"))
    assert "t_reviewer" in page and "t_reviewer_v2" in page and "t_county" not in page and "t_town2" not in page
    base = {"username": "panel_v1", "password": NEW_PASSWORD, "role": "reviewer", "region": "610999101001"}
    assert "账号已新建" in submit(client, "/admin/accounts", base)
    assert "只能管理本镇村评议小组" in submit(
        client, "/admin/accounts", base | {"username": "x_t", "role": "town_admin"}
    )
    assert "只能在本管辖范围内" in submit(
        client, "/admin/accounts", base | {"username": "x_v3", "region": "610999102001"}
    )
    assert "无权访问" in submit(client, f"/admin/accounts/{world.ids['user:town_admin_other']}/disable", {})
    assert "无权访问" in submit(
        client, f"/admin/accounts/{world.ids['user:county_admin']}/password", {"password": NEW_PASSWORD}
    )
    with database() as s:
        assert s.get(User, world.ids["user:town_admin_other"]).is_active
        assert s.scalar(select(User.id).where(User.username.in_(["x_t", "x_v3"]))) is None


def test_a_review_panel_manages_no_account(admin, world):
    client = admin("reviewer")
    assert "没有可管理的账号" in html(client.get("/admin/accounts"))
    assert "只有乡镇或县管理员" in submit(client, f"/admin/accounts/{world.ids['user:reviewer_other']}/disable", {})


def test_a_disabled_admins_open_session_is_refused_on_its_next_request(admin, api, database, world):
    browser, phone = admin("town_admin"), api("town_admin")
    assert browser.get("/admin/").status_code == 200
    county = admin("county_admin")
    assert "账号已停用" in submit(county, f"/admin/accounts/{world.ids['user:town_admin']}/disable", {})
    assert browser.get("/admin/").status_code == 302
    assert phone.get("/me").status_code == 401
    (row,) = _audit(database, "user.retire")
    assert row.changes == {"is_active": [True, False]}
    assert "账号已启用" in submit(county, f"/admin/accounts/{world.ids['user:town_admin']}/enable", {})
    assert browser.get("/admin/").status_code == 302  # the old sign-in stays ended


def test_a_disabled_cadres_phone_token_is_refused_on_its_next_request(admin, api, database, world):
    phone = api("cadre")
    assert phone.get("/me").status_code == 200
    assert "账号已停用" in submit(admin("county_admin"), f"/admin/accounts/{world.ids['user:cadre']}/disable", {})
    assert phone.get("/me").status_code == 401
    with database() as s:
        assert s.get(User, world.ids["user:cadre"]).is_active is False


def test_a_changed_scope_takes_effect_on_the_next_request(app, admin, database, world):
    reviewer = admin("reviewer")
    assert reviewer.get(f"/admin/households/{world.ids['H1']}").status_code == 200
    county = admin("county_admin")
    form = {"role": "reviewer", "region": "610999101002"}
    assert "角色与管辖范围已保存" in submit(county, f"/admin/accounts/{world.ids['user:reviewer']}/role", form)
    assert reviewer.get(f"/admin/households/{world.ids['H1']}").status_code == 302  # signed out
    again = app.test_client()
    assert post_login(again, "t_reviewer", PASSWORD).status_code == 302
    assert again.get(f"/admin/households/{world.ids['H1']}").status_code == 403
    assert again.get(f"/admin/households/{world.ids['H3']}").status_code == 200
    (row,) = _audit(database, "user.update")
    assert row.changes == {"village_id": [world.ids["V1"], world.ids["V2"]]}


def test_a_reset_password_signs_out_and_is_logged_only_as_changed(app, admin, database, world):
    browser = admin("reviewer")
    county = admin("county_admin")
    path = f"/admin/accounts/{world.ids['user:reviewer']}/password"
    assert "密码已重置" in submit(county, path, {"password": NEW_PASSWORD})
    assert browser.get("/admin/").status_code == 302
    assert post_login(app.test_client(), "t_reviewer", NEW_PASSWORD).status_code == 302
    (row,) = _audit(database, "user.update")
    assert row.changes == {"password": [CHANGED_PERSONAL, CHANGED_PERSONAL]}


def test_nobody_disables_or_demotes_their_own_account(admin, world):
    client = admin("county_admin")
    own = world.ids["user:county_admin"]
    assert "不能停用自己的账号" in submit(client, f"/admin/accounts/{own}/disable", {})
    assert "不能修改自己的角色" in submit(
        client, f"/admin/accounts/{own}/role", {"role": "reviewer", "region": "610999101001"}
    )
    assert post_form(client, "/admin/accounts", {}).status_code == 302
    assert client.get("/admin/").status_code == 200
