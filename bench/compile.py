"""Benchmark: compile_month on a generated county vs a hand-written SQL aggregation of the same figures.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/xz_ratings_bench \
        /work/main/.venv/bin/python bench/compile.py [--sizes 25000,50000,100000]

For each size it rebuilds the schema in that database (it DROPS every table there: use a scratch
database), generates one county (400 households per village, 20 villages per town, 10 points ledger
entries per household over 12 months, a first secretary and ten self-assessed star scores per village),
then times, in the same run:

- compile: `compile_month` through the real job path (in-process, no Redis): per-town jobs, per-village
  providers, evaluation of all five presets, upserts, county-wide ranking/quota/alerts/rectification;
- raw SQL: one hand-written query computing the same per-village figures (households, households that
  earned points, households vetoed, the star-score sum) with GROUP BY.

Cadre check-ins, visits, problem ledger and survey tables do not exist on this branch: those inputs
are "not available" (no provider), so the benchmark cannot include them yet.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text

from backend.app import create_app
from backend.db import db, unit_of_work
from backend.org.models import Cadre, County, Post, Posting
from backend.ratings.compile import clear_month, compile_month
from backend.ratings.schemes import install_presets

MONTH = "2026-10"
PER_VILLAGE = 400
VILLAGES_PER_TOWN = 20
ENTRIES_PER_HOUSEHOLD = 10

RAW_SQL = text(
    """
    WITH hh AS (SELECT village_id, count(*) AS households FROM household GROUP BY village_id),
    pts AS (
        SELECT village_id,
               count(DISTINCT household_id) FILTER (WHERE kind = 'earn') AS earners,
               count(DISTINCT household_id) FILTER (WHERE kind = 'veto') AS vetoed
        FROM ledger_entry WHERE month = :month GROUP BY village_id
    ),
    stars AS (
        SELECT subject_id AS village_id, sum(value) AS star_sum FROM rating_entry
        WHERE subject_type = 'village' AND period = :month AND key LIKE 'item:S%' GROUP BY subject_id
    )
    SELECT v.id, hh.households, coalesce(pts.earners, 0)::float / hh.households, coalesce(pts.vetoed, 0),
           coalesce(stars.star_sum, 0)
    FROM village v JOIN town t ON t.id = v.town_id
    JOIN hh ON hh.village_id = v.id
    LEFT JOIN pts ON pts.village_id = v.id LEFT JOIN stars ON stars.village_id = v.id
    WHERE t.county_id = :county ORDER BY v.id
    """
)


def generate(households: int) -> int:
    """One county of `households` households, built with set-based SQL (fast) plus a few ORM rows."""
    s = db.session
    county = County(name="基准县", code="619999")
    s.add(county)
    s.flush()
    villages = households // PER_VILLAGE
    towns = max(1, villages // VILLAGES_PER_TOWN)
    params = {
        "county": county.id,
        "towns": towns,
        "villages": villages,
        "per": PER_VILLAGE,
        "entries": ENTRIES_PER_HOUSEHOLD,
    }
    s.execute(
        text(
            "INSERT INTO town (county_id, name, code) SELECT :county, '镇' || n, '619999' || lpad(n::text, 3, '0')"
            " FROM generate_series(1, :towns) n"
        ),
        params,
    )
    s.execute(
        text(
            "INSERT INTO village (town_id, name, code, center_lat, center_lng, fence_radius_m)"
            " SELECT t.id, '村' || n, '619999' || lpad(n::text, 6, '0'), 33.1, 107.3, 1500"
            " FROM generate_series(1, :villages) n"
            " JOIN town t ON t.code = '619999' || lpad(((n - 1) % :towns + 1)::text, 3, '0')"
        ),
        params,
    )
    s.execute(text("INSERT INTO grid (village_id, name) SELECT id, '第一网格' FROM village"))
    s.execute(
        text(
            "INSERT INTO household (village_id, grid_id, number, address, is_poor, is_monitored, is_low_income,"
            " is_relocated, has_disabled, has_serious_illness, created_at)"
            " SELECT g.village_id, g.id, lpad(n::text, 4, '0'), '地址', n % 8 = 0,"
            " false, false, false, false, false, now()"
            " FROM grid g CROSS JOIN generate_series(1, :per) n"
        ),
        params,
    )
    # 10 entries per household over twelve months, 1 in 400 a veto, 1 in 5 a deduction, the rest earnings.
    s.execute(
        text(
            "INSERT INTO ledger_entry (household_id, village_id, kind, amount, held_delta, balance_after, month,"
            " source_type, source_id, reason, created_at)"
            " SELECT h.id, h.village_id, CASE WHEN (h.id * 7 + n) % 400 = 0 THEN 'veto' WHEN (h.id + n) % 5 = 0"
            " THEN 'deduct' ELSE 'earn' END, 2, 0, 100, '2026-' || lpad(((h.id + n) % 12 + 1)::text, 2, '0'),"
            " 'bench', h.id * :entries + n, '基准', now()"
            " FROM household h CROSS JOIN generate_series(1, :entries) n"
        ),
        params,
    )
    s.execute(
        text(
            "INSERT INTO rating_entry"
            " (subject_type, subject_id, period, key, stage, value, reason, evidence, entered_at)"
            " SELECT 'village', v.id, :month, 'item:S' || lpad(n::text, 2, '0'), 'self', 7 + (v.id * n) % 4,"
            " '', '', now()"
            " FROM village v CROSS JOIN generate_series(1, 10) n"
        ),
        {"month": MONTH},
    )
    village_ids = s.scalars(text("SELECT id FROM village ORDER BY id")).all()
    cadres = [Cadre(county_id=county.id, work_unit="县直单位", name=f"书记{n}") for n in range(len(village_ids))]
    s.add_all(cadres)
    s.flush()
    s.add_all(
        Posting(cadre_id=c.id, village_id=v, post=Post.first_secretary, start_on=date(2025, 1, 1))
        for c, v in zip(cadres, village_ids, strict=True)
    )
    install_presets(s, county.id, date(2025, 1, 1))
    s.commit()
    s.execute(text("ANALYZE"))
    s.commit()
    return county.id


def compile_once(county_id: int) -> None:
    with unit_of_work(db.session) as s:
        clear_month(s, county_id, MONTH)
    with unit_of_work(db.session) as s:
        compile_month(s, county_id, MONTH)


def raw_once(county_id: int) -> None:
    db.session.execute(RAW_SQL, {"month": MONTH, "county": county_id}).all()
    db.session.commit()


def best_of(runs: int, func) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="25000,50000,100000")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        raise SystemExit("set BENCH_DATABASE_URL to a scratch PostgreSQL database (its tables are dropped)")
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "REDIS_URL": "",
            "TESTING": True,
            "INSTANCE_PATH": tempfile.mkdtemp(),
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )
    print(
        f"{'households':>10} {'villages':>8} {'ledger':>9} {'compile s':>10} {'raw SQL s':>10} {'ratio':>6}"
        f" {'ms/village':>10}"
    )
    with app.app_context():
        for size in (int(n) for n in args.sizes.split(",")):
            db.drop_all()
            db.create_all()
            county_id = generate(size)
            ledger = db.session.scalar(text("SELECT count(*) FROM ledger_entry"))
            villages = db.session.scalar(text("SELECT count(*) FROM village"))
            db.session.commit()

            compiled = best_of(args.runs, partial(compile_once, county_id))
            raw = best_of(args.runs, partial(raw_once, county_id))
            status = db.session.scalar(text("SELECT string_agg(DISTINCT status, ',') FROM compile_run"))
            db.session.commit()
            print(
                f"{size:>10} {villages:>8} {ledger:>9} {compiled:>10.3f} {raw:>10.3f} {compiled / raw:>6.2f}"
                f" {1000 * compiled / villages:>10.2f}   runs: {status}"
            )


if __name__ == "__main__":
    main()
