"""Soak test with faults (issue 16): the whole deployment under a county's opening-day load for `--minutes`,
with Redis restarted, an RQ worker SIGKILLed mid-job, PostgreSQL restarted and the upload disk filled.

    sudo .venv/bin/python -m bench.soak [--minutes 10] [--no-faults] [--keep]

Needs root (a tmpfs for the upload folder, `runuser -u postgres` for its own PostgreSQL cluster), the
PostgreSQL 15 binaries and redis-server. Everything runs on ports and folders of its own (bench/soak_stack.py):
nothing of the machine's shared PostgreSQL or Redis is touched. Not part of CI (it runs for minutes).

Timeline (fractions of the run): steady load, then the faults one after another, each with its window from
the moment it is injected until GRACE seconds after the service is back, then recovery to the end. After
the load stops: wait for the background work to settle (outbox swept, queues drained, photos processed,
the compile finished), then check the invariants and print the figures per phase.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import redis
from rq import Queue, Worker
from sqlalchemy import create_engine, text

from bench.soak_load import Admin, Cadre, Person, Recorder, Reviewer, Villager, photo_jpegs
from bench.soak_stack import PROJECT_ROOT, Stack, wait_until

GRACE = 15.0  # seconds after a fault is cleared that still count as its window


@dataclass
class Window:
    name: str
    start: float
    cleared: float = 0.0
    note: str = ""

    @property
    def end(self) -> float:
        return self.cleared + GRACE


# ---------------------------------------------------------------------------------------------- faults


class Faults:
    def __init__(self, stack: Stack, recorder: Recorder, admin: Admin, args: argparse.Namespace) -> None:
        self.stack, self.recorder, self.admin, self.args = stack, recorder, admin, args
        self.windows: list[Window] = []

    def _open(self, name: str) -> Window:
        window = Window(name, self.recorder.now())
        self.windows.append(window)
        print(f"[soak {window.start:6.0f}s] fault: {name}", flush=True)
        return window

    def _close(self, window: Window, note: str = "") -> None:
        window.cleared, window.note = self.recorder.now(), note
        print(f"[soak {window.cleared:6.0f}s] cleared: {window.name} {note}", flush=True)

    def redis_restart(self) -> None:
        window = self._open("Redis restart")
        self.stack.redis_stop()
        time.sleep(self.args.outage)
        self.stack.redis_start()
        self._close(window, f"(down {self.args.outage:g} s, queues lost: in memory only)")

    def worker_kill(self) -> None:
        """The county admin starts the month's compile; the worker running one of its jobs is SIGKILLed."""
        window = self._open("worker SIGKILL")
        status = self.admin.start_compile()
        connection = redis.Redis.from_url(self.stack.redis_url)
        victim = job = None
        deadline = time.monotonic() + 60
        while victim is None and time.monotonic() < deadline:
            for worker in Worker.all(connection=connection):
                current = worker.get_current_job()
                # A compile job if one is seen within 30 s, else whatever job a worker is running.
                if current is not None and (
                    str((current.args or [""])[0]).startswith("ratings.") or time.monotonic() > deadline - 30
                ):
                    victim, job = worker, current
                    break
            else:
                time.sleep(0.01)
        if victim is None:
            self._close(window, f"(compile start answered {status}; no busy worker seen: nothing killed)")
            return
        name = next(n for n, c in self.stack.children.items() if c.process and c.process.pid == victim.pid)
        child = self.stack.children[name]
        restarts = child.restarts
        self.stack.kill_child(name)
        task = (job.args or ["?"])[0]
        wait_until(lambda: child.restarts > restarts, 60)
        self._close(window, f"(compile start {status}; killed {name} pid {victim.pid} mid-job {task} {job.id})")

    def pg_restart(self) -> None:
        window = self._open("PostgreSQL restart")
        self.stack.pg_stop("fast")
        time.sleep(self.args.outage)
        self.stack.pg_start()
        wait_until(self.stack.pg_ready, 60)
        self._close(window, f"(pg_ctl stop -m fast, down {self.args.outage:g} s, start)")

    def disk_full(self) -> None:
        window = self._open("upload disk full")
        filler = self.stack.uploads / ".soak-filler"
        chunk = b"\0" * (1024 * 1024)
        with open(filler, "wb", buffering=0) as out, contextlib.suppress(OSError):
            while True:
                out.write(chunk)
        free = self.stack.disk_free()
        time.sleep(self.args.disk_hold)
        filler.unlink()
        self._close(window, f"(filled to {free} bytes free for {self.args.disk_hold:g} s, then freed)")

    def plan(self, minutes: float) -> list[tuple[float, Callable[[], None]]]:
        total = minutes * 60
        return [
            (0.12 * total, self.worker_kill),  # first: the compile reconciler needs ~7 min to notice
            (0.32 * total, self.redis_restart),
            (0.50 * total, self.pg_restart),
            (0.68 * total, self.disk_full),
        ]


