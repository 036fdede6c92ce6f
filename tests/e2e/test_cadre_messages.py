"""A resident cadre learns on the phone what the town decided about their leave: 我的 shows the unread message,
消息 shows it, and tapping it opens the leave with its decision."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from backend.auth.models import User
from backend.auth.scope import scope_for
from backend.records.checkins import decide_leave
from backend.timeutil import today_local
from tests.e2e.phone import Database, Server, tab
from tests.factories import World

pytestmark = pytest.mark.real_commits  # the server answers from its own threads and connections


def test_the_cadre_reads_the_town_s_answer_to_their_leave_under_me_and_opens_it(
    open_app: Callable[[str], Page], server: Server, world: World, database: Database
) -> None:
    day = (today_local() + timedelta(days=2)).isoformat()
    leave = server.call("POST", "/leaves", world.tokens["cadre"], {"start_on": day, "end_on": day, "reason": "体检"})
    with database() as session:
        town_admin = session.get_one(User, world.ids["user:town_admin"])
        decide_leave(session, scope_for(session, town_admin), town_admin, leave["id"], approve=False, note="请改到下周")

    page = open_app(world.tokens["cadre"])
    expect(page.get_by_role("tab", name=re.compile("我的"))).to_contain_text("1")
    tab(page, "我的")
    page.get_by_role("button", name=re.compile("^消息.*1 条未读")).click()
    message = page.get_by_role("button", name=re.compile("请假未批准"))
    expect(message).to_contain_text("未读")
    expect(message).to_contain_text("的请假未批准：请改到下周")
    message.click()
    expect(page.get_by_role("article").filter(has_text="体检")).to_contain_text("未批准：请改到下周")
    assert server.call("GET", "/notifications", world.tokens["cadre"])["unread_count"] == 0
