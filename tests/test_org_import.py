"""Excel import: a county admin downloads a template, fills it, uploads it, reads the dry run (what would be
created, changed and left alone, every problem by sheet, row and column) and confirms; the whole file is
written or nothing, a re-import changes nothing, a corrected file changes only what differs, and a town admin
writes only its own town's villages."""

from __future__ import annotations

import re
from datetime import date, timedelta
from io import BytesIO
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select, text

from backend.audit.models import AuditEntry
from backend.auth.models import User
from backend.jobs import schedule
from backend.jobs.schedule import SCHEDULE
from backend.jobs.tasks import TASKS, load_all_tasks
from backend.org.identity import make_id_number
from backend.org.imports.models import ImportRun, ImportStatus
from backend.org.imports.service import APPLY_TASK, reconcile_runs
from backend.org.imports.sheets import CADRES, GRIDS, HOUSEHOLDS, PAIRINGS, VILLAGES, SheetSpec
from backend.org.models import Cadre, Grid, Household, Pairing, Post, Posting, Resident, Town, Village
from backend.timeutil import now_utc
from tests.admin_helpers import html, session_csrf_token
from tests.test_ratings_reconcile import scheduler_at

NEW_VILLAGE = "610999101003"  # in 青石镇 (the world's town admin's town)
NO_FLAGS = ("否",) * 6


def person_id(n: int, year: int = 1990) -> str:
    return make_id_number("612323", date(year, 1 + n % 12, 1 + n % 27), n)


def member(
    number: str,
    name: str,
    n: int,
    relation: str,
    *,
    village: str = NEW_VILLAGE,
    phone: str | None = None,
    flags: tuple[str, ...] = NO_FLAGS,
    grid: str = "第一网格",
    address: str = "新村一组1号",
) -> list[Any]:
    return [village, number, grid, address, name, person_id(n), phone, relation, *flags]


VILLAGE_ROWS = [["610999101", "青石镇", NEW_VILLAGE, "新村", "33.2", "107.4", "1200"]]
GRID_ROWS = [[NEW_VILLAGE, "第一网格"], [NEW_VILLAGE, "第二网格"]]
HOUSEHOLD_ROWS = [
    member("001", "张大山", 1, "户主", phone="13911110001", flags=("是", "否", "否", "否", "否", "否")),
    member("001", "李小花", 2, "配偶"),
    member("001", "张小明", 3, "子女"),
    member("002", "王老五", 4, "户主", phone="13911110004", grid="第二网格", address="新村二组2号"),
]
CADRE_ROWS = [
    ["赵帮扶", person_id(50, 1980), "13722220050", "县农业农村局", "帮扶责任人", NEW_VILLAGE, "2026-01-01", None],
    ["赵帮扶", person_id(50, 1980), "13722220050", "县农业农村局", "第一书记", NEW_VILLAGE, "2026-01-01", "2026-12-31"],
]
PAIRING_ROWS = [[person_id(50, 1980), NEW_VILLAGE, "001", "2026-02-01", None]]


# --- helpers: what an admin does in the browser --------------------------------------------------------


def download_template(client, kind: str) -> Workbook:  # type: ignore[no-untyped-def]
    response = client.get(f"/admin/imports/template?kind={kind}")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    return load_workbook(BytesIO(response.data))


