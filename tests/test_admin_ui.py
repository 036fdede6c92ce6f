"""The admin web UI: login and CSRF, the admin-only guard, scope on every page, masking, paging."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from backend.auth.models import Role, User
from backend.crypto import mask_id_number, mask_name, mask_phone
from backend.org.models import Cadre, County, Grid, Household, Post, Posting, Resident, Village
from tests.admin_helpers import CSRF_INPUT, PASSWORD, count_queries, hold_session_of, html, post_form, post_login
from tests.factories import World, make_cadre, make_household
from tests.factories_shop import add_shop
from tests.xlsx import read_xlsx

HOUSEHOLD_LINK = re.compile(r'href="/admin/households/(\d+)"')


def stat(page: str, label: str) -> int:
    match = re.search(rf"<b>(\d+)</b><span>{label}</span>", page)
    assert match, f"dashboard shows {label}"
    return int(match.group(1))


def household_ids(page: str) -> set[int]:
    return {int(i) for i in HOUSEHOLD_LINK.findall(page)}


# --- login, CSRF, who may enter -----------------------------------------------------


def test_town_admin_logs_in_and_lands_on_dashboard_with_counts_for_their_town(app, world, with_password):
    client = app.test_client()
    response = post_login(client, with_password("town_admin"), PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/")

    page = html(client.get("/admin/"))
    # 青石镇: villages V1+V2, one grid each, households H1 H2 H6 (V1) + H3 (V2), two members each.
    assert stat(page, "行政村") == 2
    assert stat(page, "网格") == 2
    assert stat(page, "户") == 4
    assert stat(page, "人") == 8
    assert stat(page, "脱贫户/监测户") == 1
    assert stat(page, "在岗驻村干部") == 1
    assert "青石镇" in page and "镇管理员" in page


def test_county_admin_dashboard_counts_the_whole_county_only(admin):
    page = html(admin("county_admin").get("/admin/"))
    # 青山县: V1 V2 V3, households H1 H2 H3 H4 H6; 远山县's V4/H5 are not counted.
    assert stat(page, "行政村") == 3
    assert stat(page, "网格") == 3
    assert stat(page, "户") == 5
    assert stat(page, "人") == 10
    assert stat(page, "在岗驻村干部") == 2
    assert "青山县" in page and "县管理员" in page


def test_top_bar_shows_navigation_role_and_scope_and_logs_out_by_post(admin):
    client = admin("reviewer")
    page = html(client.get("/admin/villages"))
    for item in ("首页", "行政村", "农户", "驻村干部"):
        assert f">{item}</a>" in page
    assert "村评议小组" in page and "青石村" in page
    assert 'action="/admin/logout"' in page

    assert client.get("/admin/logout").status_code == 405  # never a link a crawler or <img> can follow
    token = CSRF_INPUT.search(page).group(1)
    response = client.post("/admin/logout", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/login")
    assert client.get("/admin/").status_code == 302


def test_top_bar_lists_areas_and_the_bar_below_lists_the_pages_of_the_current_area(admin):
    page = html(admin("county_admin").get("/admin/points/review"))
    top = re.search(r'<nav aria-label="主导航">(.*?)</nav>', page, re.S).group(1)
    assert re.findall(r">([^<>]+)</a>", top) == [
        "首页",
        "组织架构",
        "村民积分",
        "积分超市",
        "驻村工作",
        "满意度测评",
        "考核评星",
    ]
    assert 'class="active">村民积分</a>' in top
    below = re.search(r'<nav class="subnav" aria-label="村民积分">(.*?)</nav>', page, re.S).group(1)
    assert 'class="active" aria-current="page">积分评议</a>' in below
    assert ">月度公示</a>" in below and ">积分排名</a>" in below
    assert "到岗考勤" not in below


def test_anonymous_visitor_is_sent_to_login_and_comes_back_after(app, world, with_password):
    client = app.test_client()
    response = client.get("/admin/households")
    assert response.status_code == 302
    assert "/admin/login?next=" in response.headers["Location"]

    response = post_login(client, with_password("reviewer"), PASSWORD, next_url="/admin/households")
    assert response.headers["Location"].endswith("/admin/households")


def test_login_never_redirects_to_another_site(app, world, with_password):
    response = post_login(app.test_client(), with_password("reviewer"), PASSWORD, next_url="//evil.example/admin")
    assert response.headers["Location"].endswith("/admin/")


def test_post_without_csrf_token_is_refused_with_an_error_page(app, world, with_password):
    username = with_password("reviewer")
    client = app.test_client()
    client.get("/admin/login")
    response = client.post("/admin/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 400
    assert "页面已过期" in html(response)
    assert client.get("/admin/").status_code == 302  # not signed in


def test_logout_without_csrf_token_keeps_the_admin_signed_in(admin):
    client = admin("reviewer")
    assert client.post("/admin/logout").status_code == 400
    assert client.get("/admin/").status_code == 200


@pytest.mark.parametrize("name", ["villager", "cadre"])
def test_villager_or_cadre_with_a_password_cannot_log_in(app, world, with_password, name):
    client = app.test_client()
    response = post_login(client, with_password(name), PASSWORD)
    assert response.status_code == 200
    assert "用户名或密码错误" in html(response)
    assert client.get("/admin/").status_code == 302


def test_non_admin_session_is_refused_on_every_admin_page(app, world):
    client = app.test_client()
    hold_session_of(app, client, world.ids["user:cadre"])
    for path in ("/admin/", "/admin/villages", "/admin/households", f"/admin/households/{world.ids['H1']}"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "只有管理员" in html(response)


def test_every_admin_page_requires_an_admin(app, world, admin, database):
    """Walks every /admin route: anonymous → login, cadre session → 403, reviewer → the page."""
    reviewer = admin("reviewer")
    cadre = app.test_client()
    hold_session_of(app, cadre, world.ids["user:cadre"])
    with database() as s:
        add_shop(s, world)
    values = {
        "household_id": world.ids["H1"],
        "survey_id": world.ids["survey"],
        "cadre_id": world.ids["cadre"],
        "product_id": world.ids["product:rice"],
        "notice_id": world.ids["notice"],
        "book_id": world.ids["rule_book"],
        "village_id": world.ids["V1"],
    }
    open_endpoints = {"admin.login", "admin.logout", "admin.static"}
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("admin.") or rule.endpoint in open_endpoints or "GET" not in rule.methods:
            continue
        with app.test_request_context():
            from flask import url_for

            path = url_for(rule.endpoint, **{arg: values[arg] for arg in rule.arguments})
        anonymous = app.test_client().get(path)
        assert anonymous.status_code == 302 and "/admin/login" in anonymous.headers["Location"], path
        assert cadre.get(path).status_code == 403, path
        assert reviewer.get(path).status_code == 200, path
        checked += 1
    assert checked >= 5


def test_a_write_the_database_refuses_gets_the_error_page_not_a_crash(admin, world, monkeypatch) -> None:
    """A flush that fails leaves the session unusable and the signed-in user unloaded; the 500 page needs both."""

    def refused_write(session, county_id: int, enabled: bool) -> None:  # type: ignore[no-untyped-def]
        session.add(User(role=Role.villager))  # no username: NOT NULL
        session.flush()

    monkeypatch.setattr("admin_ui.photos.service.set_label_enabled", refused_write)
    response = post_form(admin("county_admin"), "/admin/photos/settings", {"label_enabled": "1"})
    assert response.status_code == 500 and "服务器内部错误" in html(response)


# --- scope ---------------------------------------------------------------------------------------


def test_reviewer_of_v1_sees_only_v1_households(admin, world):
    page = html(admin("reviewer").get("/admin/households"))
    assert household_ids(page) == {world.ids["H1"], world.ids["H2"], world.ids["H6"]}
    assert "白杨村" not in page and "河口村" not in page


def test_town_admin_sees_both_villages_of_the_town_but_not_the_other_town(admin, world):
    page = html(admin("town_admin").get("/admin/households"))
    assert household_ids(page) == {world.ids[h] for h in ("H1", "H2", "H3", "H6")}
    assert "青石村" in page and "白杨村" in page
    assert "河口村" not in page  # neither in the table nor in the village filter


def test_village_filter_offers_only_villages_in_scope_and_refuses_others(admin, world):
    client = admin("town_admin")
    page = html(client.get("/admin/households"))
    offered = {int(v) for v in re.findall(r'<option value="(\d+)"', page)}
    assert offered == {world.ids["V1"], world.ids["V2"]}

    only_v2 = html(client.get(f"/admin/households?village={world.ids['V2']}"))
    assert household_ids(only_v2) == {world.ids["H3"]}
    assert client.get(f"/admin/households?village={world.ids['V3']}").status_code == 403


def test_flag_filter_shows_only_households_with_that_flag_as_chinese_badge(admin, world):
    page = html(admin("reviewer").get("/admin/households?flag=poor"))
    assert household_ids(page) == {world.ids["H1"]}
    assert 'class="badge flag-poor">脱贫户</span>' in page


def test_households_export_to_excel_has_the_filtered_in_scope_rows_masked(admin, database, world):
    with database() as s:
        head = s.scalars(select(Resident).where(Resident.household_id == world.ids["H1"], Resident.is_head)).one()
        head_name = head.name
    rows = read_xlsx(admin("town_admin").get("/admin/households?format=xlsx"))
    assert rows[0] == ["户号", "行政村", "网格", "户主（脱敏）", "人数", "户类型"]
    with database() as s:
        numbers = {s.get(Household, world.ids[h]).number for h in ("H1", "H2", "H3", "H6")}
    assert {row[0] for row in rows[1:]} == numbers
    assert [row[3] for row in rows if row[3] == mask_name(head_name)]
    assert not [row for row in rows if head_name in row]

    poor_only = read_xlsx(admin("town_admin").get("/admin/households?flag=poor&format=xlsx"))
    assert len(poor_only) == 2 and "脱贫户" in poor_only[1][5]


def test_county_admin_of_the_other_county_gets_403_on_h1_detail(admin, world):
    response = admin("county_admin_other").get(f"/admin/households/{world.ids['H1']}")
    assert response.status_code == 403
    assert "无权访问" in html(response)
    assert "王建" not in html(response)


def test_missing_household_is_a_404_page(admin):
    response = admin("county_admin").get("/admin/households/999999")
    assert response.status_code == 404
    assert "<html" in html(response)


def test_villages_list_shows_counts_for_villages_in_scope(admin, world):
    page = html(admin("town_admin").get("/admin/villages"))
    assert "610999101001" in page and "610999101002" in page
    assert "河口村" not in page and "远山村" not in page
    v1_row = re.search(r"<tr>\s*<td><a [^>]*>青石村</a></td>(.*?)</tr>", page, re.S).group(1)
    numbers = [int(n) for n in re.findall(r'<td class="num">(?:<a [^>]*>)?(\d+)', v1_row)]
    assert numbers == [1, 3, 1]  # grids, households, cadres on post


def test_villages_search_by_name_or_code(admin):
    client = admin("county_admin")
    by_name = html(client.get("/admin/villages?q=白杨"))
    assert "白杨村" in by_name and "青石村" not in by_name
    by_code = html(client.get("/admin/villages?q=610999102"))
    assert "河口村" in by_code and "白杨村" not in by_code


def test_cadres_list_shows_posts_in_chinese_villages_and_paired_households(admin, database, world):
    with database() as s:
        name = s.get(Cadre, world.ids["cadre"]).name
    page = html(admin("town_admin").get("/admin/cadres"))
    assert mask_name(name) in page and name not in page
    assert "县农业农村局" in page and "第一书记" in page and "青石村" in page
    row = re.search(rf"<td><a [^>]*>{re.escape(mask_name(name))}</a></td>(.*?)</tr>", page, re.S).group(1)
    assert re.search(r'<td class="num">1</td>', row)  # paired with H1
    assert "钱*" not in page  # posted in 河口镇, outside the town


def test_cadres_search_by_exact_name(admin):
    client = admin("county_admin")
    found = html(client.get("/admin/cadres?q=钱驻村"))
    assert "钱*" in found and "赵*" not in found
    assert "赵*" not in html(client.get("/admin/cadres?q=赵"))  # exact name only


# --- personal data ----------------------------------------------------------------------------------


def test_members_are_masked_in_households_list_and_detail(admin, database, world):
    with database() as s:
        residents = [
            (r.name, r.phone, r.id_number, r.is_head)
            for r in s.scalars(select(Resident).where(Resident.household_id == world.ids["H1"]))
        ]
    client = admin("reviewer")
    listing = html(client.get("/admin/households"))
    detail = html(client.get(f"/admin/households/{world.ids['H1']}"))
    assert len(residents) == 2
    for name, phone, id_number, is_head in residents:
        for page in (listing, detail):
            assert name not in page
            assert phone not in page
            assert id_number not in page
        assert mask_name(name) in detail
        assert mask_phone(phone) in detail
        assert mask_id_number(id_number) in detail
        if is_head:
            assert mask_name(name) in listing


def test_household_detail_shows_address_grid_flags_members_and_helper(admin, database, world):
    with database() as s:
        address = s.get(Household, world.ids["H1"]).address
        cadre = s.get(Cadre, world.ids["cadre"])
        helper_name, helper_phone = cadre.name, cadre.phone
    page = html(admin("reviewer").get(f"/admin/households/{world.ids['H1']}"))
    assert address in page
    assert "第一网格" in page and "脱贫户" in page
    assert "户主" in page and "配偶" in page and "1968" in page
    assert "帮扶责任人" in page and mask_name(helper_name) in page and helper_name not in page
    assert helper_phone not in page and mask_phone(helper_phone) in page


def test_household_without_helper_says_not_paired(admin, world):
    assert "未结对" in html(admin("reviewer").get(f"/admin/households/{world.ids['H2']}"))


def _add_member(database, household_id: int, name: str) -> None:  # type: ignore[no-untyped-def]
    with database() as s:
        s.add(Resident(household_id=household_id, relation="子女", gender="女", birth_year=1995, name=name))


def test_search_by_exact_full_name_finds_the_household(admin, database, world):
    _add_member(database, world.ids["H2"], "欧阳明月")
    client = admin("town_admin")
    assert household_ids(html(client.get("/admin/households?q=欧阳明月"))) == {world.ids["H2"]}
    assert household_ids(html(client.get("/admin/households?q=欧阳"))) == set()  # names match exactly only
    assert household_ids(html(client.get("/admin/households?q=002"))) == {world.ids["H2"]}  # 户号 substring


def test_search_by_name_stays_within_scope(admin, database, world):
    _add_member(database, world.ids["H4"], "司马远志")
    assert household_ids(html(admin("town_admin").get("/admin/households?q=司马远志"))) == set()
    assert household_ids(html(admin("county_admin").get("/admin/households?q=司马远志"))) == {world.ids["H4"]}


# --- pagination and query counts ------------------------------------------------------------------------


def _more_households(database, world: World, village_key: str, n: int, start: int = 100) -> None:  # type: ignore[no-untyped-def]
    with database() as s:
        village = s.get(Village, world.ids[village_key])
        grid = s.scalar(select(Grid).where(Grid.village_id == village.id))
        for i in range(n):
            make_household(s, village, grid, f"{start + i:03d}")


def test_households_are_paged_twenty_at_a_time_with_page_links(admin, database, world):
    _more_households(database, world, "V1", 45)  # 青山县 now has 50 households
    client = admin("county_admin")
    first = html(client.get("/admin/households"))
    assert len(household_ids(first)) == 20
    assert "共 50 条" in first
    assert 'href="/admin/households?page=2"' in first and 'href="/admin/households?page=3"' in first

    second = household_ids(html(client.get("/admin/households?page=2")))
    third_page = html(client.get("/admin/households?page=3"))
    third = household_ids(third_page)
    assert len(second) == 20 and len(third) == 10
    assert not (household_ids(first) & second) and not (second & third)
    assert "第 41–50 条" in third_page

    beyond = html(client.get("/admin/households?page=99"))
    assert household_ids(beyond) == third  # clamped to the last page
    assert household_ids(html(client.get("/admin/households?page=abc"))) == household_ids(first)


def test_page_links_keep_the_filters(admin, database, world):
    _more_households(database, world, "V1", 25)
    page = html(admin("town_admin").get(f"/admin/households?village={world.ids['V1']}&flag="))
    assert f"/admin/households?village={world.ids['V1']}&amp;flag=&amp;page=2" in page


def test_villages_and_cadres_are_paged(admin, database, world):
    with database() as s:
        county = s.get(County, world.ids["C1"])
        villages = [
            Village(
                town_id=world.ids["T1"],
                name=f"新村{i:02d}",
                code=f"610999101{100 + i:03d}",
                center_lat=33.1,
                center_lng=107.3,
            )
            for i in range(25)
        ]
        s.add_all(villages)
        s.flush()
        for village in villages[:22]:
            make_cadre(s, county, "孙新来", village, Post.team_member)
    client = admin("town_admin")
    assert "共 27 条" in html(client.get("/admin/villages"))
    assert html(client.get("/admin/villages?page=2")).count(">新村") == 7
    cadres = html(client.get("/admin/cadres?page=2"))
    assert "共 23 条" in cadres and cadres.count(">孙*来</a></td>") == 3


def test_list_pages_do_not_query_per_row(app, admin, database, world):
    client = admin("county_admin")
    paths = ("/admin/villages", "/admin/households", "/admin/cadres")

    def queries_per_page() -> dict[str, int]:
        counts = {}
        for path in paths:
            with count_queries(app) as statements:
                assert client.get(path).status_code == 200
            counts[path] = len(statements)
        return counts

    small = queries_per_page()
    _more_households(database, world, "V1", 30)
    with database() as s:
        county = s.get(County, world.ids["C1"])
        for i, key in enumerate(["V1", "V2", "V3"] * 7):
            cadre = make_cadre(s, county, f"周{i}", s.get(Village, world.ids[key]), Post.helper)
            s.add(
                Posting(cadre_id=cadre.id, village_id=world.ids["V2"], post=Post.grid_worker, start_on=date(2020, 1, 1))
            )
    assert queries_per_page() == small


def test_page_links_show_first_last_and_neighbours_with_gaps():
    from backend.pagination import Page

    assert Page([1], page=10, per_page=20, total=400).window() == [1, None, 8, 9, 10, 11, 12, None, 20]
    assert Page([1], page=4, per_page=20, total=400).window() == [1, 2, 3, 4, 5, 6, None, 20]
    assert Page([], page=1, per_page=20, total=0).window() == [1]


def test_admin_pages_cannot_be_framed_and_run_only_our_own_scripts(admin, client) -> None:
    for response in (client.get("/admin/login"), admin("county_admin").get("/admin/"), client.get("/admin/nowhere")):
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy, response.status_code
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_no_admin_template_has_an_inline_script_the_policy_would_block() -> None:
    templates = Path(__file__).resolve().parent.parent / "admin_ui" / "templates"
    for template in templates.glob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"\son[a-z]+=", text), f"{template.name}: inline event handler"
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), f"{template.name}: inline <script>"
        assert "javascript:" not in text, template.name
