"""Benchmark: the Excel import of a county's households against a bare COPY of the same rows.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/xz_h_import_bench \\
        .venv/bin/python bench/import_county.py [--households 100000] [--profile]

It DROPS every table of that database (use a scratch one), seeds a county (30 towns × 10 villages × 2 grids and
a county admin), and writes an 农户成员 workbook of `--households` households with ~3.5 members each (the head and
the spouse with a phone), as the template has it; the file is kept under /tmp for the next run. Then, in one run:

- bare COPY: the same household and resident rows (encrypted and hashed beforehand, untimed) copied into the same
  tables with PostgreSQL's COPY, the household ids read back for the residents: the floor of any import;
- dry run: `check_run` as the background job runs it (parse the file, validate every row, look every person up
  by the keyed hash of the ID number, build the plan and the preview), committed;
- import: `apply_run` as the confirmation's job runs it (parse and check again, then insert in bulk and commit);
- re-import of the same file: its dry run (every row "unchanged").

Rows/second count the file's member rows. `--profile` prints where the import's time goes (cProfile, top 25).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openpyxl import Workbook
from sqlalchemy import select, text

from backend.app import create_app
from backend.auth.models import Role, User
from backend.crypto import keyring, lookup_hash
from backend.db import db
from backend.org.identity import make_id_number
from backend.org.imports import service
from backend.org.imports.models import ImportRun, ImportStatus
from backend.org.imports.parse import parse_workbook
from backend.org.imports.sheets import HOUSEHOLDS
from backend.org.models import County, Grid, Town, Village
from backend.timeutil import now_utc
from backend.transaction import unit_of_work

TOWNS, VILLAGES_PER_TOWN = 30, 10
SIZES = (2, 3, 4, 5, 3, 4, 3, 4)  # members per household, cycled: 3.5 on average
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "建国秀英小明桂兰德华志强丽娟海燕春梅玉珍永红文军"
RELATIONS = ("配偶", "子女", "子女", "父母", "孙子女")


def village_code(town: int, village: int) -> str:
    return f"610999{town + 1:03d}{village + 1:03d}"


def member_rows(households: int) -> list[list[Any]]:
    rng = random.Random(15)
    rows, person = [], 0
    codes = [village_code(t, v) for t in range(TOWNS) for v in range(VILLAGES_PER_TOWN)]
    for h in range(households):
        code = codes[h % len(codes)]
        number = f"{h // len(codes) + 1:05d}"
        grid = "第一网格" if h % 2 else "第二网格"
        address = f"{code[-3:]}组{number}号"
        flags = ["是" if rng.random() < 0.1 else "否", "否", "是" if rng.random() < 0.05 else "否", "否", "否", "否"]
        for m in range(SIZES[h % len(SIZES)]):
            birth = date(1940, 1, 1) + timedelta(days=person % 29_000)
            id_number = make_id_number("110101", birth, person // 29_000)
            name = rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN) if person % 3 else "")
            phone = f"139{person:08d}" if m < 2 else None
            relation = "户主" if m == 0 else RELATIONS[(m - 1) % len(RELATIONS)]
            rows.append([code, number, grid, address, name, id_number, phone, relation, *flags])
            person += 1
    return rows


def workbook_bytes(households: int) -> tuple[bytes, int]:
    path = Path(tempfile.gettempdir()) / f"xz_import_county_{households}.xlsx"
    rows = member_rows(households)
    if not path.exists():
        started = time.perf_counter()
        book = Workbook(write_only=True)
        sheet = book.create_sheet(HOUSEHOLDS.name)
        sheet.append([c.header for c in HOUSEHOLDS.columns])
        for row in rows:
            sheet.append(row)
        book.save(path)
        print(f"wrote {path} ({len(rows)} rows) in {time.perf_counter() - started:.1f} s (openpyxl write-only)")
    return path.read_bytes(), len(rows)


def seed() -> int:
    """The county, its towns, villages and grids, and the county admin who imports; returns the admin's id."""
    county = County(name="基准县", code="610999")
    db.session.add(county)
    db.session.flush()
    for t in range(TOWNS):
        town = Town(county_id=county.id, name=f"第{t + 1}镇", code=village_code(t, 0)[:9])
        db.session.add(town)
        db.session.flush()
        for v in range(VILLAGES_PER_TOWN):
            village = Village(
                town_id=town.id, name=f"{t + 1}镇{v + 1}村", code=village_code(t, v), center_lat=33.0, center_lng=107.0
            )
            db.session.add(village)
            db.session.flush()
            db.session.add_all([Grid(village_id=village.id, name=name) for name in ("第一网格", "第二网格")])
    admin = User(username="bench_county", role=Role.county_admin, county_id=county.id)
    db.session.add(admin)
    db.session.commit()
    return admin.id