def workbook(*sheets: tuple[SheetSpec, list[list[Any]]]) -> bytes:
    """A file as an admin makes it from the template: headers, the example row left in, then their rows."""
    book = Workbook()
    book.remove(book.active)
    for spec, rows in sheets:
        sheet = book.create_sheet(spec.name)
        sheet.append([c.header for c in spec.columns])
        sheet.append(list(spec.example))
        for row in rows:
            sheet.append(row)
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def upload(client, data: bytes, name: str = "导入.xlsx") -> int:  # type: ignore[no-untyped-def]
    response = client.post(
        "/admin/imports",
        data={"file": (BytesIO(data), name), "csrf_token": session_csrf_token(client)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, html(response)
    return int(re.search(r"run=(\d+)", response.headers["Location"]).group(1))


def confirm(client, run_id: int):  # type: ignore[no-untyped-def]
    return client.post("/admin/imports/confirm", data={"run_id": run_id, "csrf_token": session_csrf_token(client)})


def run_of(database, run_id: int) -> ImportRun:  # type: ignore[no-untyped-def]
    with database() as s:
        run = s.get(ImportRun, run_id)
        s.expunge(run)
        return run


def problems(run: ImportRun) -> set[tuple[str, int, str, str]]:
    return {(p["sheet"], p["row"], p["column"], p["message"]) for p in run.problems}


def snapshot(database) -> dict[str, list[tuple]]:  # type: ignore[no-untyped-def]
    """Every row of the region tree's tables, ciphertext included: an update that rewrote a value shows."""
    with database() as s:
        return {
            model.__tablename__: sorted(tuple(row) for row in s.execute(select(model.__table__)).all())
            for model in (Town, Village, Grid, Household, Resident, Cadre, Posting, Pairing)
        }


def import_file(client, database, data: bytes) -> ImportRun:  # type: ignore[no-untyped-def]
    run_id = upload(client, data)
    assert run_of(database, run_id).status == ImportStatus.ready, run_of(database, run_id).problems
    assert confirm(client, run_id).status_code == 302
    run = run_of(database, run_id)
    assert run.status == ImportStatus.applied, (run.status, run.problems, run.error)
    return run


FULL_FILE = workbook(
    (VILLAGES, VILLAGE_ROWS),
    (GRIDS, GRID_ROWS),
    (HOUSEHOLDS, HOUSEHOLD_ROWS),
    (CADRES, CADRE_ROWS),
    (PAIRINGS, PAIRING_ROWS),
)


# --- the round trip --------------------------------------------------------------------------------------


def test_templates_filled_in_and_imported_create_the_county_step_by_step(admin, world, database) -> None:
    client = admin("county_admin")
    for kind, rows in (
        ("villages", {VILLAGES.name: VILLAGE_ROWS, GRIDS.name: GRID_ROWS}),
        ("households", {HOUSEHOLDS.name: HOUSEHOLD_ROWS}),
        ("cadres", {CADRES.name: CADRE_ROWS}),
        ("pairings", {PAIRINGS.name: PAIRING_ROWS}),
    ):
        book = download_template(client, kind)
        assert "填写说明" in book.sheetnames
        for name, sheet_rows in rows.items():
            for row in sheet_rows:
                book[name].append(row)
        buffer = BytesIO()
        book.save(buffer)
        run_id = upload(client, buffer.getvalue(), f"{kind}.xlsx")
        page = html(client.get(f"/admin/imports?run={run_id}"))
        assert "待确认" in page and "确认导入" in page, page
        assert confirm(client, run_id).status_code == 302
        assert run_of(database, run_id).status == ImportStatus.applied

    with database() as s:
        village = s.scalar(select(Village).where(Village.code == NEW_VILLAGE))
        assert (village.name, village.fence_radius_m, [g.name for g in village.grids]) == (
            "新村",
            1200,
            ["第一网格", "第二网格"],
        )
        households = s.scalars(
            select(Household).where(Household.village_id == village.id).order_by(Household.number)
        ).all()
        assert [(h.number, h.is_poor, h.grid.name) for h in households] == [
            ("001", True, "第一网格"),
            ("002", False, "第二网格"),
        ]
        head = households[0].residents[0]
        assert (head.name, head.is_head, head.gender, head.birth_year, head.phone) == (
            "张大山",
            True,
            "男",
            1990,
            "13911110001",
        )
        assert [r.relation for r in households[0].residents] == ["户主", "配偶", "子女"]
        raw = s.execute(text("SELECT name FROM resident WHERE id = :id"), {"id": head.id}).scalar_one()
        assert "张大山".encode() not in bytes(raw), "names stay encrypted at rest"
        cadre = s.scalar(select(Cadre).where(Cadre.id_number_hash == _hash(person_id(50, 1980))))
        assert sorted((p.post, p.end_on) for p in cadre.postings) == [
            (Post.first_secretary, date(2026, 12, 31)),
            (Post.helper, None),
        ]
        pairing = s.scalar(select(Pairing).where(Pairing.household_id == households[0].id))
        assert (pairing.cadre_id, pairing.start_on, pairing.village_id) == (cadre.id, date(2026, 2, 1), village.id)
        audits = s.scalars(select(AuditEntry).where(AuditEntry.action == "import.apply")).all()
        assert len(audits) == 4, "one audit row per applied import, none per row"
        assert audits[1].summary.startswith("导入 households.xlsx：农户成员新增2") and audits[1].target_type == "import"


def test_the_preview_counts_what_would_change_and_masks_personal_data(admin, world, database) -> None:
    client = admin("county_admin")
    run_id = upload(client, FULL_FILE)
    run = run_of(database, run_id)
    assert run.status == ImportStatus.ready, run.problems
    assert run.counts == {
        "行政村": {"create": 1, "update": 0, "same": 0},
        "网格": {"create": 2, "update": 0, "same": 0},
        "农户成员": {"create": 2, "update": 0, "same": 0},
        "农户成员（成员）": {"create": 4, "update": 0, "same": 0},
        "干部任职": {"create": 1, "update": 0, "same": 0},
        "干部任职（任职）": {"create": 2, "update": 0, "same": 0},
        "结对帮扶": {"create": 1, "update": 0, "same": 0},
    }
    page = html(client.get(f"/admin/imports?run={run_id}"))
    assert "张*山" in page and "张大山" not in page
    assert person_id(1) not in page and "13911110001" not in page


# --- nothing before the confirmation, all or nothing after it -------------------------------------------


def test_the_dry_run_writes_nothing(admin, world, database) -> None:
    before = snapshot(database)
    run_id = upload(admin("county_admin"), FULL_FILE)
    assert run_of(database, run_id).status == ImportStatus.ready
    assert snapshot(database) == before


def test_an_apply_that_breaks_off_writes_nothing_and_says_so(admin, world, database, monkeypatch) -> None:
    client = admin("county_admin")
    run_id = upload(client, FULL_FILE)
    before = snapshot(database)
    from backend.org.imports import apply as apply_module

    real = apply_module.insert_many

    def failing(session, table, rows, *args, **kwargs):  # type: ignore[no-untyped-def]
        if table.name == "pairing":  # the last table: everything before it has been written
            rows = [rows[0] | {"cadre_id": 0}]  # a foreign key the database refuses
        return real(session, table, rows, *args, **kwargs)

    monkeypatch.setattr(apply_module, "insert_many", failing)
    confirm(client, run_id)
    run = run_of(database, run_id)
    assert run.status == ImportStatus.failed and "没有写入任何数据" in run.error
    assert snapshot(database) == before
    with database() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "import.apply")) == 0


