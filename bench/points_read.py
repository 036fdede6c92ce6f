"""Points read benchmark: GET /points/summary and /points/ledger under gunicorn vs a bare Flask baseline.

Seeds the demo county plus villager tokens and ledger entries for many households, starts two gunicorn
servers on the same database with the same worker count (our app, and `bench.baseline_app` doing the
same indexed queries with SQLAlchemy Core and jsonify, no ORM/marshmallow/smorest/policy layer), fires
the same concurrent requests at both in alternating rounds, and prints requests/s and p50/p95/p99 side
by side with the ratio (issue 3 goal: reads ≥ 60% of the bare figure).

Database: BENCH_DATABASE_URL, else TEST_DATABASE_URL (PostgreSQL; its tables are DROPPED and recreated,
so never point it at data you keep), else a fresh SQLite file in a temporary directory.

    python -m bench.points_read [--households 300] [--requests 3000] [--concurrency 32] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import requests
from sqlalchemy import select

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENDPOINTS = {
    "summary": "/api/mp/v1/points/summary",
    "summary*": "/api/mp/v1/points/summary",
    "ledger": "/api/mp/v1/points/ledger?limit=20",
}
# summary: the historical bare twin (rank by balance, no honors: cheaper than the app's answer);
# summary*: the bare twin running the app's own ranking query, so the ratio is our stack's cost alone.
BASELINE_PATHS = {"summary": "/bare/summary", "summary*": "/bare/summary-ranked", "ledger": "/bare/ledger"}


def database_url(tmp: Path) -> str:
    return (
        os.environ.get("BENCH_DATABASE_URL")
        or os.environ.get("TEST_DATABASE_URL")
        or f"sqlite:///{tmp / 'bench.sqlite3'}"
    )


def seed(url: str, instance: Path, households: int, entries: int) -> list[str]:
    """Demo county, then `households` villagers with a token and `entries` ledger entries each."""
    from backend.app import create_app
    from backend.auth.models import Role, User
    from backend.auth.service import issue_token
    from backend.db import db
    from backend.demo.county import seed_demo_county
    from backend.org.models import Household
    from backend.points.ledger import ensure_account, post_entry
    from backend.points.models import EntryKind
    from backend.points.rules import active_rule_book
    from backend.timeutil import today_local

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(instance), "REDIS_URL": ""})
    tokens = []
    with app.app_context():
        db.drop_all()
        db.create_all()
        session = db.session
        seed_demo_county(session, instance)
        chosen = list(session.scalars(select(Household).order_by(Household.id).limit(households)))
        book = active_rule_book(session, chosen[0].village_id, today_local())
        items = [i for i in book.items if i.kind.value != "veto"][:12]
        source = 0
        for n, household in enumerate(chosen):
            user = User(username=f"bench_{n}", role=Role.villager, household_id=household.id)
            session.add(user)
            session.flush()
            tokens.append(issue_token(session, user, timedelta(days=1)).token)
            ensure_account(session, household, book.base_score)
            for k in range(entries):
                item = items[(n + k) % len(items)]
                source += 1
                post_entry(
                    session,
                    household_id=household.id,
                    village_id=household.village_id,
                    kind=EntryKind.earn if item.kind.value == "positive" else EntryKind.deduct,
                    amount=item.signed_points,
                    source_type="bench",
                    source_id=source,
                    rule_item_id=item.id,
                    actor_id=None,
                    reason=item.title,
                )
        session.commit()
        db.engine.dispose()
    return tokens


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(app_spec: str, port: int, workers: int, env: dict[str, str]) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        app_spec,
    ]
    help_text = subprocess.run([*command[:3], "--help"], capture_output=True, text=True).stdout
    if "--no-control-socket" in help_text:
        command.insert(3, "--no-control-socket")
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn {app_spec} exited with {process.returncode}")
        try:
            requests.get(f"http://127.0.0.1:{port}/", timeout=10)
            return process
        except requests.RequestException:
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError(f"gunicorn {app_spec} did not start")


@contextmanager
def served(url: str, instance: Path, workers: int) -> Iterator[dict[str, str]]:
    """Our app and the bare baseline under gunicorn with the same worker count on the same database;
    yields their base URLs."""
    env = {**os.environ, "DATABASE_URL": url, "XZ_INSTANCE_PATH": str(instance), "REDIS_URL": ""}
    env.pop("XZ_REQUIRE_REDIS", None)
    ports = {"app": free_port(), "bare": free_port()}
    servers: list[subprocess.Popen] = []
    try:
        servers.append(start_gunicorn("backend.app:create_app()", ports["app"], workers, env))
        servers.append(start_gunicorn("bench.baseline_app:create_baseline()", ports["bare"], workers, env))
        yield {side: f"http://127.0.0.1:{port}" for side, port in ports.items()}
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=30)


@dataclass
class Result:
    latencies: list[float]
    elapsed: float
    errors: int

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000 if ordered else 0.0


def fire(url: str, tokens: list[str], total: int, concurrency: int, post: dict | None = None) -> Result:
    """`total` requests from `concurrency` threads, each with the next villager's token: GETs, or POSTs of
    the JSON `post` each with a fresh Idempotency-Key (a phone's first try). A non-2xx answer is an error."""
    counter = iter(range(total))
    lock = threading.Lock()
    latencies: list[float] = []
    errors = 0

    def worker() -> None:
        nonlocal errors
        session = requests.Session()
        mine: list[float] = []
        failed = 0
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                break
            start = time.perf_counter()
            headers = {"Authorization": f"Bearer {tokens[n % len(tokens)]}"}
            if post is None:
                response = session.get(url, headers=headers, timeout=60)
            else:
                headers["Idempotency-Key"] = uuid.uuid4().hex
                response = session.post(url, json=post, headers=headers, timeout=60)
            mine.append(time.perf_counter() - start)
            failed += not 200 <= response.status_code < 300
        with lock:
            latencies.extend(mine)
            errors += failed

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Result(latencies, time.perf_counter() - began, errors)


def merge(results: list[Result]) -> Result:
    return Result(
        [x for r in results for x in r.latencies], sum(r.elapsed for r in results), sum(r.errors for r in results)
    )


HEADER = f"{'endpoint':<11} {'server':<11} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}"


def compare(
    name: str,
    pair: dict[str, str],
    tokens: list[str],
    per_round: int,
    rounds: int,
    concurrency: int,
    post: dict | None = None,
) -> float:
    """Alternating rounds on the app and the bare server (drift on a shared machine hits both alike);
    prints both sides' figures and returns the ratio app ÷ bare requests/s."""
    runs: dict[str, list[Result]] = {"app": [], "bare": []}
    for round_no in range(rounds):
        order = ("app", "bare") if round_no % 2 == 0 else ("bare", "app")
        for server in order:
            runs[server].append(fire(pair[server], tokens, per_round, concurrency, post))
    merged = {server: merge(results) for server, results in runs.items()}
    for server, label in (("app", "xiangzhi"), ("bare", "bare Flask")):
        r = merged[server]
        print(
            f"{name:<11} {label:<11} {r.rps:>8.0f} {r.percentile(50):>8.1f} {r.percentile(95):>8.1f}"
            f" {r.percentile(99):>8.1f} {r.errors:>7}"
        )
    per_round_ratios = " ".join(f"{a.rps / b.rps:.0%}" for a, b in zip(runs["app"], runs["bare"], strict=True))
    ratio = merged["app"].rps / merged["bare"].rps if merged["bare"].rps else 0.0
    print(f"{name:<11} {'ratio':<11} {ratio:>8.0%}   (xiangzhi ÷ bare req/s; per round: {per_round_ratios})")
    return ratio


def warm_up(targets: dict[str, dict[str, str]], tokens: list[str], count: int, concurrency: int, post=None) -> None:  # type: ignore[no-untyped-def]
    """Imports, connection pools and caches of every worker, before anything is measured."""
    for pair in targets.values():
        for target_url in pair.values():
            warm = fire(target_url, tokens, count, concurrency, post)
            if warm.errors:
                raise RuntimeError(f"{target_url}: {warm.errors} of {count} warm-up requests failed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=300)
    parser.add_argument("--entries", type=int, default=25, help="ledger entries per household")
    parser.add_argument("--requests", type=int, default=3000, help="per endpoint and server, over all rounds")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2, help="alternating app/baseline rounds")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="xz-bench-"))
    url = database_url(tmp)
    started = time.perf_counter()
    tokens = seed(url, tmp / "instance", args.households, args.entries)
    backend = url.split(":", 1)[0]
    took = time.perf_counter() - started
    print(f"seeded {len(tokens)} villagers × {args.entries} entries on {backend} in {took:.1f}s")

    try:
        with served(url, tmp / "instance", args.workers) as base:
            targets = {
                name: {"app": base["app"] + ENDPOINTS[name], "bare": base["bare"] + BASELINE_PATHS[name]}
                for name in ENDPOINTS
            }
            measure(targets, tokens, args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def measure(
    targets: dict[str, dict[str, str]],
    tokens: list[str],
    args: argparse.Namespace,
    post: dict | None = None,
    warm: int = 200,
) -> None:
    """Warm up every target, then compare app and bare per endpoint in alternating rounds."""
    warm_up(targets, tokens, warm, args.concurrency, post)
    per_round = max(1, args.requests // args.rounds)
    print(
        f"gunicorn --workers {args.workers} (sync) per server; {args.concurrency} client threads; "
        f"{per_round * args.rounds} requests per endpoint and server in {args.rounds} alternating rounds"
    )
    print(HEADER)
    for name, pair in targets.items():
        compare(name, pair, tokens, per_round, args.rounds, args.concurrency, post)


if __name__ == "__main__":
    main()
