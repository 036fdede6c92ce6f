"""Issue 15's "Done when", walked as a new county does it, through the real front ends only: on an empty database
`flask create-county` makes the county and its admin; the admin signs in, downloads the templates, fills them,
uploads them, reads the dry run and confirms; prints the household cards; two members of one household bind their
WeChat with the card's code and a cadre's WeChat redeems an invitation from the admin page; and the 操作日志 shows
every one of those changes. Run twice: with jobs in-process (no Redis) and with a real RQ worker process doing
the import's dry run and apply, as production does."""

from __future__ import annotations

import re
from collections.abc import Callable
from io import BytesIO

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import Workbook

from tests.admin_helpers import html, post_form, post_login
from tests.conftest import ApiClient
from tests.test_binding_admin import codes_in, drawn_qr, pdf_text, qr_of
from tests.test_jobs import queue_name, redis_app  # noqa: F401  (fixtures)
from tests.test_org_import import NO_FLAGS, confirm, download_template, person_id, upload
from tests.worker_process import BurstWorker
from tests.xlsx import read_xlsx

ADMIN, PASSWORD = "ziyang_admin", "a long county password"
TOWN, HILL, RIVER = "610924101", "610924101001", "610924101002"
HELPER_ID, SECRETARY_ID = person_id(60, 1982), person_id(61, 1979)

POOR = ("是", *NO_FLAGS[1:])  # 脱贫户

# A small county, as its organization department types it into the downloaded templates.
FILLED = {
    "villages": {
        "行政村": [
            [TOWN, "城关镇", HILL, "山口村", "32.52", "108.53", "1200"],
            [TOWN, "城关镇", RIVER, "河湾村", "32.55", "108.50", None],
        ],
        "网格": [[HILL, "第一网格"], [HILL, "第二网格"], [RIVER, "第一网格"]],
    },
    "households": {
        "农户成员": [
            [HILL, "001", "第一网格", "山口村一组3号", "陈大树", person_id(1, 1970), "13911112001", "户主", *POOR],
            [HILL, "001", "第一网格", "山口村一组3号", "刘春梅", person_id(2, 1972), "13911112002", "配偶", *NO_FLAGS],
            [HILL, "001", "第一网格", "山口村一组3号", "陈小禾", person_id(3, 1996), None, "子女", *NO_FLAGS],
            [HILL, "002", "第二网格", "山口村二组8号", "吴老根", person_id(4, 1950), None, "户主", *NO_FLAGS],
            [RIVER, "001", "第一网格", "河湾村一组1号", "周水生", person_id(5), "13911112005", "户主", *NO_FLAGS],
            [RIVER, "002", "第一网格", "河湾村一组6号", "孙桂兰", person_id(6, 1960), None, "户主", *NO_FLAGS],
            [RIVER, "003", "第一网格", "河湾村二组2号", "郑石头", person_id(7), None, "户主", *NO_FLAGS],
        ]
    },
    "cadres": {
        "干部任职": [
            ["黄帮扶", HELPER_ID, "13722223060", "县农业农村局", "帮扶责任人", HILL, "2026-01-01", None],
            ["马书记", SECRETARY_ID, "13722223061", "县委组织部", "第一书记", RIVER, "2026-01-01", "2027-12-31"],
        ]
    },
    "pairings": {"结对帮扶": [[HELPER_ID, HILL, "001", "2026-01-01", None]]},
}


