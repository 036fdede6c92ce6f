"""A resident cadre's day on the phone, in a real browser against a real server: check in with the phone's
position and a photo, write the day's record with two photos, visit a paired household from the coverage list
(which moves its coverage) and raise a problem there, then close that problem with evidence."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from backend.photos.service import photos_of
from backend.records.models import Checkin, DailyRecord, Problem, ProblemStatus, Visit
from tests.e2e.phone import Database, Server, tab, take_photo
from tests.factories import World

pytestmark = pytest.mark.real_commits  # the server answers from its own threads and connections

RECORD = "走访三组种植户，商量明年的花椒育苗"
FINDINGS = "老人身体好转，自来水管冻裂"
PROBLEM = "自来水管冻裂需更换"
FIXED = "已请水电工换了新水管"


def coverage_of(server: Server, world: World) -> dict:
    [row] = server.call("GET", "/visits/coverage", world.tokens["cadre"])["items"]
    return row


def photo_count(database: Database, owner_type: str, owner_id: int) -> int:
    with database() as session:
        return len(photos_of(session, owner_type, [owner_id]).get(owner_id, []))


def test_the_cadre_checks_in_records_the_day_visits_from_the_coverage_list_and_closes_a_problem(
    open_app: Callable[[str], Page], server: Server, world: World, database: Database
) -> None:
    page = open_app(world.tokens["cadre"])
    today_card = page.get_by_role("region", name="今日到岗")
    expect(today_card).to_contain_text("今天还没有打卡")
    take_photo(page, today_card)
    today_card.get_by_role("button", name="打卡").click()
    expect(today_card.get_by_role("status")).to_have_text("打卡成功，您在村里。")
    expect(today_card).to_contain_text("今天已到岗")
    with database() as session:
        checkin = session.scalars(select(Checkin).where(Checkin.cadre_id == world.ids["cadre"])).one()
        assert (checkin.in_fence, checkin.location) == (True, "33.150000,107.330000")
        checkin_id = checkin.id
    assert photo_count(database, "checkin", checkin_id) == 1

    tab(page, "日纪实")
    page.get_by_role("button", name="写日纪实").click()
    page.get_by_role("button", name="产业发展").click()
    page.get_by_label("做了什么").fill(RECORD)
    page.get_by_label("地点").fill("三组")
    take_photo(page, seed=2)
    take_photo(page, seed=3)
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_role("status")).to_have_text("日纪实已保存。")
    expect(page.get_by_role("article").filter(has_text=RECORD)).to_contain_text("产业发展")
    with database() as session:
        record = session.scalars(select(DailyRecord).where(DailyRecord.content == RECORD)).one()
        assert (record.place, record.category.value) == ("三组", "industry")
        record_id = record.id
    assert photo_count(database, "daily_record", record_id) == 2

    before = coverage_of(server, world)
    tab(page, "走访")
    paired = page.get_by_role("article").filter(has_text="本月走访")
    expect(paired).to_contain_text(f"本月走访 {before['period_visits']}/{before['visits_required']} 次")
    paired.get_by_role("button", name="记走访").click()
    page.get_by_role("button", name="帮扶慰问").click()
    page.get_by_label("了解到的情况").fill(FINDINGS)
    take_photo(page, seed=4)
    page.get_by_role("button", name="添加一个问题").click()
    page.get_by_label("问题 1").fill(PROBLEM)
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_role("status")).to_have_text("走访已保存。")
    after = coverage_of(server, world)
    assert after["period_visits"] == before["period_visits"] + 1
    expect(paired).to_contain_text(f"本月走访 {after['period_visits']}/{after['visits_required']} 次")
    with database() as session:
        visit = session.scalars(select(Visit).where(Visit.findings == FINDINGS)).one()
        assert (visit.household_id, visit.purpose) == (world.ids["H1"], "帮扶慰问")
        problem = session.scalars(select(Problem).where(Problem.description == PROBLEM)).one()
        assert (problem.source_id, problem.status) == (visit.id, ProblemStatus.open)
        visit_id, problem_id = visit.id, problem.id
    assert photo_count(database, "visit", visit_id) == 1

    tab(page, "问题台账")
    card = page.get_by_role("article").filter(has_text=PROBLEM)
    expect(card).to_contain_text("待办理")
    card.get_by_role("button", name="办完了，销号").click()
    confirm = card.get_by_role("button", name="确定销号")
    expect(confirm).to_be_disabled()
    card.get_by_label("怎么解决的").fill(FIXED)
    take_photo(page, card, seed=5)
    confirm.click()
    expect(card).to_contain_text(f"销号：{FIXED}")
    expect(card).to_contain_text("已销号")
    with database() as session:
        closed = session.get_one(Problem, problem_id)
        assert (closed.status, closed.closing_evidence) == (ProblemStatus.closed, FIXED)
    assert photo_count(database, "problem_closing", problem_id) == 1