# ---------------------------------------------------------------------------------------------- people


def people(stack: Stack, recorder: Recorder, args: argparse.Namespace) -> tuple[list[Person], Admin]:
    demo = json.loads((stack.instance / "demo_accounts.json").read_text(encoding="utf-8"))
    accounts = demo["accounts"]
    photos = photo_jpegs()
    base = stack.base
    crowd: list[Person] = []
    villagers = [a["username"] for a in accounts if a["role"] == "villager"]
    for name in villagers[: args.villagers]:
        crowd.append(Villager(base, recorder, name, photos))
    for i, code in enumerate(demo["binding_codes"][: max(0, args.villagers - len(villagers))]):
        crowd.append(Villager(base, recorder, f"soak-phone-{i}", photos, binding_code=code["code"]))
    cadres = [a["username"] for a in accounts if a["role"] == "cadre"]
    crowd += [Cadre(base, recorder, name, photos) for name in cadres[: args.cadres]]
    crowd += [Reviewer(base, recorder, a["username"], photos) for a in accounts if a["role"] == "reviewer"]
    admins = [a for a in accounts if a["role"] in ("county_admin", "town_admin")]
    web = [Admin(base, recorder, a["username"], photos, password=a["password"]) for a in admins]
    crowd += web
    return crowd, next(a for a in web if a.client.username == "county_admin")


# ---------------------------------------------------------------------------------------------- figures


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def phases(windows: list[Window], end: float) -> list[tuple[str, float, float]]:
    out, at = [], 0.0
    for i, window in enumerate(sorted(windows, key=lambda w: w.start)):
        if window.start > at:
            out.append(("steady" if i == 0 else "between faults", at, window.start))
        out.append((window.name, window.start, window.end))
        at = window.end
    if end > at:
        out.append(("recovery" if windows else "steady", at, end))
    return out


def bad(sample) -> bool:  # type: ignore[no-untyped-def]
    return sample.status == 0 or sample.status >= 500


def phase_rows(recorder: Recorder, windows: list[Window], end: float) -> list[dict]:
    rows = []
    by_name = {w.name: w for w in windows}
    for name, start, stop in phases(windows, end):
        samples = [s for s in recorder.samples if start <= s.at + s.latency < stop]
        latencies = [s.latency * 1000 for s in samples]
        codes = Counter(s.error for s in samples if 400 <= s.status < 500)
        failures = Counter(f"{s.status or 'no answer'} {s.error}" for s in samples if bad(s))
        window = by_name.get(name)
        recover = None
        if window is not None:
            last_bad = max((s.at + s.latency for s in samples if bad(s)), default=None)
            recover = 0.0 if last_bad is None else max(0.0, last_bad - window.cleared)
        rows.append(
            {
                "phase": name,
                "from_s": round(start),
                "to_s": round(stop),
                "requests": len(samples),
                "req_per_s": round(len(samples) / max(stop - start, 1e-9), 1),
                "p50_ms": round(percentile(latencies, 0.50)),
                "p95_ms": round(percentile(latencies, 0.95)),
                "p99_ms": round(percentile(latencies, 0.99)),
                "max_ms": round(max(latencies, default=0)),
                "5xx": sum(1 for s in samples if s.status >= 500),
                "no_answer": sum(1 for s in samples if s.status == 0),
                "failures": dict(failures.most_common(6)),
                "4xx": dict(codes.most_common(6)),
                "recovered_after_s": None if recover is None else round(recover, 1),
                "note": window.note if window else "",
            }
        )
    return rows


# ---------------------------------------------------------------------------------------------- checks


# Write kind → table: every row past the table's last id before the load began is the soak's (the demo dates
# some of today's records later in the day, so a time column would not tell).
TABLES = {"redemption": "redemption", "claim": "claim", "checkin": "checkin", "daily_record": "daily_record"}


