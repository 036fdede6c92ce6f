"""Background jobs: outbox row in the caller's transaction → RQ after commit → a real worker process;
the in-process fallback without Redis; and a dead or hung Redis that must never hold up a request."""

from __future__ import annotations

import http.client
import io
import logging
import math
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis
import time_machine
from flask import Flask
from rq import Queue
from rq.job import Job, JobStatus
from rq.queue import EnqueueData
from sqlalchemy import func, select
from werkzeug.serving import make_server

from backend.auth.models import ApiToken, Role, User
from backend.db import db
from backend.extensions import limiter
from backend.jobs.models import OutboxJob
from backend.jobs.outbox import dispatch, enqueue, sweep_outbox
from backend.jobs.tasks import TASKS
from backend.timeutil import now_utc
from backend.transaction import unit_of_work
from tests.conftest import REDIS_URL
from tests.factories import World
from tests.photo_corpus import tiny_jpeg
from tests.worker_process import PROJECT_ROOT, BurstWorker, worker_env

PURGE = "auth.purge_tokens"


# --- helpers and fixtures ------------------------------------------------------------------------


def seed_tokens(session) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """A token that expired long ago (purge deletes it) and a live one (purge keeps it)."""
    user = User(username=f"u_{uuid.uuid4().hex[:8]}", role=Role.villager, is_active=True)
    session.add(user)
    session.flush()
    stale = ApiToken(user_id=user.id, token_hash=uuid.uuid4().hex, expires_at=now_utc() - timedelta(days=90))
    live = ApiToken(user_id=user.id, token_hash=uuid.uuid4().hex, expires_at=now_utc() + timedelta(days=1))
    session.add_all([stale, live])
    session.commit()
    return stale.id, live.id


def token_ids(app: Flask) -> set[int]:
    with app.app_context():
        ids = set(db.session.scalars(select(ApiToken.id)))
        db.session.remove()
    return ids


def outbox_rows(app: Flask) -> list[OutboxJob]:
    with app.app_context():
        rows = list(db.session.scalars(select(OutboxJob).order_by(OutboxJob.id)))
        db.session.expunge_all()
        db.session.remove()
    return rows


class SilentRedis:
    """A port that accepts connections (kernel backlog) but never answers a byte: a hung Redis."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.setblocking(False)
        self.url = f"redis://127.0.0.1:{self.sock.getsockname()[1]}/0"
        self.held: list[socket.socket] = []

    def connections(self) -> int:
        """How many connections clients have opened so far: each waits in the backlog until taken here
        (and held open, still silent)."""
        while True:
            try:
                self.held.append(self.sock.accept()[0])
            except BlockingIOError:
                return len(self.held)

    def close(self) -> None:
        for conn in self.held:
            conn.close()
        self.sock.close()


@pytest.fixture
def silent_redis_server() -> Iterator[SilentRedis]:
    server = SilentRedis()
    yield server
    server.close()


@pytest.fixture
def silent_redis(silent_redis_server: SilentRedis) -> str:
    return silent_redis_server.url


@pytest.fixture
def closed_redis() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


@pytest.fixture
def queue_name() -> Iterator[str]:
    """A queue of our own, so a worker here never takes (or leaves) anyone else's jobs; its keys go afterwards."""
    name = f"xz-test-{uuid.uuid4().hex[:12]}"
    yield name
    if REDIS_URL:
        forget_queue(name)


def forget_queue(name: str) -> None:
    """Delete a test queue's keys from the real Redis."""
    conn = redis.Redis.from_url(REDIS_URL)
    keys = list(conn.scan_iter(match=f"*{name}*", count=1000))
    if keys:
        conn.delete(*keys)
    conn.srem("rq:queues", f"rq:queue:{name}")
    conn.close()


@pytest.fixture
def redis_app(make_app: Callable[..., Flask], queue_name: str) -> Flask:
    """An app that queues on the real Redis from REDIS_URL, into this test's own queue."""
    built = make_app(REDIS_URL=REDIS_URL)
    runtime = built.extensions["xz_jobs"]
    assert not runtime.inline
    runtime.queue = Queue(queue_name, connection=runtime.redis)
    return built


