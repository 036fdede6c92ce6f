"""The 考核评星 admin pages, their Excel exports, the workflow forms, and the phone's village rating."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import select

from backend.db import db
from backend.ratings.compile import compile_month
from backend.ratings.models import Rectification
from backend.timeutil import today_local
from backend.transaction import unit_of_work
from tests.admin_helpers import chart_options, html, post_form
from tests.factories import World
from tests.factories_ratings import enter, install_world_schemes, star_scores
from tests.xlsx import read_xlsx

MONTH = f"{today_local().replace(day=1) - timedelta(days=1):%Y-%m}"


def compiled(app: Flask, world: World, database) -> None:  # type: ignore[no-untyped-def]
    with database() as s:
        install_world_schemes(s, world)
        enter(s, world.ids["V1"], MONTH, star_scores(lost=0))
        enter(s, world.ids["V2"], MONTH, star_scores(lost=2, satisfaction=6.0))
        enter(s, world.ids["V3"], MONTH, star_scores(lost=5))
        enter(s, world.ids["V3"], MONTH, {"major_problem": 1.0}, stage="manual")
    with app.app_context():
        with unit_of_work(db.session) as s:
            compile_month(s, world.ids["C1"], MONTH)
        db.session.remove()


def test_star_board_colours_grades_and_a_town_admin_sees_only_their_town(
    app: Flask, world: World, database, admin
) -> None:
    compiled(app, world, database)
    town = html(admin("town_admin").get(f"/admin/ratings?month={MONTH}"))
    county = html(admin("county_admin").get(f"/admin/ratings?month={MONTH}"))

    assert "青石村" in town and "白杨村" in town and "河口村" not in town
    assert "河口村" in county and 'class="grade tone-bad">差' in county and 'class="grade tone-good">优秀' in county
    assert "在岗率（考勤打卡）（已接入）" in county and "群众满意率（问卷）（已接入）" in county, "inputs wired"
    trend = chart_options(county)[0]
    at = trend["xAxis"]["data"].index(MONTH)
    assert {series["name"]: series["data"][at] for series in trend["series"]} == {"优秀": 1, "良好": 1, "差": 1}
    rows = read_xlsx(admin("county_admin").get(f"/admin/ratings?month={MONTH}&format=xlsx"))
    assert rows[0][:5] == ["乡镇", "村", "星级", "等次", "总分"]
    assert sorted((r[1], r[2], r[3]) for r in rows[1:]) == [
        ("河口村", 5, "差"),
        ("白杨村", 7, "良好"),
        ("青石村", 10, "优秀"),
    ]


def test_village_sheet_shows_per_star_scores_reasons_and_sources(app: Flask, world: World, database, admin) -> None:
    compiled(app, world, database)
    page = html(admin("county_admin").get(f"/admin/ratings/villages/{world.ids['V2']}?month={MONTH}"))
    assert "失星：得分5低于标准分10的80%" in page
    assert "积分参与率" in page and "ledger_entry" in page, "the auto input shows the records it counted"
    assert "在岗率（考勤打卡）：<b>本月无数据</b>" in page, "V2 has no work team: the raters' entry counts"
    assert "<svg" in page and "近12个月星级" in page
    outsider = admin("town_admin_other").get(f"/admin/ratings/villages/{world.ids['V2']}?month={MONTH}")
    assert outsider.status_code == 403


def test_reviewer_self_assesses_through_the_form(app: Flask, world: World, database, admin) -> None:
    with database() as s:
        install_world_schemes(s, world)
    client = admin("reviewer")
    scores = {f"score_S{n:02d}": "9" for n in range(1, 11)} | {"score_S02": "7", "month": MONTH}
    response = post_form(client, f"/admin/ratings/villages/{world.ids['V1']}/self", scores)
    assert response.status_code == 302
    page = html(client.get(response.headers["Location"]))
    assert "村创星已提交" in page and "9 星" in page and "村已自评，待镇评星" in page
    refused = post_form(client, f"/admin/ratings/villages/{world.ids['V1']}/town", {"month": MONTH})
    assert "镇评星由乡镇管理员进行" in html(client.get(refused.headers["Location"]))


def test_secretaries_ranking_alerts_rectifications_runs_and_bulletin(app: Flask, world: World, database, admin) -> None:
    compiled(app, world, database)
    client = admin("county_admin")

    secretaries = html(client.get(f"/admin/ratings/secretaries?month={MONTH}"))
    assert "本月上限 <b>0</b> 人" in secretaries, "one first secretary: 20% of 1 rounds down to nobody"
    ranking = html(client.get(f"/admin/ratings/ranking?month={MONTH}"))
    assert "流动红旗" in ranking and "黄牌警示" in ranking
    assert read_xlsx(client.get(f"/admin/ratings/ranking?month={MONTH}&format=xlsx"))[1][0] == 1
    alerts = html(client.get("/admin/ratings/alerts"))
    assert "约谈提醒" in alerts and "白杨村" in alerts
    assert len(read_xlsx(client.get("/admin/ratings/alerts?format=xlsx"))) == 2
    runs = html(client.get("/admin/ratings/runs"))
    assert 'role="progressbar" aria-valuenow="100"' in runs and "2/2 个乡镇" in runs and "星级评定（村） 3" in runs
    assert read_xlsx(client.get("/admin/ratings/runs?format=xlsx"))[1][3] == "2/2"
    bulletin = html(client.get(f"/admin/ratings/bulletin?month={MONTH}"))
    assert "考核通报" in bulletin and "ratings.css" in bulletin and "河口村给予黄牌警示" in bulletin
    assert read_xlsx(client.get(f"/admin/ratings/secretaries?month={MONTH}&format=xlsx"))[0][0] == "第一书记"
    assert read_xlsx(client.get("/admin/ratings/assessments?kind=party_member&format=xlsx"))[0][0] == "村"

    rect = read_xlsx(client.get("/admin/ratings/rectifications?format=xlsx"))
    assert {r[2] for r in rect[1:]} == {"失星", "黄牌"}
    with database() as s:
        item = s.scalars(select(Rectification).where(Rectification.origin_code == "YC")).one()
        item_id = item.id
    town = admin("town_admin_other")
    post_form(town, f"/admin/ratings/rectifications/{item_id}/close", {"evidence": "已召开专题会整改"})
    with database() as s:
        assert s.get(Rectification, item_id).closed
    listing = html(town.get("/admin/ratings/rectifications"))
    assert "已销号" in listing and "第 1–6 条，共 6 条" in listing, "河口村: five lost stars and a yellow card"


def test_county_admin_starts_a_compile_from_the_runs_page(app: Flask, world: World, database, admin) -> None:
    with database() as s:
        install_world_schemes(s, world)
    client = admin("county_admin")
    response = post_form(client, "/admin/ratings/runs", {"month": MONTH})
    assert response.status_code == 302
    assert "已完成" in html(client.get("/admin/ratings/runs"))
    refused = post_form(admin("town_admin"), "/admin/ratings/runs", {"month": MONTH})
    assert refused.status_code == 403


def test_phone_gets_stars_grade_and_lost_star_reasons(app: Flask, world: World, database, api) -> None:
    compiled(app, world, database)
    body = api("villager").get(f"/ratings/villages/{world.ids['V1']}?month={MONTH}").json
    assert (body["compiled"], body["stars"], body["grade"], body["lost"]) == (True, 10, "优秀", [])
    v2 = api("town_admin").get(f"/ratings/villages/{world.ids['V2']}?month={MONTH}").json
    assert v2["stars"] == 7 and [lost["title"] for lost in v2["lost"]] == ["守岗敬业", "业务能力", "群众满意"]
    assert v2["lost"][0]["reason"] == "得分5低于标准分10的80%" and len(v2["star_scores"]) == 10
    empty = api("villager").get(f"/ratings/villages/{world.ids['V1']}?month=2020-01").json
    assert (empty["compiled"], empty["stars"], empty["star_scores"]) == (False, None, [])
    assert api("villager").get(f"/ratings/villages/{world.ids['V1']}?month=2020-13").status_code == 422


def test_village_sheet_exports_its_per_star_table(app: Flask, world: World, database, admin) -> None:
    compiled(app, world, database)
    rows = read_xlsx(admin("town_admin").get(f"/admin/ratings/villages/{world.ids['V2']}?month={MONTH}&format=xlsx"))
    assert rows[0][:3] == ["星", "标准分", "得分"] and len(rows) == 11
    assert rows[1][8:] == ["失星", "得分5低于标准分10的80%"]


def test_county_admin_adds_a_scheme_version_and_a_bad_definition_is_refused(
    app: Flask, world: World, database, admin
) -> None:
    import copy
    import json

    from backend.ratings.presets import PRESETS

    with database() as s:
        install_world_schemes(s, world)
    client = admin("county_admin")
    bad = copy.deepcopy(PRESETS["ziyang_ten_star"]["definition"])
    bad["star_ratio"] = 1.5
    refused = post_form(
        client,
        "/admin/ratings/schemes",
        {"title": "错误方案", "effective_month": "2027-01", "definition": json.dumps(bad)},
    )
    assert "考核方案定义有误" in html(client.get(refused.headers["Location"]))
    good = dict(PRESETS["ziyang_ten_star"]["definition"], star_ratio=0.85)
    post_form(
        client,
        "/admin/ratings/schemes",
        {"title": "十星级评定（2027修订）", "effective_month": "2027-01", "definition": json.dumps(good)},
    )
    page = html(client.get("/admin/ratings/schemes"))
    assert "十星级评定（2027修订）" in page and "2027-01-01" in page and "错误方案" not in page
    assert "低于标准分85%失星" in page
    assert post_form(admin("town_admin"), "/admin/ratings/schemes", {"definition": "{}"}).status_code == 403


def test_half_year_committee_scores_show_the_latest_closed_half(app: Flask, world: World, database, admin) -> None:
    with database() as s:
        install_world_schemes(s, world)
        enter(s, world.ids["V1"], "2026-H1", {"item:Q01": 180.0, "item:L01": 90.0, "bonus:B01": 1.0}, stage="manual")
    with app.app_context():
        with unit_of_work(db.session) as s:
            compile_month(s, world.ids["C1"], "2026-06")
        db.session.remove()
    page = html(admin("town_admin").get("/admin/ratings/assessments"))
    assert "2026-H1" in page and "青石村" in page and "河口村" not in page
    rows = read_xlsx(
        admin("town_admin").get("/admin/ratings/assessments?kind=thousand_point&period=2026-H1&format=xlsx")
    )
    v1 = next(r for r in rows[1:] if r[0] == "青石村")
    assert (v1[4], v1[5], v1[7]) == (290, 20, "不合格")


def test_a_scheme_definition_nested_thousands_deep_is_refused_with_a_message(world: World, database, admin) -> None:
    with database() as s:
        install_world_schemes(s, world)
    client = admin("county_admin")
    for definition in ('{"indicators": ' + "[" * 5000 + "]" * 5000 + "}", '{"a": ' + "[" * 40 + "]" * 40 + "}"):
        refused = post_form(
            client, "/admin/ratings/schemes", {"title": "深", "effective_month": "2027-01", "definition": definition}
        )
        assert refused.status_code == 302
        assert "内容层级过深" in html(client.get(refused.headers["Location"]))


def test_a_junk_visit_date_in_the_county_check_is_refused_with_a_message(
    app: Flask, world: World, database, admin
) -> None:
    compiled(app, world, database)
    client = admin("county_admin")
    url = f"/admin/ratings/villages/{world.ids['V1']}/county"
    refused = post_form(client, url, {"month": MONTH, "visit_on": "２０２６-13-99", "findings": "走访核实"})
    assert refused.status_code == 302
    assert "日期应写成 2026-05-01 这样的年-月-日" in html(client.get(refused.headers["Location"]))