def last_ids(database_url: str) -> dict[str, int]:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as db:
        found = {t: int(db.execute(text(f"SELECT coalesce(max(id), 0) FROM {t}")).scalar()) for t in TABLES.values()}
    engine.dispose()
    return found


def settle(stack: Stack, engine, budget: float) -> dict:  # type: ignore[no-untyped-def]
    """Wait for the background work to finish as the deployment finishes it on its own; the photos whose job
    was lost (queued in the Redis that restarted, or running in the worker killed) are re-queued by the
    hourly housekeeping once 15 min old: that run is made here with its clock 16 minutes ahead."""
    started = time.monotonic()
    connection = redis.Redis.from_url(stack.redis_url)

    def scalar(sql: str) -> int:
        with engine.connect() as db:
            return int(db.execute(text(sql)).scalar() or 0)

    def quiet() -> bool:
        queued = sum(connection.llen(key) for key in connection.keys("rq:queue:*"))
        busy = any(w.get_current_job_id() for w in Worker.all(connection=connection))
        return scalar("SELECT count(*) FROM outbox_job WHERE dispatched_at IS NULL") == 0 and not queued and not busy

    wait_until(quiet, min(120, budget), step=1)
    report = {"processing_before_housekeeping": scalar("SELECT count(*) FROM photo WHERE status = 'processing'")}
    if report["processing_before_housekeeping"]:
        code = (
            "from datetime import timedelta\n"
            "from backend.app import create_app\nfrom backend.db import db\n"
            "from backend.transaction import unit_of_work\n"
            "from backend.photos import service\nfrom backend.timeutil import now_utc\n"
            "with create_app().app_context():\n"
            "    with unit_of_work(db.session) as session:\n"
            "        print(service.requeue_stuck(session, now_utc() + service.STUCK_AFTER + timedelta(minutes=1)))\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=PROJECT_ROOT, env=stack.env(), capture_output=True, text=True
        )
        report["housekeeping"] = (out.stdout + out.stderr).strip().splitlines()[-1:]
        wait_until(lambda: scalar("SELECT count(*) FROM photo WHERE status = 'processing'") == 0, 120, step=1)
    remaining = budget - (time.monotonic() - started)
    wait_until(lambda: scalar("SELECT count(*) FROM compile_run WHERE finished_at IS NULL") == 0, max(remaining, 1), 2)
    wait_until(quiet, 60, step=1)
    report["settled_in_s"] = round(time.monotonic() - started)
    return report