class County:
    """The county's two front ends: the admin's browser and a way to get new phones."""

    def __init__(self, app: Flask, run_jobs: Callable[[], str]) -> None:
        self.app = app
        self.run_jobs = run_jobs  # runs the queued jobs (if any wait) and returns what the worker logged
        self.browser: FlaskClient = app.test_client()

    def phone(self, wechat_code: str) -> ApiClient:
        """A phone whose WeChat signs in for the first time (the dev WeChat of the tests)."""
        phone = ApiClient(self.app.test_client(), None)
        response = phone.post("/auth/login", json={"code": wechat_code})
        assert response.status_code == 200, response.json
        phone.token = response.json["token"]
        return phone

    def run_page(self, run_id: int) -> str:
        return html(self.browser.get(f"/admin/imports?run={run_id}"))

    def waits_for_a_worker(self, run_id: int, status: str) -> None:
        """With Redis, the web process only queues the work: the page says so until a worker has done it."""
        if not self.app.extensions["xz_jobs"].inline:
            assert status in self.run_page(run_id)

    def import_template(self, kind: str) -> None:
        """Download the template, type the county's rows under the example, upload, read the dry run, confirm."""
        book: Workbook = download_template(self.browser, kind)
        for sheet, rows in FILLED[kind].items():
            for row in rows:
                book[sheet].append(row)
        buffer = BytesIO()
        book.save(buffer)
        run_id = upload(self.browser, buffer.getvalue(), f"{kind}.xlsx")
        self.waits_for_a_worker(run_id, "检查中")
        worker_log = self.run_jobs()
        dry_run = self.run_page(run_id)
        assert "待确认" in dry_run and "确认导入" in dry_run, (self.status(run_id), worker_log, dry_run)
        assert confirm(self.browser, run_id).status_code == 302
        self.waits_for_a_worker(run_id, "导入中")
        worker_log = self.run_jobs()
        assert "已导入" in self.run_page(run_id), (self.status(run_id), worker_log)

    def status(self, run_id: int) -> dict:
        return self.browser.get(f"/admin/imports?run={run_id}&format=json").json