def run_worker_process(app: Flask, queue_name: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """The `flask worker --burst` command itself, in a process of its own (the other tests ask the session's
    worker process for a burst: the same run_worker, without the command's 2-3 s start)."""
    return subprocess.run(
        [sys.executable, "-m", "flask", "worker", "--burst", "--queue", queue_name],
        cwd=PROJECT_ROOT,
        env=worker_env(app, tmp_path / "worker-instance"),
        capture_output=True,
        text=True,
        timeout=120,
    )


def enqueue_route(app: Flask) -> None:
    """A view that writes a row and enqueues jobs, like any real endpoint with background work."""
    from backend.extensions import csrf

    def view() -> dict:
        from flask import request

        user = User(username=f"r_{uuid.uuid4().hex[:8]}", role=Role.villager, is_active=True)
        db.session.add(user)
        for _ in range(int(request.args.get("jobs", "1"))):
            enqueue(db.session, PURGE)
        db.session.flush()
        return {"user_id": user.id}

    app.add_url_rule("/_test/enqueue", "test_enqueue", csrf.exempt(view), methods=["POST"])


# --- job ids ---------------------------------------------------------------------------------------


def test_job_ids_are_ones_rq_accepts_and_stay_deterministic() -> None:
    from rq.job import JOB_ID_PATTERN

    from backend.jobs.outbox import rq_job_id

    assert rq_job_id("ratings-compile-2026-05-v7") == "ratings-compile-2026-05-v7"
    odd = ["points.compile:2026-05:v7", "points.compile:2026-05-v7", "村:7", "x" * 300, ":"]
    rewritten = [rq_job_id(raw) for raw in odd]
    assert all(JOB_ID_PATTERN.fullmatch(job_id) and len(job_id) <= 120 for job_id in rewritten)
    assert len(set(rewritten)) == len(odd)
    assert rewritten == [rq_job_id(raw) for raw in odd]


def test_enqueued_rows_carry_job_ids_rq_accepts(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    from rq.job import JOB_ID_PATTERN

    monkeypatch.setitem(TASKS, "tests.noop", lambda session: None)

    with app.app_context():
        with unit_of_work(db.session) as session:
            made = enqueue(session, "tests.noop").job_id
            given = enqueue(session, "tests.noop", job_id="tests.noop:2026-05").job_id
        db.session.remove()

    assert JOB_ID_PATTERN.fullmatch(made) and JOB_ID_PATTERN.fullmatch(given)
    assert given.startswith("tests-noop-2026-05-")


# --- in-process mode (no Redis) ------------------------------------------------------------------


def test_without_redis_job_runs_in_process_after_commit_and_outbox_is_marked(app: Flask) -> None:
    assert app.extensions["xz_jobs"].inline
    with app.app_context():
        stale, live = seed_tokens(db.session)
        with unit_of_work(db.session) as session:
            enqueue(session, PURGE)
            # Nothing runs before the commit.
            assert session.get(ApiToken, stale) is not None
        db.session.remove()

    assert token_ids(app) == {live}
    [row] = outbox_rows(app)
    assert (row.task, row.kwargs) == (PURGE, {})
    assert row.dispatched_at is not None


def test_rolled_back_transaction_runs_no_job_and_leaves_no_outbox_row(app: Flask) -> None:
    with app.app_context():
        stale, live = seed_tokens(db.session)
        with pytest.raises(RuntimeError, match="boom"), unit_of_work(db.session) as session:
            enqueue(session, PURGE)
            raise RuntimeError("boom")
        # The next commit on this session must not dispatch the forgotten job either.
        with unit_of_work(db.session):
            pass
        db.session.remove()

    assert token_ids(app) == {stale, live}
    assert outbox_rows(app) == []


def test_without_redis_failing_job_keeps_the_write_and_stays_in_outbox(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(session) -> None:  # type: ignore[no-untyped-def]
        raise ValueError("task failed")

    monkeypatch.setitem(TASKS, "tests.boom", boom)
    with app.app_context():
        with unit_of_work(db.session) as session:
            session.add(User(username="kept", role=Role.villager, is_active=True))
            enqueue(session, "tests.boom")
        assert db.session.scalar(select(func.count()).select_from(User).where(User.username == "kept")) == 1
        db.session.remove()

    [row] = outbox_rows(app)
    assert row.dispatched_at is None


def test_without_redis_request_that_enqueues_runs_the_job_before_answering(make_app: Callable[..., Flask]) -> None:
    plain = make_app()
    enqueue_route(plain)
    with plain.app_context():
        _stale, live = seed_tokens(db.session)
        db.session.remove()

    response = plain.test_client().post("/_test/enqueue")

    assert response.status_code == 200, response.get_data(as_text=True)
    assert token_ids(plain) == {live}
    assert all(row.dispatched_at is not None for row in outbox_rows(plain))


class AnswerFirstQueue:
    """Stands in for RQ: records each push and whether the client already had its answer then (waiting
    up to 10 s for it, so a push made before the answer shows as one)."""

    def __init__(self) -> None:
        self.answered = threading.Event()
        self.pushed: list[tuple[str, bool]] = []

    def enqueue_many(self, jobs: list[EnqueueData]) -> None:
        self.pushed += [(job.job_id, self.answered.wait(10)) for job in jobs]


def test_real_server_answers_before_pushing_the_job_to_redis_and_still_pushes_it(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app()
    queue = AnswerFirstQueue()
    runtime = app.extensions["xz_jobs"]
    runtime.inline, runtime.queue = False, queue
    enqueue_route(app)
    server = make_server("127.0.0.1", 0, app)
    serving = threading.Thread(target=server.serve_forever)
    serving.start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=30)
        connection.request("POST", "/_test/enqueue")
        response = connection.getresponse()
        body = response.read()
        queue.answered.set()
        connection.close()
    finally:
        server.shutdown()  # returns once the request in hand, and what it left for after the answer, is done
        serving.join()

    assert response.status == 200, body
    [row] = outbox_rows(app)
    assert queue.pushed == [(row.job_id, True)], "the job must be pushed after the answer, not before"
    assert row.dispatched_at is not None


class WorkerMarksMeanwhileQueue:
    """Stands in for RQ while a worker runs the jobs already pushed: on the first push another connection
    marks the second row as run (what backend.jobs.runner does), waiting up to 0.5 s for the database."""

    def __init__(self, path: str, other_id: int) -> None:
        self.path, self.other_id = path, other_id
        self.worker: threading.Thread | None = None
        self.worker_error: BaseException | None = None

    def enqueue_many(self, jobs: list[EnqueueData]) -> None:
        if self.worker is None:
            self.worker = threading.Thread(target=self._mark)
            self.worker.start()
            self.worker.join(0.5)

    def _mark(self) -> None:
        try:
            with sqlite3.connect(self.path, timeout=30) as conn:
                conn.execute("UPDATE outbox_job SET dispatched_at = CURRENT_TIMESTAMP WHERE id = ?", (self.other_id,))
        except BaseException as exc:  # reported by the test
            self.worker_error = exc


def test_pushing_jobs_while_a_worker_marks_others_waits_its_turn_instead_of_failing(
    make_app: Callable[..., Flask],
) -> None:
    """The scheduler pushed a batch of due jobs while the worker ran the first ones; on SQLite its mark
    failed with "database is locked", the scheduler exited, and `make run` stopped everything with it."""
    app = make_app()
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if not url.startswith("sqlite"):
        pytest.skip("SQLite's lock upgrade; PostgreSQL locks rows")
    with app.app_context():
        with unit_of_work(db.session) as s:
            ids = [enqueue(s, PURGE).id, enqueue(s, PURGE).id]
            s.info.clear()  # pushed below, by hand
        queue = WorkerMarksMeanwhileQueue(url.removeprefix("sqlite:///"), ids[1])
        runtime = app.extensions["xz_jobs"]
        runtime.inline, runtime.queue = False, queue
        pushed = dispatch(db.session, ids)
        db.session.remove()
    assert queue.worker is not None
    queue.worker.join(30)
    assert queue.worker_error is None
    assert pushed == 2
    assert all(row.dispatched_at is not None for row in outbox_rows(app))


# --- a real Redis and a real worker process ------------------------------------------------------


@pytest.mark.redis
def test_committed_job_waits_in_redis_until_a_worker_process_runs_it(
    redis_app: Flask, queue_name: str, tmp_path: Path
) -> None:
    with redis_app.app_context():
        stale, live = seed_tokens(db.session)
        with unit_of_work(db.session) as session:
            job_id = enqueue(session, PURGE, job_id=f"{queue_name}:purge:{PURGE}").job_id
        db.session.remove()

    queue = redis_app.extensions["xz_jobs"].queue
    assert queue.job_ids == [job_id]
    assert token_ids(redis_app) == {stale, live}, "the job must not run in the web process"
    [row] = outbox_rows(redis_app)
    assert row.dispatched_at is not None

    done = run_worker_process(redis_app, queue_name, tmp_path)

    assert done.returncode == 0, done.stderr[-3000:]
    assert token_ids(redis_app) == {live}
    assert Job.fetch(job_id, connection=queue.connection).get_status() == JobStatus.FINISHED
    assert queue.count == 0


@pytest.mark.redis
def test_burst_worker_with_scheduler_runs_a_job_whose_time_has_come(
    redis_app: Flask, queue_name: str, burst_worker: BurstWorker
) -> None:
    from backend.jobs.runner import run_task

    with redis_app.app_context():
        _stale, live = seed_tokens(db.session)
        db.session.remove()
    queue = redis_app.extensions["xz_jobs"].queue
    job = queue.enqueue_at(now_utc() - timedelta(seconds=5), run_task, PURGE, {}, job_id=f"{queue_name}-scheduled")
    assert queue.count == 0
    assert job.get_status() == JobStatus.SCHEDULED

    done = burst_worker.run(redis_app, queue_name)

    assert done.returncode == 0, done.stderr[-3000:]
    assert token_ids(redis_app) == {live}
    assert job.get_status(refresh=True) == JobStatus.FINISHED


# --- dead Redis: the write commits, the request is fast, the outbox keeps the job -----------------


def timed_request(app: Flask, jobs: int = 1) -> tuple[float, int]:
    client = app.test_client()
    started = time.perf_counter()
    response = client.post(f"/_test/enqueue?jobs={jobs}")
    return time.perf_counter() - started, response.status_code


@pytest.mark.parametrize("dead", ["silent_redis", "closed_redis"])
@pytest.mark.parametrize("jobs", [1, 5])
def test_request_that_enqueues_commits_quickly_when_redis_is_dead(
    make_app: Callable[..., Flask], request: pytest.FixtureRequest, dead: str, jobs: int
) -> None:
    dead_app = make_app(REDIS_URL=request.getfixturevalue(dead), REDIS_SOCKET_TIMEOUT=0.3)
    assert not dead_app.extensions["xz_jobs"].inline
    enqueue_route(dead_app)

    elapsed, status = timed_request(dead_app, jobs)
    again, status_again = timed_request(dead_app, jobs)

    print(f"dead redis ({dead}, {jobs} job(s)): {elapsed * 1000:.0f} ms, then {again * 1000:.0f} ms")
    assert (status, status_again) == (200, 200)
    assert elapsed < 1.0 and again < 1.0, f"{elapsed:.2f}s / {again:.2f}s"
    with dead_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 2
        db.session.remove()
    rows = outbox_rows(dead_app)
    assert len(rows) == 2 * jobs
    assert all(row.dispatched_at is None for row in rows)


def test_unit_of_work_that_enqueues_commits_quickly_when_redis_hangs(
    make_app: Callable[..., Flask], silent_redis: str
) -> None:
    dead_app = make_app(REDIS_URL=silent_redis, REDIS_SOCKET_TIMEOUT=0.3)
    with dead_app.app_context():
        started = time.perf_counter()
        with unit_of_work(db.session) as session:
            session.add(User(username="committed", role=Role.villager, is_active=True))
            enqueue(session, PURGE)
        elapsed = time.perf_counter() - started
        db.session.remove()

    print(f"unit_of_work with hung redis: {elapsed * 1000:.0f} ms")
    assert elapsed < 1.0
    with dead_app.app_context():
        assert db.session.scalar(select(User.username).where(User.username == "committed")) == "committed"
        db.session.remove()
    [row] = outbox_rows(dead_app)
    assert row.dispatched_at is None


@pytest.mark.redis
def test_job_left_by_dead_redis_is_pushed_by_the_sweep_once_redis_is_back(
    make_app: Callable[..., Flask], silent_redis: str, redis_app: Flask, queue_name: str, burst_worker: BurstWorker
) -> None:
    dead_app = make_app(REDIS_URL=silent_redis, REDIS_SOCKET_TIMEOUT=0.3)
    with dead_app.app_context():
        stale, live = seed_tokens(db.session)
        with unit_of_work(db.session) as session:
            row = enqueue(session, PURGE, job_id=f"{queue_name}-swept")
            row_id, job_id = row.id, row.job_id
        db.session.remove()
    assert [row.dispatched_at for row in outbox_rows(dead_app)] == [None]

    with redis_app.app_context():
        # A fresh row may still be on its way to Redis from the request that wrote it: the default sweep waits.
        assert sweep_outbox(db.session) == 0
        assert sweep_outbox(db.session, older_than=timedelta(0)) == 1
        assert sweep_outbox(db.session, older_than=timedelta(0)) == 0
        db.session.remove()

    queue = redis_app.extensions["xz_jobs"].queue
    assert queue.job_ids == [job_id]
    [row] = outbox_rows(redis_app)
    assert (row.id, row.dispatched_at is not None) == (row_id, True)
    assert token_ids(redis_app) == {stale, live}

    done = burst_worker.run(redis_app, queue_name)

    assert done.returncode == 0, done.stderr[-3000:]
    assert token_ids(redis_app) == {live}


# --- a Redis restart under a working worker ---------------------------------------------------------

# A worker whose job is still running when Redis goes away: `flask worker`'s code plus one task that says it
# has started, then runs until the test lets it end.
SLOW_WORKER = """
import sys, time
from pathlib import Path
from backend.app import create_app
from backend.jobs.tasks import task
from backend.jobs.worker import run_worker

@task("test.slow")
def slow(session, started, release):
    Path(started).touch()
    while not Path(release).exists():
        time.sleep(0.02)

run_worker(create_app(), [sys.argv[1]])
"""


class RedisServer:
    """A redis-server of the test's own on a free port (in memory only), which the test may restart: the
    shared Redis must stay up for everyone else."""

    def __init__(self, folder: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.folder = folder
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        argv = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
            str(self.folder),
        ]
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        assert wait_for(lambda: self.answers(), 10)

    def stop(self) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(10)

    def answers(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.url, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False


def wait_for(check: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer(tmp_path)
    yield server
    server.stop()


@pytest.mark.real_commits
def test_worker_outlives_a_redis_restart_in_the_middle_of_a_job_and_runs_the_jobs_queued_after_it(
    make_app: Callable[..., Flask], own_redis: RedisServer, queue_name: str, tmp_path: Path
) -> None:
    app = make_app(REDIS_URL=own_redis.url)
    runtime = app.extensions["xz_jobs"]
    runtime.queue = Queue(queue_name, connection=runtime.redis)
    with app.app_context():
        stale, live = seed_tokens(db.session)
        db.session.remove()
    env = worker_env(app, tmp_path / "worker-instance")
    worker = subprocess.Popen(
        [sys.executable, "-c", SLOW_WORKER, queue_name], cwd=PROJECT_ROOT, env=env, stderr=subprocess.PIPE, text=True
    )
    logged: list[str] = []
    reader = threading.Thread(target=lambda: logged.extend(iter(worker.stderr.readline, "")))  # type: ignore[union-attr]
    reader.start()
    started, release = tmp_path / "started", tmp_path / "release"
    try:
        runtime.queue.enqueue("backend.jobs.runner.run_task", "test.slow", {"started": started, "release": release})
        assert wait_for(started.exists, 30), "the worker never took the slow job"
        own_redis.stop()
        release.touch()  # the job ends while Redis is down: RQ's loop used to quit right there
        assert wait_for(lambda: "stopped on a Redis error" in "".join(logged), 30), "the worker never met it"
        time.sleep(0.2)  # its first ping meets the dead Redis too: it pings again a second later
        own_redis.start()
        with app.app_context():
            with unit_of_work(db.session) as session:
                enqueue(session, PURGE)
            db.session.remove()

        assert wait_for(lambda: token_ids(app) == {live}, 30), "the job queued after the restart never ran"
        assert worker.poll() is None
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        reader.join(timeout=30)
    assert "stopped on a Redis error" in "".join(logged)
    assert stale not in token_ids(app)


# --- hung Redis: one socket timeout per cool-down, not one per write ------------------------------


class RecordingQueue:
    """Stands in for a Redis that is back: records the job ids pushed."""

    def __init__(self) -> None:
        self.job_ids: list[str] = []

    def enqueue_many(self, jobs: list[EnqueueData]) -> None:
        self.job_ids += [job.job_id for job in jobs]


def test_hung_redis_costs_one_socket_timeout_for_many_writes_and_the_sweep_pushes_each_job_once(
    make_app: Callable[..., Flask], silent_redis_server: SilentRedis
) -> None:
    """Each write used to wait a socket timeout for its push, holding a server worker: 20 writes, 20 timeouts."""
    timeout = 0.5
    hung = make_app(REDIS_URL=silent_redis_server.url, REDIS_SOCKET_TIMEOUT=timeout)
    enqueue_route(hung)

    started = time.perf_counter()
    statuses = [timed_request(hung)[1] for _ in range(20)]
    elapsed = time.perf_counter() - started

    print(f"20 writes with hung redis: {elapsed * 1000:.0f} ms")
    assert statuses == [200] * 20
    assert silent_redis_server.connections() == 1, "one try, then no pushes during the cool-down"
    assert elapsed < 4 * timeout, f"{elapsed:.2f}s"
    rows = outbox_rows(hung)
    assert len(rows) == 20
    assert all(row.dispatched_at is None for row in rows)

    # Redis is back: `flask sweep-outbox`, a process of its own, pushes each job once.
    sweeper = make_app(REDIS_URL=silent_redis_server.url)
    back = RecordingQueue()
    sweeper.extensions["xz_jobs"].queue = back
    with sweeper.app_context():
        assert sweep_outbox(db.session, older_than=timedelta(0)) == 20
        assert sweep_outbox(db.session, older_than=timedelta(0)) == 0
        db.session.remove()

    assert sorted(back.job_ids) == sorted(row.job_id for row in rows)
    assert all(row.dispatched_at is not None for row in outbox_rows(hung))


def test_pushes_resume_after_the_cool_down_with_one_warning_when_they_stop_and_one_when_they_resume(
    make_app: Callable[..., Flask], silent_redis_server: SilentRedis, caplog: pytest.LogCaptureFixture
) -> None:
    hung = make_app(REDIS_URL=silent_redis_server.url, REDIS_SOCKET_TIMEOUT=0.3, REDIS_COOL_DOWN=30)
    enqueue_route(hung)
    client = hung.test_client()
    runtime = hung.extensions["xz_jobs"]
    back = RecordingQueue()

    def write() -> None:
        assert client.post("/_test/enqueue").status_code == 200

    with caplog.at_level(logging.INFO, logger="backend.jobs.queue"), time_machine.travel(now_utc(), tick=False) as t:
        write()  # its push times out: the breaker opens
        t.shift(timedelta(seconds=29))
        write()
        assert silent_redis_server.connections() == 1, "no push within the cool-down"
        t.shift(timedelta(seconds=2))
        write()  # half-open: one try, which fails again, and another cool-down
        write()
        assert silent_redis_server.connections() == 2
        runtime.queue = back
        t.shift(timedelta(seconds=31))
        write()  # this try goes through: the breaker closes
        write()

    rows = outbox_rows(hung)
    assert [row.dispatched_at is not None for row in rows] == [False] * 4 + [True] * 2
    assert back.job_ids == [row.job_id for row in rows[4:]]
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("backend")]
    assert len(warnings) == 2, warnings
    assert warnings[0].startswith("redis failed (TimeoutError)")
    assert warnings[1].startswith("redis answers again")


@pytest.fixture
def limiter_rebound(make_app: Callable[..., Flask]) -> Iterator[None]:
    """Flask-Limiter's one `limiter` counts in the store of the app built last, and remembers across apps
    that a store died: afterwards, bind it to a memory store again (conftest clears its counters) and
    forget the dead one, so the next tests count as usual."""
    yield
    make_app()
    limiter._storage_dead = False


def upload_status(app: Flask, token: str) -> int:
    return (
        app.test_client()
        .post(
            "/api/mp/v1/uploads",
            data={"file": (io.BytesIO(tiny_jpeg()), "a.jpg")},
            content_type="multipart/form-data",
            headers={"Authorization": f"Bearer {token}"},
        )
        .status_code
    )


def test_upload_with_a_hung_rate_limit_store_answers_quickly_and_is_still_limited(
    make_app: Callable[..., Flask], world: World, silent_redis_server: SilentRedis, limiter_rebound: None
) -> None:
    timeout = 0.5
    hung = make_app(
        RATELIMIT_STORAGE_URI=silent_redis_server.url, REDIS_SOCKET_TIMEOUT=timeout, UPLOAD_RATE_LIMIT="8 per minute"
    )

    started = time.perf_counter()
    statuses = [upload_status(hung, world.tokens["cadre"]) for _ in range(10)]
    elapsed = time.perf_counter() - started
    healthy = make_app(RATELIMIT_STORAGE_URI="memory://", UPLOAD_RATE_LIMIT="8 per minute")
    started = time.perf_counter()
    for _ in range(10):  # the time the same uploads take with a store that answers
        upload_status(healthy, world.tokens["cadre"])
    baseline = time.perf_counter() - started

    print(f"10 uploads, hung rate-limit store: {elapsed * 1000:.0f} ms; healthy: {baseline * 1000:.0f} ms")
    assert statuses == [201] * 8 + [429] * 2, "counted in memory meanwhile: the limit still holds"
    # The count that failed, then Flask-Limiter's pings to see whether the store is back, 1 s, 2 s, 4 s … apart:
    # never one per upload, however slow a loaded machine makes the uploads themselves.
    pings = math.floor(math.log2(elapsed + 1)) + 1
    assert silent_redis_server.connections() <= 1 + pings
    assert elapsed - baseline < (1 + pings) * timeout + 1.0, f"{elapsed:.2f}s against {baseline:.2f}s healthy"


@pytest.mark.redis
def test_uploads_are_counted_in_a_healthy_redis(
    make_app: Callable[..., Flask], world: World, limiter_rebound: None
) -> None:
    store = make_app(RATELIMIT_STORAGE_URI=REDIS_URL, UPLOAD_RATE_LIMIT="2 per minute")
    try:
        assert [upload_status(store, world.tokens["cadre"]) for _ in range(3)] == [201, 201, 429]
        assert redis.Redis.from_url(REDIS_URL).keys("LIMITS*"), "the counts are in Redis, not in memory"
    finally:
        limiter.reset()