def copy_rows(rows: list[list[Any]]) -> Callable[[], None]:
    """The bare insert: the file's rows as table rows (encrypted, hashed: untimed), then a timed COPY of them."""
    villages = {code: vid for vid, code in db.session.execute(select(Village.id, Village.code))}
    grids = {(vid, name): gid for gid, vid, name in db.session.execute(select(Grid.id, Grid.village_id, Grid.name))}
    households, residents = {}, []
    now = now_utc()
    for code, number, grid, address, name, id_number, phone, relation, *flags in rows:
        vid = villages[code]
        if (vid, number) not in households:
            households[vid, number] = (vid, grids[vid, grid], number, address, *(f == "是" for f in flags), now)
        residents.append(
            (
                (vid, number),
                keyring.encrypt(name),
                lookup_hash(name),
                None if phone is None else keyring.encrypt(phone),
                None if phone is None else lookup_hash(phone),
                keyring.encrypt(id_number),
                lookup_hash(id_number),
                relation,
                relation == "户主",
                "男" if int(id_number[16]) % 2 else "女",
                int(id_number[6:10]),
            )
        )

    def run() -> None:
        raw = db.session.connection().connection.driver_connection
        with raw.cursor() as cursor:
            with cursor.copy(
                "COPY household (village_id, grid_id, number, address, is_poor, is_monitored, is_low_income,"
                " is_relocated, has_disabled, has_serious_illness, created_at) FROM STDIN"
            ) as copy:
                for row in households.values():
                    copy.write_row(row)
            cursor.execute("SELECT village_id, number, id FROM household")
            ids = {(vid, number): hid for vid, number, hid in cursor.fetchall()}
            with cursor.copy(
                "COPY resident (household_id, name, name_hash, phone, phone_hash, id_number, id_number_hash,"
                " relation, is_head, gender, birth_year) FROM STDIN"
            ) as copy:
                for key, *values in residents:
                    copy.write_row((ids[key], *values))
        db.session.commit()

    return run


def clear() -> None:
    db.session.execute(text("DELETE FROM resident"))
    db.session.execute(text("DELETE FROM household"))
    db.session.commit()


def timed(label: str, rows: int, work: Callable[[], Any], profile: bool = False) -> float:
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    work()
    if profiler:
        profiler.disable()
    seconds = time.perf_counter() - started
    print(f"{label:<34} {seconds:>8.1f} s {rows / seconds:>10,.0f} rows/s")
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
        print(out.getvalue())
    return seconds


def new_run(user_id: int, data: bytes) -> int:
    run = ImportRun(
        user_id=user_id, county_id=db.session.get(User, user_id).county_id, file_name="county.xlsx", file_data=data,
        status=ImportStatus.checking, progress=0,
    )  # fmt: skip
    db.session.add(run)
    db.session.commit()
    return run.id


def check(run_id: int) -> None:
    with unit_of_work(db.session) as session:
        service.check_run(session, run_id)


def confirm_and_apply(run_id: int) -> None:
    with unit_of_work(db.session) as session:
        session.get(ImportRun, run_id).status = ImportStatus.applying
    with unit_of_work(db.session) as session:
        service.apply_run(session, run_id)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        raise SystemExit("set BENCH_DATABASE_URL to a scratch PostgreSQL database (its tables are dropped)")
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": "", "TESTING": True, "INSTANCE_PATH": tempfile.mkdtemp()}
    )
    data, rows = workbook_bytes(args.households)
    with app.app_context():
        db.drop_all()
        db.create_all()
        user_id = seed()
        print(f"{args.households:,} households, {rows:,} member rows, file {len(data) / 1e6:.1f} MB")
        copy = copy_rows(member_rows(args.households))
        bare = timed("bare COPY (households + members)", rows, copy)
        clear()

        parse = timed("  parse only (python-calamine)", rows, lambda: parse_workbook(data))
        run_id = new_run(user_id, data)
        dry = timed("dry run (parse + check)", rows, lambda: check(run_id))
        run = db.session.get(ImportRun, run_id)
        assert run.status == ImportStatus.ready, run.problems[:5]
        imported = timed("import (check again + bulk insert)", rows, lambda: confirm_and_apply(run_id), args.profile)
        db.session.expire_all()
        run = db.session.get(ImportRun, run_id)
        assert run.status == ImportStatus.applied, (run.status, run.error, run.problems[:5])
        assert db.session.scalar(text("SELECT count(*) FROM resident")) == rows
        again = new_run(user_id, data)
        timed("re-import: dry run (all unchanged)", rows, lambda: check(again))
        counts = db.session.get(ImportRun, again).counts
        assert counts["农户成员（成员）"]["same"] == rows, counts
        print(
            f"\nimport / bare COPY = {imported / bare:.1f}×   (target ≤ 5×); import {imported:.0f} s (target < 180 s);"
            f" parse {parse:.1f} s of the dry run's {dry:.1f} s"
        )


if __name__ == "__main__":
    main()