def checks(
    stack: Stack, recorder: Recorder, windows: list[Window], before: dict[str, int], budget: float
) -> list[dict]:
    engine = create_engine(stack.database_url.replace("postgresql://", "postgresql+psycopg://"))
    results: list[dict] = []

    def check(name: str, ok: bool, detail: object) -> None:
        results.append({"check": name, "ok": ok, "detail": detail})

    settled = settle(stack, engine, budget)
    check("background work settled", True, settled)

    # A request in flight when a fault began belongs to it: its interval overlaps the window.
    outside = [
        s for s in recorder.samples if bad(s) and not any(s.at < w.end and s.at + s.latency >= w.start for w in windows)
    ]
    check(
        "no 5xx / unanswered request outside the fault windows",
        not outside,
        dict(Counter(f"{s.kind} → {s.status or s.error}" for s in outside).most_common(10)),
    )

    with engine.connect() as db:
        q = lambda sql, **kw: db.execute(text(sql), kw).all()  # noqa: E731
        for kind, table in TABLES.items():
            writes = [w for w in recorder.writes if w.kind == kind]
            accepted = {w.record_id for w in writes if w.outcome == "accepted"}
            rows = {r[0] for r in q(f"SELECT id FROM {table} WHERE id > :last", last=before[table])}
            unknown = [w for w in writes if w.outcome == "unknown"]
            from_unknown = set()
            for w in unknown:  # a write that never got a definite answer may or may not have committed: its key says
                for (body,) in q(
                    "SELECT response_body FROM idempotency_record "
                    "WHERE user_id = :u AND key = :k AND response_status IN (200, 201)",
                    u=w.user_id,
                    k=w.key,
                ):
                    from_unknown.add(json.loads(body)["id"])
            check(
                f"{kind}: every accepted write present once, nothing extra",
                accepted <= rows and rows <= accepted | from_unknown,
                {
                    "accepted": len(accepted),
                    "refused": sum(w.outcome == "refused" for w in writes),
                    "unknown": len(unknown),
                    "rows": len(rows),
                    "missing": sorted(accepted - rows)[:10],
                    "extra": sorted(rows - accepted - from_unknown)[:10],
                    "retried": sum(w.attempts > 1 for w in writes),
                },
            )
        cancels = {w.record_id for w in recorder.writes if w.kind == "cancel" and w.outcome == "accepted"}
        not_cancelled = [
            r
            for r in q("SELECT id, status FROM redemption WHERE id = ANY(:ids)", ids=list(cancels))
            if r[1] != "cancelled"
        ]
        check(
            "cancel: every accepted cancel cancelled",
            not not_cancelled,
            {"accepted": len(cancels), "not": not_cancelled[:5]},
        )
        replays = [w.replay_ok for w in recorder.writes if w.replay_ok is not None]
        check("idempotent replay answers the first id", all(replays), {"replays": len(replays)})

        photos = dict(q("SELECT status, count(*) FROM photo WHERE id = ANY(:ids) GROUP BY status", ids=recorder.photos))
        check(
            "every accepted photo kept and processed",
            sum(photos.values()) == len(set(recorder.photos)) and set(photos) <= {"ready"},
            {"accepted": len(set(recorder.photos)), **photos},
        )
        check(
            "no photo of the whole county left processing",
            not q("SELECT id FROM photo WHERE status = 'processing'"),
            {"processing": len(q("SELECT id FROM photo WHERE status = 'processing'"))},
        )
        outbox = q("SELECT count(*) FROM outbox_job WHERE dispatched_at IS NULL")[0][0]
        check("outbox empty", outbox == 0, {"undispatched": outbox})
        runs = q("SELECT id, status, attempt, units_done, units_total, notes FROM compile_run ORDER BY id")
        check(
            "no compile run stuck",
            all(r[1] != "running" for r in runs),
            [{"id": r[0], "status": r[1], "attempt": r[2], "units": f"{r[3]}/{r[4]}", "notes": r[5]} for r in runs],
        )
        overdrawn = q("SELECT household_id, balance, held FROM points_account WHERE balance < 0 OR held < 0")
        check("no household overdrawn", not overdrawn, overdrawn[:5])
        oversold = q("SELECT id, stock, held FROM product WHERE stock < 0 OR held < 0")
        check("no product oversold", not oversold, oversold[:5])
    for command in ("check-ledger", "check-stock"):
        result = stack.flask(command, check=False)
        check(f"flask {command}", result.returncode == 0, (result.stdout + result.stderr).strip().splitlines()[-3:])
    failed_jobs = {
        queue.name: queue.failed_job_registry.count
        for queue in Queue.all(connection=redis.Redis.from_url(stack.redis_url))
    }
    check("RQ failed-job registry (informational)", True, failed_jobs)
    restarts = {n: c.restarts for n, c in stack.children.items() if c.restarts}
    check("long-running processes restarted by the supervisor (informational)", True, restarts)
    check("load driver raised nothing", not recorder.problems, recorder.problems[:5])
    engine.dispose()
    return results


# ---------------------------------------------------------------------------------------------- main


