"""A cadre's phone with no signal, in a real browser against a real server: work captured offline waits on the
phone (its outbox, IndexedDB), survives a reload (the app opens from its service worker), and reaches the
server exactly once with the time it was captured when the network comes back; an answer lost on the way back
does not make a second copy."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, Locator, Page, Route, expect
from sqlalchemy import func, select

from backend.photos.models import Photo
from backend.records.models import DailyRecord, Visit
from backend.timeutil import now_utc
from tests.e2e.conftest import PHONE, TIMEOUT_MS
from tests.e2e.phone import Database, Server, tab
from tests.factories import World

pytestmark = pytest.mark.real_commits  # the server answers from its own threads and connections

RECORD = "组织村民清理河道垃圾"
FINDINGS = "家里屋顶漏雨，需要修缮"
SERVICE_WORKER_DELAY_MS = 3000  # AFTER_FIRST_SCREEN_MS of mobile/src/main.js


@pytest.fixture
def camera_photo(tmp_path: Path) -> Path:
    """What the phone's camera hands the page: a JPEG larger than the app sends (it shrinks it first)."""
    path = tmp_path / "IMG_0001.jpg"
    image = Image.linear_gradient("L").resize((2400, 1800)).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    path.write_bytes(buffer.getvalue())
    return path


def write_record(page: Page, photo: Path) -> None:
    tab(page, "日纪实")
    page.get_by_role("button", name="写日纪实").click()
    page.get_by_role("button", name="会议").click()
    page.get_by_label("做了什么").fill(RECORD)
    page.get_by_label("地点").fill("河边")
    add_photo(page, photo)
    page.get_by_role("button", name="保存").click()


def record_visit(page: Page, photo: Path) -> None:
    tab(page, "走访")
    page.get_by_role("article").first.get_by_role("button", name="记走访").click()
    page.get_by_role("button", name="日常走访").click()
    page.get_by_label("了解到的情况").fill(FINDINGS)
    add_photo(page, photo)
    page.get_by_role("button", name="保存").click()


def add_photo(page: Page, photo: Path) -> None:
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="拍照").click()
    chooser.value.set_files(photo)
    expect(page.get_by_role("img", name="第 1 张照片")).to_be_visible()


def banner(page: Page) -> Locator:
    """Above the tabs while work waits on the phone: how much, and a link to the list (待发送)."""
    return page.get_by_role("status").get_by_role("link", name=re.compile("查看$"))


def kept(database: Database) -> tuple[list[DailyRecord], list[Visit], dict[tuple[str, int], int]]:
    """The record and visit of this test as the server keeps them, and the photos each owns."""
    with database() as session:
        records = list(session.scalars(select(DailyRecord).where(DailyRecord.content == RECORD)))
        visits = list(session.scalars(select(Visit).where(Visit.findings == FINDINGS)))
        rows = session.execute(
            select(Photo.owner_type, Photo.owner_id, func.count())
            .where(Photo.owner_id.in_([r.id for r in records] + [v.id for v in visits]))
            .group_by(Photo.owner_type, Photo.owner_id)
        ).all()
        session.expunge_all()
    photos = {(kind, owner): n for kind, owner, n in rows if (kind, owner) in owners(records, visits)}
    return records, visits, photos


def owners(records: list[DailyRecord], visits: list[Visit]) -> set[tuple[str, int]]:
    return {("daily_record", r.id) for r in records} | {("visit", v.id) for v in visits}


def test_work_captured_with_no_signal_survives_a_reload_and_reaches_the_server_once_with_its_capture_time(
    phone: Page, open_app: Callable[[str], Page], world: World, database: Database, camera_photo: Path
) -> None:
    phone.clock.install()  # time flows as usual, and the test may run it ahead
    page = open_app(world.tokens["cadre"])
    expect(page.get_by_text("今天还没有打卡")).to_be_visible()
    # The app registers its service worker a while after the page has loaded (main.js): the phone's clock runs
    # that while at once, then is set back to the real time, which the capture times are compared with.
    page.clock.run_for(SERVICE_WORKER_DELAY_MS)
    page.clock.set_system_time(now_utc())
    # The service worker has kept the app once it is active. Next morning, with signal, the app starts from it
    # and what the cadre looks at is kept for reading offline.
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()
    expect(page.get_by_text("今天还没有打卡")).to_be_visible()
    tab(page, "走访")
    expect(page.get_by_role("button", name="记走访").first).to_be_visible()

    page.context.set_offline(True)
    captured_from = now_utc().replace(microsecond=0)  # the phone sends whole seconds
    write_record(page, camera_photo)
    expect(page.get_by_role("status").filter(has_text="已保存在手机上")).to_be_visible()
    record_visit(page, camera_photo)
    expect(page.get_by_role("status").filter(has_text="已保存在手机上")).to_be_visible()
    captured_until = now_utc()
    expect(banner(page)).to_contain_text("2 条记录待发送，有网时自动发送")

    page.reload()  # still no signal: the app comes from the service worker, the work from the outbox
    expect(banner(page)).to_contain_text("2 条记录待发送")
    banner(page).click()
    expect(page.get_by_role("article").filter(has_text="日纪实")).to_contain_text("1 张照片")
    waiting_visit = page.get_by_role("article").filter(has_text="走访")
    expect(waiting_visit).to_contain_text("等待发送")
    expect(waiting_visit).to_contain_text("001户 户主")  # the household's name as last read with signal
    assert kept(database)[:2] == ([], [])

    sent_from = now_utc()
    page.context.set_offline(False)
    expect(page.get_by_text("都发出去了")).to_be_visible(timeout=3 * TIMEOUT_MS)

    records, visits, photos = kept(database)
    assert len(records) == 1 and len(visits) == 1
    record, visit = records[0], visits[0]
    for captured_at, received_at in ((record.captured_at, record.created_at), (visit.captured_at, visit.at)):
        assert captured_from <= as_utc(captured_at) <= captured_until < sent_from <= as_utc(received_at)
    assert photos == {("daily_record", record.id): 1, ("visit", visit.id): 1}


