"""Benchmark: compile_month on a generated county vs a hand-written SQL aggregation of the same figures.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/xz_ratings_bench \
        /work/main/.venv/bin/python bench/compile.py [--sizes 25000,50000,100000]

For each size it rebuilds the schema in that database (it DROPS every table there: use a scratch
database), generates one county (400 households per village, 20 villages per town, 10 points ledger
entries per household over 12 months; per village a first secretary, two team members and a helper
pairing the poor households; the month's check-ins, leave, ~20k visits at 100k households, problems
from one visit in five, and two frozen surveys of 20 responses each, 10k responses at 100k households;
six self-assessed star scores per village, the four stars read from records left to their providers),
then times, in the same run:

- compile: `compile_month` through the real job path (in-process, no Redis): per-town jobs, batch
  providers, evaluation of all five presets, upserts, county-wide ranking/quota/alerts/rectification;
- with `--workers N` (needs REDIS_URL) also as deployed: `compile_month` fans the towns out on RQ and N
  worker processes (`flask worker`'s code) compile them in parallel; timed from the call until the
  finish job's result is in Redis, after two untimed runs that warm the long-lived workers;
- raw SQL: one hand-written query computing the same per-village and per-first-secretary input figures
  (points, star entries, attendance, visit coverage, problem closure, survey satisfaction) with GROUP BY.

Each timed run is a first compile: the month's rows are deleted before it and the compile's tables vacuumed,
untimed (as autovacuum would between months; this machine kind's PostgreSQL runs without it). After timing, every
attendance/coverage/closure/satisfaction figure of the compile is checked equal to the raw SQL's (the run
stops on a difference), so both sides do the same work.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import sys
import tempfile
import time
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis
from rq.job import Job
from rq.results import Result
from sqlalchemy import delete, select, text

from backend.app import create_app
from backend.auth.models import Role, User
from backend.db import db
from backend.org.models import Cadre, County, Post, Posting
from backend.ratings.compile import compile_month
from backend.ratings.models import RatingAlert, RatingResult, Rectification, SchemeKind
from backend.ratings.schemes import install_presets
from backend.surveys.templates import install_preset
from backend.transaction import unit_of_work

MONTH = "2026-10"
FIRST, NEXT = date(2026, 10, 1), date(2026, 11, 1)
QUARTER = "2026-Q4"
PER_VILLAGE = 400
VILLAGES_PER_TOWN = 20
ENTRIES_PER_HOUSEHOLD = 10
TEAM_MEMBERS = 2  # besides the first secretary; plus one helper (包联干部) per village
RESPONSES_PER_SURVEY = 20  # two frozen surveys per village: its work team and its first secretary
REQUIRED_DAYS, VISITS_REQUIRED = 20, 2  # the default county settings (no CadreWorkSettings row)

# The same figures as the compile, per village and per first secretary, in one statement: points, the star
# entries, the work team's attendance (in-fence days vs required days less approved leave not on post), visit
# coverage of paired households by their helper, problems due in the month closed by their local deadline,
# and the frozen survey satisfaction of the month's quarter.
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
    ),
    posted AS (
        SELECT DISTINCT village_id, cadre_id, post FROM posting
        WHERE start_on < :next AND (end_on IS NULL OR end_on >= :first)
    ),
    marks AS (
        SELECT cadre_id, local_date, bool_or(in_fence) AS inside FROM checkin
        WHERE local_date >= :first AND local_date < :next GROUP BY cadre_id, local_date
    ),
    leave_days AS (
        SELECT l.cadre_id, count(DISTINCT d::date) AS days
        FROM leave_request l
        CROSS JOIN LATERAL generate_series(greatest(l.start_on, :first), least(l.end_on, :last), interval '1 day') d
        WHERE l.status = 'approved' AND l.start_on <= :last AND l.end_on >= :first
          AND NOT EXISTS (SELECT 1 FROM marks m WHERE m.cadre_id = l.cadre_id AND m.local_date = d::date AND m.inside)
        GROUP BY l.cadre_id
    ),
    att AS (
        SELECT c.cadre_id, count(m.local_date) FILTER (WHERE m.inside) AS on_post,
               greatest(0, :required - coalesce(max(ld.days), 0)) AS required
        FROM (SELECT DISTINCT cadre_id FROM posted
              WHERE post IN ('first_secretary', 'team_leader', 'team_member')) c
        LEFT JOIN marks m ON m.cadre_id = c.cadre_id LEFT JOIN leave_days ld ON ld.cadre_id = c.cadre_id
        GROUP BY c.cadre_id
    ),
    team_att AS (
        SELECT p.village_id, CASE WHEN sum(a.required) = 0 THEN 1.0
               ELSE sum(least(a.on_post, a.required))::float / sum(a.required) END AS rate
        FROM posted p JOIN att a ON a.cadre_id = p.cadre_id
        WHERE p.post IN ('first_secretary', 'team_leader', 'team_member') GROUP BY p.village_id
    ),
    helper AS (
        SELECT DISTINCT ON (household_id) household_id, cadre_id FROM pairing
        WHERE start_on < :next AND (end_on IS NULL OR end_on >= :first) ORDER BY household_id, start_on DESC
    ),
    cov AS (
        SELECT h.village_id, avg(CASE WHEN coalesce(v.n, 0) >= :visits THEN 1.0 ELSE 0.0 END) AS rate
        FROM helper p JOIN household h ON h.id = p.household_id
        LEFT JOIN (SELECT household_id, cadre_id, count(*) AS n FROM visit
                   WHERE kind = 'visit' AND local_date >= :first AND local_date < :next
                   GROUP BY household_id, cadre_id) v ON v.household_id = p.household_id AND v.cadre_id = p.cadre_id
        GROUP BY h.village_id
    ),
    clo AS (
        SELECT village_id, avg(CASE WHEN (closed_at AT TIME ZONE 'Asia/Shanghai')::date <= deadline
                                    THEN 1.0 ELSE 0.0 END) AS rate
        FROM problem WHERE deadline >= :first AND deadline <= :last GROUP BY village_id
    ),
    sat AS (
        SELECT s.target_kind, CASE WHEN s.target_kind = 'cadre' THEN s.target_cadre_id ELSE s.village_id END AS id,
               sum(r.satisfied_answers)::float / nullif(sum(r.scored_answers), 0) AS rate
        FROM survey s JOIN survey_result r ON r.survey_id = s.id
        WHERE s.period IN (:month, :quarter) AND s.frozen_at IS NOT NULL AND r.is_final
        GROUP BY 1, 2
    )
    SELECT 'village' AS subject, v.id, coalesce(pts.earners, 0)::float / hh.households AS points,
           coalesce(pts.vetoed, 0) AS vetoed, coalesce(stars.star_sum, 0) AS stars,
           team_att.rate AS attendance, cov.rate AS coverage, clo.rate AS closure, sat.rate AS satisfaction
    FROM village v JOIN town t ON t.id = v.town_id
    JOIN hh ON hh.village_id = v.id
    LEFT JOIN pts ON pts.village_id = v.id LEFT JOIN stars ON stars.village_id = v.id
    LEFT JOIN team_att ON team_att.village_id = v.id LEFT JOIN cov ON cov.village_id = v.id
    LEFT JOIN clo ON clo.village_id = v.id LEFT JOIN sat ON sat.target_kind = 'village_team' AND sat.id = v.id
    WHERE t.county_id = :county
    UNION ALL
    SELECT 'cadre', p.cadre_id, NULL, NULL, NULL,
           CASE WHEN a.required = 0 THEN 1.0 ELSE least(a.on_post, a.required)::float / a.required END,
           cov.rate, clo.rate, sat.rate
    FROM posted p JOIN village v ON v.id = p.village_id JOIN town t ON t.id = v.town_id
    JOIN att a ON a.cadre_id = p.cadre_id
    LEFT JOIN cov ON cov.village_id = p.village_id LEFT JOIN clo ON clo.village_id = p.village_id
    LEFT JOIN sat ON sat.target_kind = 'cadre' AND sat.id = p.cadre_id
    WHERE t.county_id = :county AND p.post = 'first_secretary'
    ORDER BY 1, 2
    """
)
RAW_PARAMS = {
    "month": MONTH,
    "quarter": QUARTER,
    "first": FIRST,
    "next": NEXT,
    "last": NEXT - timedelta(days=1),
    "required": REQUIRED_DAYS,
    "visits": VISITS_REQUIRED,
}


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
            " WHERE n NOT IN (1, 4, 6, 9)"  # the stars scored from records are left to their providers
        ),
        {"month": MONTH},
    )
    village_ids = s.scalars(text("SELECT id FROM village ORDER BY id")).all()
    posts = [Post.first_secretary] + [Post.team_member] * TEAM_MEMBERS + [Post.helper]
    cadres = [
        (Cadre(county_id=county.id, work_unit="县直单位", name=f"干部{v}-{n}"), v, post)
        for v in village_ids
        for n, post in enumerate(posts)
    ]
    s.add_all(c for c, _v, _p in cadres)
    user = User(username="bench", role=Role.county_admin, county_id=county.id)
    s.add(user)
    s.flush()
    s.add_all(Posting(cadre_id=c.id, village_id=v, post=p, start_on=date(2025, 1, 1)) for c, v, p in cadres)
    s.flush()
    _generate_cadre_work(s, user.id)
    _generate_surveys(s, county.id)
    install_presets(s, county.id, date(2025, 1, 1))
    s.commit()
    vacuum("VACUUM ANALYZE")  # statistics, and the visibility map index-only scans need
    return county.id