def walk_through(county: County) -> None:
    app, browser = county.app, county.browser

    # 1. The documented command, on an empty database.
    result = app.test_cli_runner().invoke(
        args=["create-county", "--name", "紫阳县", "--code", "610924", "--admin", ADMIN],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output

    # 2. The county admin signs in and finds the import page in the menu.
    assert post_login(browser, ADMIN, PASSWORD).status_code == 302
    assert "组织架构" in html(browser.get("/admin/"))
    imports_page = html(browser.get("/admin/imports"))
    assert "Excel导入" in imports_page and "操作日志" in imports_page, "both in the 组织架构 menu"
    for kind in FILLED:
        assert f"/admin/imports/template?kind={kind}" in imports_page

    # 3. Templates filled in and imported, in the order the sheets name each other.
    for kind in FILLED:
        county.import_template(kind)
    villages_page = html(browser.get("/admin/villages"))
    assert "山口村" in villages_page and "河湾村" in villages_page
    assert "陈大树" not in html(browser.get("/admin/households")), "names are masked in lists"

    # 4. The household cards of 山口村: a page per household, each with its code and QR.
    cards_page = html(browser.get("/admin/binding/cards"))
    village_ids = _village_ids(cards_page)
    response = post_form(browser, f"/admin/villages/{village_ids['山口村']}/cards.pdf", {"confirm": "1"})
    pages = pdf_text(response)
    assert [re.search(r"户号：(\d+)", page).group(1) for page in pages] == ["001", "002"]
    first = pages[0]
    assert "户主：陈*树" in first and "帮扶责任人：黄帮扶" in first and "积分规则" in first
    (code,) = set(codes_in(first))
    assert drawn_qr(response, 0) == qr_of(code)

    # 5. Husband and wife bind their own WeChat with the one card; each phone sees the household.
    husband, wife = county.phone("wx-chen-dashu"), county.phone("wx-liu-chunmei")
    household_ids = set()
    for phone in (husband, wife):
        bound = phone.post("/auth/bind", json={"binding_code": code})
        assert bound.status_code == 200, bound.json
        household_ids.add(bound.json["household_id"])
        assert phone.get("/me").json["household_id"] == bound.json["household_id"]
    (household_id,) = household_ids
    assert husband.get(f"/households/{household_id}").status_code == 200
    assert "2 / 3 部" in html(browser.get(f"/admin/households/{household_id}"))

    # 6. The first secretary joins: an invitation from the admin page, redeemed by the secretary's WeChat.
    cadres_page = html(browser.get("/admin/binding/cadres"))
    assert "未绑定" in cadres_page
    invite_paths = re.findall(r"/admin/binding/cadres/(\d+)/invite", cadres_page)
    assert len(invite_paths) == 2
    secretary_id = _cadre_row_id(cadres_page, "马*记")
    invitation = post_form(browser, f"/admin/binding/cadres/{secretary_id}/invite", {})
    assert invitation.status_code == 200
    (invitation_code,) = codes_in(html(invitation))
    secretary = county.phone("wx-ma-shuji")
    redeemed = secretary.post("/auth/invitations/redeem", json={"invitation_code": invitation_code})
    assert redeemed.status_code == 200, redeemed.json
    secretary.token = redeemed.json["token"]
    me = secretary.get("/me").json
    assert (me["role"], me["cadre_id"]) == ("cadre", secretary_id)
    assert "已绑定" in html(browser.get("/admin/binding/cadres"))

    # 7. The 操作日志 shows every change, on the page and in its Excel export.
    expected = [
        ("新建", "县", "新建县 紫阳县（610924）"),
        ("新建", "账号", f"新建县管理员账号 {ADMIN}"),
        ("执行导入", "Excel导入", "导入 villages.xlsx"),
        ("执行导入", "Excel导入", "导入 households.xlsx"),
        ("执行导入", "Excel导入", "导入 cadres.xlsx"),
        ("执行导入", "Excel导入", "导入 pairings.xlsx"),
        ("打印明白卡", "行政村", "山口村 打印明白卡 2 户"),
        ("绑定", "农户", None),
        ("绑定", "农户", None),
        ("生成邀请码", "驻村干部", "为驻村干部 马*记"),
        ("绑定", "驻村干部", "驻村干部 马*记 用邀请码绑定了微信"),
    ]
    log_page = html(browser.get("/admin/audit"))
    for _label, _target, summary in expected:
        if summary:
            assert summary in log_page, summary
    header, *rows = read_xlsx(browser.get("/admin/audit?format=xlsx"))
    assert header[:6] == ["时间", "操作人", "操作", "对象", "对象编号", "说明"]
    logged = [(action, target, summary) for _at, _actor, action, target, _id, summary, _changes in reversed(rows)]
    assert len(logged) == len(expected), logged
    for (action, target, summary), (want_action, want_target, want_summary) in zip(logged, expected, strict=True):
        assert (action, target) == (want_action, want_target), logged
        assert want_summary is None or summary.startswith(want_summary), (summary, want_summary)


def _village_ids(page: str) -> dict[str, int]:
    """Village name → id, from the 明白卡 page's rows (each row: the name, then its print form)."""
    found: dict[str, int] = {}
    for name in ("山口村", "河湾村"):
        match = re.search(rf"{name}.*?/admin/villages/(\d+)/cards\.pdf", page, re.S)
        assert match, f"{name} has a print form on the 明白卡 page"
        found[name] = int(match.group(1))
    return found


def _cadre_row_id(page: str, masked_name: str) -> int:
    """The cadre id of the row showing `masked_name` on the 干部微信登录 page."""
    match = re.search(rf"{re.escape(masked_name)}.*?/admin/binding/cadres/(\d+)/invite", page, re.S)
    assert match, f"{masked_name} has an invite form"
    return int(match.group(1))


def test_a_new_county_goes_from_an_empty_database_to_bound_phones_with_jobs_in_process(app: Flask) -> None:
    assert app.extensions["xz_jobs"].inline
    walk_through(County(app, run_jobs=lambda: "jobs ran in-process after each commit"))


@pytest.mark.redis
def test_a_new_county_goes_from_an_empty_database_to_bound_phones_with_an_rq_worker(
    redis_app: Flask,  # noqa: F811  (the fixture imported above)
    queue_name: str,  # noqa: F811
    burst_worker: BurstWorker,
) -> None:
    def run_worker() -> str:
        done = burst_worker.run(redis_app, queue_name)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stderr[-3000:]

    walk_through(County(redis_app, run_jobs=run_worker))