def as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=moment.tzinfo or now_utc().tzinfo)


@pytest.fixture
def cadre_phone(browser: Browser, server: Server, world: World) -> Iterator[Callable[[], Page]]:
    """open() opens the cadre's app on a phone whose requests the test intercepts (page.route, set before):
    without a service worker, which Playwright cannot see behind."""
    context = browser.new_context(base_url=server.url, service_workers="block", **PHONE)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)

    def open_app() -> Page:
        ticket = server.call("POST", "/auth/tickets", world.tokens["cadre"])["ticket"]
        page.goto(f"/m/?ticket={ticket}")
        return page

    yield open_app
    context.close()


def test_a_record_whose_answer_was_lost_on_the_way_back_is_sent_again_and_kept_once(
    cadre_phone: Callable[[], Page], database: Database, camera_photo: Path
) -> None:
    lost: list[int] = []

    def lose_the_first_answer(route: Route) -> None:
        if route.request.method == "POST" and not lost:
            lost.append(route.fetch().status)  # the server keeps it; the phone never hears back
            route.abort("connectionreset")
        else:
            route.continue_()

    page = cadre_phone()
    page.route("**/api/mp/v1/daily-records", lose_the_first_answer)
    write_record(page, camera_photo)
    expect(page.get_by_role("status").filter(has_text="已保存在手机上")).to_be_visible()
    assert lost == [201]
    assert len(kept(database)[0]) == 1

    banner(page).click()
    page.get_by_role("button", name="现在发送").click()
    expect(page.get_by_text("都发出去了")).to_be_visible()
    records, _, photos = kept(database)
    assert len(records) == 1
    assert photos == {("daily_record", records[0].id): 1}


def test_a_record_the_server_refuses_waits_with_its_reason_and_once_corrected_keeps_its_capture_time(
    cadre_phone: Callable[[], Page], database: Database, camera_photo: Path
) -> None:
    refused: list[str] = []

    def refuse_the_first(route: Route) -> None:
        if route.request.method == "POST" and not refused:
            refused.append(route.request.post_data_json["captured_at"])
            route.fulfill(
                status=422,
                json={"code": "invalid_request", "message": "请求参数有误", "errors": {"place": ["请写到村民小组"]}},
            )
        else:
            route.continue_()

    page = cadre_phone()
    page.route("**/api/mp/v1/daily-records", refuse_the_first)
    write_record(page, camera_photo)
    expect(page.get_by_role("alert")).to_contain_text("请写到村民小组")
    page.get_by_text("返回", exact=True).click()  # the cadre walks on: the record waits on the phone

    expect(banner(page)).to_contain_text("1 条没有发出去，请修改或删除")
    banner(page).click()
    waiting = page.get_by_role("article").filter(has_text="日纪实")
    expect(waiting).to_contain_text("没有发出去：请求参数有误；请写到村民小组。请检查填写的内容")
    waiting.get_by_role("button", name="修改").click()
    expect(page.get_by_label("做了什么")).to_have_value(RECORD)
    expect(page.get_by_role("alert")).to_contain_text("请写到村民小组")
    page.get_by_label("地点").fill("三组河边")
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_role("status")).to_contain_text("日纪实已保存")

    records, _, photos = kept(database)
    assert [(r.place, as_utc(r.captured_at)) for r in records] == [("三组河边", datetime.fromisoformat(refused[0]))]
    assert photos == {("daily_record", records[0].id): 1}
    tab(page, "今日")
    expect(banner(page)).to_have_count(0)