def test_a_dry_run_that_breaks_off_says_so_and_the_page_stops_waiting(admin, world, database, monkeypatch) -> None:
    def broken(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("a bug")

    monkeypatch.setattr("backend.org.imports.service.check", broken)
    client = admin("county_admin")
    run_id = upload(client, FULL_FILE)
    run = run_of(database, run_id)
    assert run.status == ImportStatus.failed and run.error.startswith("检查文件时出错")
    page = html(client.get(f"/admin/imports?run={run_id}"))
    assert "检查文件时出错" in page and "data-poll-reload-when" not in page and "确认导入" not in page


def stall(database, run_id: int, status: ImportStatus, minutes: int) -> None:  # type: ignore[no-untyped-def]
    """The run as a killed worker leaves it: still checking or applying, last moved `minutes` ago."""
    with database() as s:
        run = s.get(ImportRun, run_id)
        run.status, run.progressed_at = status, now_utc() - timedelta(minutes=minutes)


def test_a_run_whose_worker_was_killed_is_failed_by_the_reconciler_and_can_be_imported_again(
    admin, world, database
) -> None:
    client = admin("county_admin")
    before = snapshot(database)
    run_id = upload(client, FULL_FILE)
    stall(database, run_id, ImportStatus.applying, 16)
    with database() as s:
        assert reconcile_runs(s, timedelta(minutes=15)) == [run_id]
    page = html(client.get(f"/admin/imports?run={run_id}"))
    assert "导入失败" in page and "导入超过15分钟没有进展" in page and "没有写入任何数据" in page
    assert "data-poll-reload-when" not in page, "the page stops waiting"
    assert snapshot(database) == before
    again = client.post("/admin/imports/retry", data={"run_id": run_id, "csrf_token": session_csrf_token(client)})
    assert again.status_code == 302
    new_run = int(re.search(r"run=(\d+)", again.headers["Location"]).group(1))
    assert new_run != run_id and run_of(database, new_run).status == ImportStatus.ready
    assert confirm(client, new_run).status_code == 302
    assert run_of(database, new_run).status == ImportStatus.applied


def test_the_reconciler_leaves_moving_and_finished_runs_alone(admin, world, database) -> None:
    client = admin("county_admin")
    checking, moving, done = (upload(client, FULL_FILE) for _ in range(3))
    stall(database, checking, ImportStatus.checking, 30)
    stall(database, moving, ImportStatus.applying, 5)
    with database() as s:
        s.get(ImportRun, done).progressed_at = now_utc() - timedelta(days=1)  # ready, waiting for the admin
        assert reconcile_runs(s, timedelta(minutes=15)) == [checking]
    assert run_of(database, checking).error.startswith("检查超过15分钟没有进展")
    assert (run_of(database, moving).status, run_of(database, done).status) == (
        ImportStatus.applying,
        ImportStatus.ready,
    )


def test_the_scheduler_fails_an_apply_whose_job_was_lost_once_it_has_not_moved_for_fifteen_minutes(
    app, admin, world, database, monkeypatch
) -> None:
    load_all_tasks()
    monkeypatch.setattr(schedule, "SCHEDULE", {"import-reconcile": SCHEDULE["import-reconcile"]})
    monkeypatch.setitem(TASKS, APPLY_TASK, lambda session, run_id: None)  # its worker died with the job
    client = admin("county_admin")
    run_id = upload(client, FULL_FILE)
    confirm(client, run_id)
    confirmed = run_of(database, run_id).progressed_at
    assert scheduler_at(app, confirmed + timedelta(minutes=10))
    assert run_of(database, run_id).status == ImportStatus.applying, "a quiet ten minutes may still be a job at work"
    scheduler_at(app, confirmed + timedelta(minutes=20))
    run = run_of(database, run_id)
    assert run.status == ImportStatus.failed and run.error.startswith("导入超过15分钟没有进展")


def test_only_a_failed_run_is_imported_again(admin, world) -> None:
    client = admin("county_admin")
    run_id = upload(client, FULL_FILE)
    response = client.post("/admin/imports/retry", data={"run_id": run_id, "csrf_token": session_csrf_token(client)})
    assert response.status_code == 409 and "只有导入失败的记录可以重新导入" in html(response)


def test_confirming_checks_again_and_refuses_a_file_the_database_has_moved_past(admin, world, database) -> None:
    client = admin("county_admin")
    run_id = upload(client, workbook((HOUSEHOLDS, [member("009", "孙新来", 7, "户主", village="610999101001")])))
    assert run_of(database, run_id).status == ImportStatus.ready
    with database() as s:  # meanwhile the same person is registered in household H2
        s.add(
            Resident(household_id=world.ids["H2"], relation="其他", gender="男", name="孙新来", id_number=person_id(7))
        )
    before = snapshot(database)
    confirm(client, run_id)
    run = run_of(database, run_id)
    assert run.status == ImportStatus.invalid
    assert ("农户成员", 3, "身份证号", "此人已登记在其他户（村代码 610999101001，户号 002）") in problems(run)
    assert snapshot(database) == before


def test_a_run_is_confirmed_once(admin, world, database) -> None:
    client = admin("county_admin")
    run_id = import_file(client, database, FULL_FILE).id
    response = confirm(client, run_id)
    assert response.status_code == 409 and "不在待确认状态" in html(response)


def test_an_applied_run_s_page_shows_the_result_and_links_to_the_audit_log(admin, world, database) -> None:
    client = admin("county_admin")
    run_id = import_file(client, database, FULL_FILE).id
    response = client.get(f"/admin/imports?run={run_id}")
    assert response.status_code == 200
    page = html(response)
    assert "导入完成" in page and "导入结果" in page and 'href="/admin/audit"' in page


# --- natural keys: a re-import is a no-op, a corrected file changes only what differs ----------------------


def test_importing_the_same_file_again_changes_nothing(admin, world, database) -> None:
    client = admin("county_admin")
    import_file(client, database, FULL_FILE)
    before = snapshot(database)
    run = import_file(client, database, FULL_FILE)
    assert all(counts["create"] == counts["update"] == 0 for counts in run.counts.values()), run.counts
    assert snapshot(database) == before


def test_a_corrected_file_changes_only_the_rows_that_differ(admin, world, database) -> None:
    client = admin("county_admin")
    import_file(client, database, FULL_FILE)
    before = snapshot(database)
    corrected = [list(row) for row in HOUSEHOLD_ROWS]
    corrected[1][6] = "13911110002"  # the spouse gets a phone
    corrected[3][8] = "是"  # household 002 is now 脱贫户
    run_id = upload(client, workbook((HOUSEHOLDS, corrected)))
    run = run_of(database, run_id)
    assert run.counts["农户成员"] == {"create": 0, "update": 1, "same": 1}
    assert run.counts["农户成员（成员）"] == {"create": 0, "update": 1, "same": 3}
    changed_member = run.preview["农户成员（成员）"]["update"][0]
    assert changed_member["row"] == 4 and ["手机号", "", "139****0002"] in changed_member["changes"]
    assert run.preview["农户成员"]["update"][0]["changes"] == [["脱贫户", "否", "是"]]
    confirm(client, run_id)
    after = snapshot(database)
    for table in before:
        gone, new = set(before[table]) - set(after[table]), set(after[table]) - set(before[table])
        expected = 1 if table in ("household", "resident") else 0
        assert len(gone) == len(new) == expected, table
    with database() as s:
        spouse = s.scalar(select(Resident).where(Resident.id_number_hash == _hash(person_id(2))))
        assert spouse.phone == "13911110002"


def _hash(value: str) -> str:
    from backend.crypto import lookup_hash

    return lookup_hash(value)


# --- every problem by sheet, row and column ---------------------------------------------------------------

V1 = "610999101001"
BAD_ID = person_id(20)[:-1] + ("0" if person_id(20)[-1] != "0" else "1")


def with_id(row: list[Any], id_number: str) -> list[Any]:
    return [*row[:5], id_number, *row[6:]]


CASES = [
    (
        "bad ID checksum",
        (HOUSEHOLDS, [with_id(member("010", "错号", 20, "户主", village=V1), BAD_ID)]),
        ("农户成员", 3, "身份证号", "身份证号码无效（位数、出生日期或校验位不对）"),
    ),
    (
        "phone format",
        (HOUSEHOLDS, [member("010", "错手机", 21, "户主", village=V1, phone="1234")]),
        ("农户成员", 3, "手机号", "手机号码格式不对（应为11位手机号）"),
    ),
    (
        "unknown village",
        (HOUSEHOLDS, [member("010", "无村", 22, "户主", village="610999101099")]),
        ("农户成员", 3, "村代码", "村代码“610999101099”不存在"),
    ),
    (
        "same person twice",
        (HOUSEHOLDS, [member("010", "重复", 23, "户主", village=V1), member("011", "重复", 23, "户主", village=V1)]),
        ("农户成员", 4, "身份证号", "同一身份证号在第3行已出现"),
    ),
    (
        "no head",
        (HOUSEHOLDS, [member("010", "无户主", 24, "配偶", village=V1)]),
        ("农户成员", 3, "与户主关系", "户号“010”没有户主：每户须有一名“户主”"),
    ),
    (
        "two heads",
        (HOUSEHOLDS, [member("010", "甲", 25, "户主", village=V1), member("010", "乙", 26, "户主", village=V1)]),
        ("农户成员", 4, "与户主关系", "户号“010”有两名户主（另见第3行）"),
    ),
    (
        "unknown relation",
        (HOUSEHOLDS, [member("010", "丙", 27, "邻居", village=V1)]),
        ("农户成员", 3, "与户主关系", "与户主关系应为：户主、配偶、子女、父母、孙子女、兄弟姐妹、其他"),
    ),
    (
        "flag not 是/否",
        (HOUSEHOLDS, [member("010", "丁", 28, "户主", village=V1, flags=("对", *NO_FLAGS[1:]))]),
        ("农户成员", 3, "脱贫户", "应填写“是”或“否”"),
    ),
    (
        "unknown grid",
        (HOUSEHOLDS, [member("010", "戊", 29, "户主", village=V1, grid="第九网格")]),
        ("农户成员", 3, "网格", "网格“第九网格”不存在：请先在“网格”表中列出"),
    ),
    (
        "household columns differ from the head's row",
        (
            HOUSEHOLDS,
            [member("010", "己", 30, "户主", village=V1), member("010", "庚", 31, "子女", village=V1, address="别处")],
        ),
        ("农户成员", 4, "家庭住址", "与户主所在行（第3行）不一致"),
    ),
    (
        "unknown post",
        (CADRES, [["周干部", person_id(60, 1980), None, "县局", "村长", V1, "2026-01-01", None]]),
        ("干部任职", 3, "职务", "职务应为：第一书记、驻村工作队长、驻村工作队员、镇包村干部、网格员、帮扶责任人"),
    ),
    (
        "end before start",
        (CADRES, [["周干部", person_id(60, 1980), None, "县局", "第一书记", V1, "2026-05-01", "2026-04-30"]]),
        ("干部任职", 3, "结束日期", "结束日期早于开始日期"),
    ),
    (
        "not a date",
        (CADRES, [["周干部", person_id(60, 1980), None, "县局", "第一书记", V1, "五月", None]]),
        ("干部任职", 3, "开始日期", "请填写开始日期，如 2026-01-01"),
    ),
    (
        "one cadre, two phones",
        (
            CADRES,
            [
                ["周干部", person_id(60, 1980), "13700000001", "县局", "第一书记", V1, "2026-01-01", None],
                ["周干部", person_id(60, 1980), "13700000002", "县局", "网格员", V1, "2026-01-01", None],
            ],
        ),
        ("干部任职", 4, "身份证号", "同一身份证号的姓名、手机号或工作单位与第3行不一致"),
    ),
    (
        "helper is not a cadre",
        (PAIRINGS, [[person_id(61, 1980), V1, "001", "2026-01-01", None]]),
        ("结对帮扶", 3, "帮扶人身份证号", "帮扶人不是本县干部：请先在“干部任职”中导入"),
    ),
    (
        "unknown household",
        (PAIRINGS, [[person_id(61, 1980), V1, "999", "2026-01-01", None]]),
        ("结对帮扶", 3, "户号", "户号“999”在该村不存在"),
    ),
    (
        "village code not 12 digits",
        (VILLAGES, [["610999101", "青石镇", "61099910100", "短码村", "33", "107", None]]),
        ("行政村", 3, "村代码", "村代码应为12位数字"),
    ),
    (
        "village code of another town",
        (VILLAGES, [["610999101", "青石镇", "610999102009", "错镇村", "33", "107", None]]),
        ("行政村", 3, "村代码", "村代码的前9位应与乡镇代码一致"),
    ),
    (
        "latitude out of range",
        (VILLAGES, [["610999101", "青石镇", "610999101009", "北极村", "91", "107", None]]),
        ("行政村", 3, "中心纬度", "中心纬度应为 -90 到 90 之间的数字"),
    ),
]


@pytest.mark.parametrize(("sheet", "expected"), [(case[1], case[2]) for case in CASES], ids=[case[0] for case in CASES])
def test_the_dry_run_lists_each_problem_by_sheet_row_and_column(admin, world, database, sheet, expected) -> None:
    client = admin("county_admin")
    before = snapshot(database)
    run = run_of(database, upload(client, workbook(sheet)))
    assert run.status == ImportStatus.invalid
    assert expected in problems(run), run.problems
    page = html(client.get(f"/admin/imports?run={run.id}"))
    assert expected[3].replace("“", "&ldquo;")[:4] in page or expected[3][:4] in page
    assert "确认导入" not in page
    assert confirm(client, run.id).status_code == 409
    assert snapshot(database) == before


def test_a_person_already_in_another_household_is_a_problem(admin, world, database) -> None:
    with database() as s:
        id_number = s.scalar(
            select(Resident).where(Resident.household_id == world.ids["H1"], Resident.is_head)
        ).id_number
    row = with_id(member("010", "王建国", 0, "户主", village=V1), id_number)
    run = run_of(database, upload(admin("county_admin"), workbook((HOUSEHOLDS, [row]))))
    assert ("农户成员", 3, "身份证号", "此人已登记在其他户（村代码 610999101001，户号 001）") in problems(run)


def test_a_sheet_without_a_required_column_is_named(admin, world, database) -> None:
    book = Workbook()
    book.active.title = HOUSEHOLDS.name
    book.active.append(["村代码", "户号"])
    buffer = BytesIO()
    book.save(buffer)
    run = run_of(database, upload(admin("county_admin"), buffer.getvalue()))
    assert ("农户成员", 1, "身份证号", "缺少此列：请使用下载的模板") in problems(run)


def test_a_file_that_is_not_a_workbook_is_refused_at_upload(admin, world) -> None:
    client = admin("county_admin")
    response = client.post(
        "/admin/imports",
        data={"file": (BytesIO(b"name,id\n"), "a.csv"), "csrf_token": session_csrf_token(client)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422 and "xlsx" in html(response)


# --- scope --------------------------------------------------------------------------------------------------


def test_a_town_admin_imports_only_into_its_own_town(admin, world, database) -> None:
    client = admin("town_admin")  # 青石镇
    rows = [member("010", "外镇人", 40, "户主", village="610999102001")]  # 河口村, 河口镇
    run = run_of(
        database,
        upload(
            client,
            workbook(
                (HOUSEHOLDS, rows), (VILLAGES, [["610999102", "河口镇", "610999102005", "新河村", "33", "107", None]])
            ),
        ),
    )
    assert run.status == ImportStatus.invalid
    assert ("农户成员", 3, "村代码", "村代码“610999102001”不在您的管辖范围内，不能导入") in problems(run)
    assert ("行政村", 3, "乡镇代码", "只能导入本镇的行政村") in problems(run)

    run = run_of(database, upload(client, workbook((HOUSEHOLDS, [member("010", "本镇人", 41, "户主", village=V1)]))))
    assert run.status == ImportStatus.ready, run.problems


def test_a_county_admin_cannot_import_into_another_county(admin, world, database) -> None:
    rows = [["610998101", "远山镇", "610998101009", "远村", "33", "107", None]]
    run = run_of(database, upload(admin("county_admin"), workbook((VILLAGES, rows))))
    assert ("行政村", 3, "乡镇代码", "该乡镇不属于本县") in problems(run)


def test_imports_are_seen_and_confirmed_only_within_their_town(admin, world, database) -> None:
    run_id = upload(admin("town_admin"), workbook((HOUSEHOLDS, [member("010", "本镇人", 41, "户主", village=V1)])))
    other = admin("town_admin_other")
    assert other.get(f"/admin/imports?run={run_id}").status_code == 403
    assert confirm(other, run_id).status_code == 403
    assert f"run={run_id}" not in html(other.get("/admin/imports"))
    assert f"run={run_id}" in html(admin("county_admin").get("/admin/imports"))
    assert run_of(database, run_id).status == ImportStatus.ready


def test_a_review_panel_cannot_upload(admin, world) -> None:
    client = admin("reviewer")
    assert "只有县、乡镇管理员可以导入" in html(client.get("/admin/imports"))
    response = client.post(
        "/admin/imports",
        data={"file": (BytesIO(FULL_FILE), "a.xlsx"), "csrf_token": session_csrf_token(client)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 403


def test_a_disabled_uploader_s_import_is_not_applied(admin, world, database) -> None:
    client = admin("county_admin")
    run_id = upload(client, FULL_FILE)
    with database() as s:
        run = s.get(ImportRun, run_id)
        run.status = ImportStatus.applying
        s.get(User, world.ids["user:county_admin"]).is_active = False
    from backend.db import db
    from backend.org.imports.service import apply_run

    with database() as s:
        assert s is db.session
        apply_run(s, run_id)
    run = run_of(database, run_id)
    assert run.status == ImportStatus.invalid and run.problems[0]["message"].startswith("上传者的账号已停用")


def test_a_corrected_cadre_file_ends_a_posting_and_a_new_helper_takes_over_the_household(
    admin, world, database
) -> None:
    client = admin("county_admin")
    import_file(client, database, FULL_FILE)
    cadres = [list(row) for row in CADRE_ROWS]
    cadres[0][7] = "2026-06-30"  # the helper posting ends
    cadres = [[*row[:3], "县民政局", *row[4:]] for row in cadres]
    cadres.append(["钱新帮", person_id(51, 1981), None, "县民政局", "帮扶责任人", NEW_VILLAGE, "2026-07-01", None])
    pairings = [[person_id(51, 1981), NEW_VILLAGE, "001", "2026-07-01", None]]  # the new helper ends the old pairing
    run = import_file(client, database, workbook((CADRES, cadres), (PAIRINGS, pairings)))
    assert run.counts["干部任职"] == {"create": 1, "update": 1, "same": 0}
    assert run.counts["干部任职（任职）"] == {"create": 1, "update": 1, "same": 1}
    assert run.counts["结对帮扶"] == {"create": 1, "update": 1, "same": 0}
    with database() as s:
        household = s.scalar(
            select(Household).join(Village).where(Village.code == NEW_VILLAGE, Household.number == "001")
        )
        spans = sorted(
            (p.cadre.name, p.start_on, p.end_on)
            for p in s.scalars(select(Pairing).where(Pairing.household_id == household.id))
        )
        assert spans == [("赵帮扶", date(2026, 2, 1), date(2026, 6, 30)), ("钱新帮", date(2026, 7, 1), None)]
        helper = s.scalar(select(Cadre).where(Cadre.id_number_hash == _hash(person_id(50, 1980))))
        assert helper.work_unit == "县民政局"
        assert {(p.post, p.end_on) for p in helper.postings} == {
            (Post.helper, date(2026, 6, 30)),
            (Post.first_secretary, date(2026, 12, 31)),
        }


def test_a_county_sized_file_is_accepted_past_the_app_s_body_limit(admin, world, database, app) -> None:
    assert app.config["MAX_CONTENT_LENGTH"] < 20_000_000
    body = b"PK\x03\x04" + bytes(20_000_000)  # as large as 100,000 households; not a readable workbook
    run = run_of(database, upload(admin("county_admin"), body, "县.xlsx"))
    assert run.status == ImportStatus.invalid
    assert run.problems[0]["message"].startswith("文件无法读取")