def print_report(rows: list[dict], results: list[dict], args: argparse.Namespace, load_s: float, samples: list) -> str:  # type: ignore[type-arg]
    total = len(samples)
    lines = [
        f"soak: {args.minutes:g} min of load, {total} requests ({total / load_s:.1f} req/s), "
        f"{'faults' if not args.no_faults else 'no faults'}; machine: {os.cpu_count()} cores, shared",
        "",
        "| phase | s | requests | req/s | p50 ms | p95 ms | p99 ms | 5xx | no answer | recovered after "
        "| failures | 4xx |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        recovered = "" if r["recovered_after_s"] is None else f"{r['recovered_after_s']} s"
        fails = ", ".join(f"{k}×{v}" for k, v in r["failures"].items())
        codes = ", ".join(f"{k}×{v}" for k, v in r["4xx"].items())
        lines.append(
            f"| {r['phase']} | {r['from_s']}–{r['to_s']} | {r['requests']} | {r['req_per_s']} | {r['p50_ms']} | "
            f"{r['p95_ms']} | {r['p99_ms']} | {r['5xx']} | {r['no_answer']} | {recovered} | {fails} | {codes} |"
        )
    notes = [f"- {r['phase']}: {r['note']}" for r in rows if r["note"]]
    refusals = Counter(f"{s.kind} {s.status} {s.error}" for s in samples if 400 <= s.status < 500)
    lines += ["", *notes, "", "4xx over the whole run, by request: "]
    lines += [f"  {count:5} × {what}" for what, count in refusals.most_common(12)]
    lines += ["", "checks:"]
    for c in results:
        mark = "ok  " if c["ok"] else "FAIL"
        lines.append(f"  [{mark}] {c['check']}: {json.dumps(c['detail'], ensure_ascii=False, default=str)}")
    text_out = "\n".join(lines)
    print("\n" + text_out, flush=True)
    return text_out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--no-faults", action="store_true")
    parser.add_argument("--villagers", type=int, default=48, help="24 demo villagers, then households bound by code")
    parser.add_argument("--cadres", type=int, default=24)
    parser.add_argument("--web-workers", type=int, default=None, help="default: gunicorn.conf.py's")
    parser.add_argument("--outage", type=float, default=8, help="seconds Redis / PostgreSQL stay down")
    parser.add_argument("--disk-hold", type=float, default=45, help="seconds the upload disk stays full")
    parser.add_argument("--disk-mb", type=int, default=512)
    parser.add_argument("--settle", type=float, default=600, help="most seconds to wait for background work")
    parser.add_argument("--pg-port", type=int, default=5441)
    parser.add_argument("--redis-port", type=int, default=6391)
    parser.add_argument("--web-port", type=int, default=8391)
    parser.add_argument("--keep", action="store_true", help="keep the run's folder (logs, database) afterwards")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: the upload disk is a tmpfs mount, PostgreSQL runs as the postgres user")
    random.seed(16)
    root = Path(tempfile.mkdtemp(prefix="xz-soak-"))
    os.chmod(root, 0o755)
    stack = Stack(root, pg_port=args.pg_port, redis_port=args.redis_port, web_port=args.web_port, disk_mb=args.disk_mb)
    print(f"[soak] folder {root}", flush=True)
    try:
        stack.start(args.web_workers)
        recorder = Recorder()
        crowd, admin = people(stack, recorder, args)
        for person in crowd:
            person.setup()
        engine = create_engine(stack.database_url.replace("postgresql://", "postgresql+psycopg://"))
        print(f"[soak] waiting for the demo's background work: {settle(stack, engine, 300)}", flush=True)
        engine.dispose()
        print(f"[soak] {len(crowd)} people signed in; load for {args.minutes:g} min", flush=True)
        recorder.samples.clear()
        recorder.started = time.monotonic()
        before = last_ids(stack.database_url)
        stop = threading.Event()
        threads = [threading.Thread(target=p.run, args=(stop,), daemon=True) for p in crowd]
        for thread in threads:
            thread.start()
        faults = Faults(stack, recorder, admin, args)
        duration = args.minutes * 60
        for at, fault in [] if args.no_faults else faults.plan(args.minutes):
            time.sleep(max(0, at - recorder.now()))
            fault()
        time.sleep(max(0, duration - recorder.now()))
        stop.set()
        for thread in threads:
            thread.join(30)
        end = recorder.now()
        rows = phase_rows(recorder, faults.windows, end)
        print("[soak] load stopped; waiting for the background work to settle, then checking", flush=True)
        results = checks(stack, recorder, faults.windows, before, args.settle)
        report = print_report(rows, results, args, end, recorder.samples)
        Path(tempfile.gettempdir(), "xz-soak-report.md").write_text(report + "\n", encoding="utf-8")
        Path(tempfile.gettempdir(), "xz-soak-report.json").write_text(
            json.dumps(
                {"phases": rows, "checks": results, "windows": [asdict(w) for w in faults.windows]}, default=str
            ),
            encoding="utf-8",
        )
        return 0 if all(c["ok"] for c in results) else 1
    finally:
        stack.stop()
        if args.keep:
            print(f"[soak] kept {root}", flush=True)
        else:
            subprocess.run(["rm", "-rf", str(root)], check=False)


if __name__ == "__main__":
    sys.exit(main())