def vacuum(statement: str) -> None:
    """What autovacuum does to a settled database, done here since a server may run without it (this machine
    kind does): without it each run's deleted rows stay in the tables and their indexes, and every run is
    slower than the one before."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(statement))


def _generate_cadre_work(s, user_id: int) -> None:  # type: ignore[no-untyped-def]
    """The month's cadre work: team check-ins on ~80% of days (1 in 20 outside the fence), leave for 1 in 10,
    each poor household paired with its village's helper and visited 0–3 times (~20k visits at 100k households),
    a problem from 1 visit in 5, most closed, some after their deadline."""
    p = {"first": FIRST, "user": user_id}
    s.execute(
        text(
            "INSERT INTO pairing (cadre_id, household_id, village_id, start_on)"
            " SELECT p.cadre_id, h.id, h.village_id, '2025-01-01' FROM household h"
            " JOIN posting p ON p.village_id = h.village_id AND p.post = 'helper' WHERE h.is_poor"
        )
    )
    s.execute(
        text(
            "INSERT INTO checkin (cadre_id, village_id, at, local_date, location, accuracy_m, distance_m, in_fence)"
            " SELECT p.cadre_id, p.village_id, (:first + d) + time '01:00', :first + d, '-', 10,"
            " 100, (p.cadre_id + d) % 20 <> 0"
            " FROM posting p CROSS JOIN generate_series(0, 30) d"
            " WHERE p.post <> 'helper' AND (p.cadre_id * 7 + d) % 10 < 8"
        ),
        p,
    )
    s.execute(
        text(
            "INSERT INTO leave_request (cadre_id, village_id, start_on, end_on, reason, status, requested_by_id,"
            " requested_at, decided_by_id, decided_at)"
            " SELECT cadre_id, village_id, :first + 9, :first + 11, '病假', 'approved', :user, now(), :user, now()"
            " FROM posting WHERE post <> 'helper' AND cadre_id % 10 = 0"
        ),
        p,
    )
    s.execute(
        text(
            "INSERT INTO visit (cadre_id, author_id, household_id, village_id, kind, at, local_date, purpose,"
            " findings)"
            " SELECT pr.cadre_id, :user, pr.household_id, h.village_id, 'visit', (:first + 2 + 10 * k) + time '02:00',"
            " :first + 2 + 10 * k, '了解情况', '正常'"
            " FROM pairing pr JOIN household h ON h.id = pr.household_id CROSS JOIN generate_series(0, 2) k"
            " WHERE k < h.id % 4"
        ),
        p,
    )
    s.execute(
        text(
            "INSERT INTO problem (village_id, household_id, source_type, source_id, description, owner_cadre_id,"
            " deadline, status, raised_by_id, raised_at, closed_at, closed_by_id, closing_evidence)"
            " SELECT village_id, household_id, 'visit', id, '需协调解决', cadre_id, local_date + 15,"
            " CASE WHEN id % 3 = 0 THEN 'open' ELSE 'closed' END, :user, at,"
            " CASE WHEN id % 3 = 0 THEN NULL ELSE at + (10 + id % 9) * interval '1 day' END,"
            " CASE WHEN id % 3 = 0 THEN NULL ELSE :user END, CASE WHEN id % 3 = 0 THEN NULL ELSE '已办结' END"
            " FROM visit WHERE id % 5 = 0"
        ),
        p,
    )


def _generate_surveys(s, county_id: int) -> None:  # type: ignore[no-untyped-def]
    """Per village a frozen survey of its work team and one of its first secretary, 20 responses each (10k
    responses at 100k households), one scored answer per response, and the results compiled from them."""
    team = install_preset(s, county_id, "village_team_quarterly")
    cadre = install_preset(s, county_id, "first_secretary_quarterly")
    s.flush()
    p = {
        "county": county_id,
        "team": team.id,
        "cadre": cadre.id,
        "quarter": QUARTER,
        "n": RESPONSES_PER_SURVEY,
        "team_q": team.questions[0].id,
        "cadre_q": cadre.questions[0].id,
    }
    s.execute(
        text(
            "INSERT INTO survey (county_id, village_id, template_id, target_kind, target_cadre_id, title, period,"
            " opens_at, closes_at, sampling, sample_flag, seed, eligible_count, invited_count, created_at,"
            " frozen_at)"
            " SELECT :county, v.id, CASE WHEN p.cadre_id IS NULL THEN :team ELSE :cadre END,"
            " CASE WHEN p.cadre_id IS NULL THEN 'village_team' ELSE 'cadre' END, p.cadre_id, '测评', :quarter,"
            " '2026-10-10', '2026-10-20', 'all', 'any', 1, :n, :n, now(), '2026-10-20'"
            " FROM village v CROSS JOIN LATERAL (SELECT NULL::int AS cadre_id UNION ALL"
            " SELECT cadre_id FROM posting WHERE village_id = v.id AND post = 'first_secretary') p"
        ),
        p,
    )
    s.execute(
        text(
            "INSERT INTO survey_response (id, survey_id, channel)"
            " SELECT md5(s.id || '-' || n), s.id, 'phone' FROM survey s CROSS JOIN generate_series(1, :n) n"
        ),
        p,
    )
    s.execute(
        text(
            "INSERT INTO survey_answer (response_id, question_id, seq, choice)"
            " SELECT r.id, CASE WHEN s.target_kind = 'cadre' THEN :cadre_q ELSE :team_q END, 0,"
            " CASE WHEN get_byte(decode(r.id, 'hex'), 0) % (4 + s.village_id % 6) = 0 THEN '不满意'"
            " WHEN get_byte(decode(r.id, 'hex'), 1) % 2 = 0 THEN '满意' ELSE '基本满意' END"
            " FROM survey_response r JOIN survey s ON s.id = r.survey_id"
        ),
        p,
    )
    s.execute(
        text(
            "INSERT INTO survey_result (survey_id, invited, phone_responses, paper_responses, scored_answers,"
            " satisfied_answers, questions, compiled_at, is_final)"
            " SELECT r.survey_id, :n, :n, 0, count(*), count(*) FILTER (WHERE a.choice <> '不满意'), '[]', now(), true"
            " FROM survey_answer a JOIN survey_response r ON r.id = a.response_id GROUP BY r.survey_id"
        ),
        p,
    )


# The tables a compile writes to.
COMPILE_WRITES = ("rating_result", "rating_alert", "rectification", "compile_run", "compile_unit", "outbox_job")


def clear_month(s, county_id: int) -> None:  # type: ignore[no-untyped-def]
    """Every row a compile of the month writes, so each timed run is a first, clean compile."""
    for model in (RatingResult, RatingAlert, Rectification):
        s.execute(delete(model).where(model.county_id == county_id, model.period == MONTH))


def clear_once(county_id: int) -> None:
    with unit_of_work(db.session) as s:
        clear_month(s, county_id)
    vacuum("VACUUM " + ", ".join(COMPILE_WRITES))


def compile_once(county_id: int) -> tuple[int, int]:
    """The timed call; in-process (no Redis) the towns and the finish have run when it returns."""
    with unit_of_work(db.session) as s:
        run = compile_month(s, county_id, MONTH).run
        started = run.id, run.attempt
    return started


def raw_once(county_id: int) -> list[Any]:
    rows = db.session.execute(RAW_SQL, RAW_PARAMS | {"county": county_id}).all()
    db.session.commit()
    return rows


def check_same_figures(county_id: int) -> int:
    """The compile's inputs equal the raw SQL's for every village and first secretary: the race is fair."""
    keys = {
        "attendance": "attendance_rate",
        "coverage": "visit_coverage_rate",
        "closure": "problem_closure_rate",
        "satisfaction": "survey_satisfaction_rate",
    }
    compiled = {
        (r.subject_type, r.subject_id): r.detail["inputs"]
        for r in db.session.scalars(
            select(RatingResult).where(
                RatingResult.period == MONTH, RatingResult.kind.in_([SchemeKind.ten_star, SchemeKind.hundred_point])
            )
        )
    }
    checked = 0
    for row in raw_once(county_id):
        inputs = compiled[(row.subject, row.id)]
        for column, key in keys.items():
            raw = None if getattr(row, column) is None else float(getattr(row, column))
            got = inputs[key].get("value")
            if (raw is None) != (got is None) or (raw is not None and abs(round(raw, 4) - got) > 1e-9):
                raise SystemExit(f"{row.subject} {row.id} {key}: compile {got} != raw SQL {raw}")
            checked += 1
    db.session.commit()
    return checked


def _worker(url: str, redis_url: str, queue_name: str) -> None:
    """One RQ worker process, as `flask worker` runs it."""
    from backend.jobs.worker import run_worker

    logging.disable(logging.INFO)  # a line per job would swamp the figures
    app = create_app(_config(url, redis_url))
    run_worker(app, [queue_name])


def _config(url: str, redis_url: str) -> dict[str, Any]:
    return {
        "SQLALCHEMY_DATABASE_URI": url,
        "REDIS_URL": redis_url,
        "TESTING": True,
        "INSTANCE_PATH": tempfile.mkdtemp(),
        "RATELIMIT_STORAGE_URI": "memory://",
    }


class Workers:
    """N worker processes on a queue of their own, started before timing (their start-up is not timed)."""

    def __init__(self, url: str, redis_url: str, count: int) -> None:
        from backend.jobs.queue import queue

        self.queue_name = f"bench-compile-{os.getpid()}"
        self.redis = redis.Redis.from_url(redis_url)  # no socket timeout: it blocks until the finish is done
        self.app = create_app(_config(url, redis_url))
        runtime = self.app.extensions["xz_jobs"]
        runtime.queue = queue(runtime.redis, self.queue_name)
        context = multiprocessing.get_context("spawn")
        self.processes = [
            # Not daemonic: an RQ worker starts a scheduler process of its own.
            context.Process(target=_worker, args=(url, redis_url, self.queue_name))
            for _ in range(count)
        ]
        for process in self.processes:
            process.start()
        time.sleep(3)  # imports and the first sweep

    def compile_once(self, county_id: int) -> None:
        """Timed until the finish job has its result, read with a blocking XREAD on the job's result stream:
        polling every few ms took CPU from the workers and PostgreSQL on a small machine (20–40 ms at 1 ms)."""
        from backend.jobs.outbox import rq_job_id

        with self.app.app_context():
            run_id, attempt = compile_once(county_id)  # pushes the town jobs to the workers after the commit
            db.session.remove()
        finish = Job(rq_job_id(f"ratings-finalize-r{run_id}-a{attempt}"), connection=self.redis)
        result = Result.fetch_latest(finish, timeout=120)
        if result is None or result.type != Result.Type.SUCCESSFUL:
            raise SystemExit(f"the finish job of run {run_id} failed or timed out")

    def clear_once(self, county_id: int) -> None:
        with self.app.app_context():
            clear_once(county_id)
            db.session.remove()
        # Run ids start again with each size's new schema: an earlier size's finish result would answer at once.
        for key in self.redis.scan_iter(f"{Result.get_key('ratings-finalize-')}*"):
            self.redis.delete(key)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
            process.join(10)


def best_of(runs: int, func, setup=None) -> float:  # type: ignore[no-untyped-def]
    """The fastest of `runs` timed calls; `setup` runs untimed before each (the clean slate of a first compile)."""
    times = []
    for _ in range(runs):
        if setup is not None:
            setup()
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="25000,50000,100000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=0, help="also time it on N RQ worker processes (REDIS_URL)")
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        raise SystemExit("set BENCH_DATABASE_URL to a scratch PostgreSQL database (its tables are dropped)")
    redis_url = os.environ.get("REDIS_URL", "")
    if args.workers and not redis_url:
        raise SystemExit("--workers needs REDIS_URL")
    app = create_app(_config(url, ""))
    print(
        f"{'households':>10} {'villages':>8} {'ledger':>9} {'1 process s':>11} {'raw SQL s':>10} {'ratio':>6}"
        f" {'ms/village':>10}" + (f" {f'{args.workers} workers s':>12} {'ratio':>6}" if args.workers else "")
    )
    with app.app_context():
        for size in (int(n) for n in args.sizes.split(",")):
            db.drop_all()
            db.create_all()
            county_id = generate(size)
            ledger = db.session.scalar(text("SELECT count(*) FROM ledger_entry"))
            villages = db.session.scalar(text("SELECT count(*) FROM village"))
            db.session.commit()

            compiled = best_of(args.runs, partial(compile_once, county_id), partial(clear_once, county_id))
            raw = best_of(args.runs, partial(raw_once, county_id))
            parallel = ""
            if args.workers:
                workers = Workers(url, redis_url, args.workers)
                try:
                    # Untimed: deployed workers are long-lived, with their statements prepared on their connections.
                    best_of(2, partial(workers.compile_once, county_id), partial(workers.clear_once, county_id))
                    seconds = best_of(
                        args.runs, partial(workers.compile_once, county_id), partial(workers.clear_once, county_id)
                    )
                finally:
                    workers.stop()
                parallel = f" {seconds:>12.3f} {seconds / raw:>6.2f}"
            checked = check_same_figures(county_id)
            status = db.session.scalar(text("SELECT string_agg(DISTINCT status, ',') FROM compile_run"))
            db.session.commit()
            print(
                f"{size:>10} {villages:>8} {ledger:>9} {compiled:>11.3f} {raw:>10.3f} {compiled / raw:>6.2f}"
                f" {1000 * compiled / villages:>10.2f}{parallel}   runs: {status}; {checked} figures equal to raw SQL"
            )


if __name__ == "__main__":
    main()
