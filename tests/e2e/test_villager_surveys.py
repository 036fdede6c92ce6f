"""A household answers its satisfaction survey once on the phone: the survey then leaves the list, and a second
answer (from the same phone, or from another phone of the household) is refused and never counted."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from backend.surveys.models import SurveyAnswer, SurveyReceipt, SurveyResponse
from tests.e2e.phone import Database, Server
from tests.factories import World

pytestmark = pytest.mark.real_commits  # the server answers from its own threads and connections

TITLE = "青石村第一书记季度群众满意度测评"


def responses(database: Database, survey_id: int) -> tuple[int, int]:
    """How many questionnaires the survey holds, and how many households have answered it."""
    with database() as session:
        sheets = session.scalar(select(func.count()).where(SurveyResponse.survey_id == survey_id))
        households = session.scalar(select(func.count()).where(SurveyReceipt.survey_id == survey_id))
    return sheets or 0, households or 0


def open_survey(page: Page) -> None:
    page.get_by_role("button", name=re.compile("^满意度测评")).click()
    page.get_by_role("article").filter(has_text=TITLE).get_by_role("button", name="去填写").click()
    expect(page.get_by_role("heading", name=TITLE)).to_be_visible()


def answer(page: Page) -> None:
    """满意 overall, visited once, 基本满意 with hardship, 4 of 5 for work style, two wishes and a remark."""
    overall, hardship = (page.get_by_role("radiogroup", name=re.compile(words)) for words in ("总体评价", "解决困难"))
    overall.get_by_role("radio", name="满意", exact=True).click()
    page.get_by_role("radio", name="走访过一次").click()
    hardship.get_by_role("radio", name="基本满意", exact=True).click()
    page.get_by_role("radio", name="4 分").click()
    page.get_by_role("checkbox", name="产业发展").click()
    page.get_by_role("checkbox", name="道路水电").click()
    page.get_by_label(re.compile("意见和建议")).fill("希望多来村里")


def test_a_household_answers_its_survey_once_and_a_second_answer_is_refused(
    open_app: Callable[[str], Page],
    open_another_phone: Callable[[str], Page],
    server: Server,
    world: World,
    database: Database,
) -> None:
    survey_id = world.ids["survey"]
    page = open_app(world.tokens["villager"])
    open_survey(page)
    # The household's second phone (the daughter's, say) opens the same survey before the first one is sent.
    other = open_another_phone(world.tokens["villager"])
    open_survey(other)

    submit = page.get_by_role("button", name="提交")
    page.get_by_role("radio", name="满意", exact=True).first.click()
    expect(page.get_by_text("第 2 题还没有答")).to_be_visible()
    expect(submit).to_be_disabled()
    answer(page)
    submit.click()
    expect(page.get_by_role("status")).to_have_text("已提交，谢谢您！每户只填一次。")
    expect(page.get_by_text("现在没有要您家填的测评。")).to_be_visible()
    assert responses(database, survey_id) == (1, 1)
    with database() as session:
        rated = session.scalar(select(SurveyAnswer.number).where(SurveyAnswer.number.is_not(None)))
    assert rated == 4

    answer(other)
    other.get_by_role("button", name="提交").click()
    expect(other.get_by_role("status")).to_have_text("您家已经填过这份测评了，每户只填一次，这次没有再记。")
    assert responses(database, survey_id) == (1, 1)

    page.goto(f"/m/#/surveys/{survey_id}")  # an old link (the invitation in 消息) to the answered survey
    expect(page.get_by_text("这份测评您家已经填过了，或者已经结束。每户只填一次。")).to_be_visible()
    expect(page.get_by_role("button", name="提交")).to_have_count(0)
    assert server.call("GET", "/surveys/pending", world.tokens["villager"])["items"] == []
