"""Layered fixtures: app → a database holding a baseline (empty, the small two-county world, or the demo
county) → each test inside a transaction rolled back at its end → API clients.

TEST_DATABASE_URL picks the database (default: a SQLite file); REDIS_URL enables the tests
that need a real Redis and RQ worker (XZ_REQUIRE_REDIS=1 makes their absence a failure).
"""

from __future__ import annotations

import copy
import enum
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from _pytest.nodeid import NodeId
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Table, create_engine, make_url, select, text
from sqlalchemy.orm import Session, scoped_session, sessionmaker
from werkzeug.test import TestResponse

from backend.app import create_app
from backend.auth import passwords
from backend.auth.models import User
from backend.auth.passwords import hash_password
from backend.db import db
from backend.demo.county import DemoSummary, seed_demo_county
from backend.extensions import limiter
from backend.transaction import unit_of_work
from tests.admin_helpers import PASSWORD, post_login
from tests.factories import World, build_world
from tests.factories_shop import add_shop
from tests.worker_process import BurstWorker, worker_env


def _worker_redis(url: str) -> str:
    """Under pytest-xdist each worker takes a Redis database of its own (the given one for gw0, the one below
    it for gw1, …), so two workers' RQ queues and deterministic job ids never meet."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    parts = urlsplit(url)
    database = int(parts.path.strip("/") or 0) - int(worker.removeprefix("gw"))
    assert database >= 0, f"no Redis database left for worker {worker} below {url}"
    return urlunsplit(parts._replace(path=f"/{database}"))


REDIS_URL = _worker_redis(os.environ.get("REDIS_URL", ""))


def _database_url(tmp: Path) -> str:
    """TEST_DATABASE_URL, or a SQLite file under the run's temp folder. Under pytest-xdist each worker gets
    a database of its own: a SQLite file under its own temp folder, or `<name>_<worker>` on PostgreSQL."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp / 'test.sqlite3'}"
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    base, name = url.rsplit("/", 1)
    mine = f"{name}_{worker}" if worker else name
    server = create_engine(
        make_url(url).set(drivername="postgresql+psycopg", database="postgres"), isolation_level="AUTOCOMMIT"
    )
    with server.connect() as conn:
        if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": mine}) is None:
            conn.execute(text(f'CREATE DATABASE "{mine}"'))
        # A commit that waits for its WAL flush costs ~2 ms here, 0.2 ms without: the suite's real commits
        # (threads, workers, seeding) need not survive a crash of the server. Every connection, workers' too.
        conn.execute(text(f'ALTER DATABASE "{mine}" SET synchronous_commit = off'))
    server.dispose()
    return f"{base}/{mine}"


class ServerLikeClient(FlaskClient):
    """Closes each response once it is read, as a WSGI server does after sending it: work a request left
    for then (pushing its jobs to RQ) has happened when the call returns, as it would in production
    moments after the answer."""

    def open(self, *args: Any, buffered: bool = True, **kwargs: Any) -> TestResponse:  # type: ignore[override]
        return super().open(*args, buffered=buffered, **kwargs)


def make_test_app(tmp: Path, **overrides: object) -> Flask:
    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": _database_url(tmp),
        "INSTANCE_PATH": str(tmp / "instance"),
        "UPLOAD_DIR": str(tmp / "uploads"),
        "REDIS_URL": "",
        "RATELIMIT_STORAGE_URI": "memory://",
        "SERVER_NAME": "localhost",
    }
    config.update(overrides)
    app = create_app(config)
    app.test_client_class = ServerLikeClient
    return app


@pytest.fixture(scope="session")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    app = make_test_app(tmp_path_factory.mktemp("xz"))
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


def wipe(app: Flask) -> None:
    """Delete every row, through whatever session the app has now (inside a test's transaction, its savepoint)."""
    with app.app_context():
        # DELETE beats TRUNCATE on a handful of rows (TRUNCATE rewrites every table's files).
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(table.delete())
        db.session.commit()
        db.session.remove()
    # Rate-limit counters are keyed by user id, and ids are reused after a wipe.
    limiter.reset()


class Baseline(enum.IntEnum):
    """What the committed database holds before a test: tests are run grouped by it (see
    pytest_collection_modifyitems), so each is built once per group, not once per test."""

    empty = 0
    world = 1
    shop_world = 2  # the world plus the points supermarket of tests.factories_shop.add_shop
    demo = 3


Rows = dict[Table, list[dict[str, Any]]]


@dataclass
class Committed:
    """The database's committed state between tests, and what built it."""

    baseline: Baseline | None = None  # None: unknown (a real-commit test wrote to it)
    world: World | None = None
    demo: DemoSummary | None = None
    # The rows of each world baseline as first built, and its World: after a real-commit test the baseline is
    # copied back (one INSERT per table) instead of built again through the services.
    saved: dict[Baseline, tuple[World, Rows]] = field(default_factory=dict)


COMMITTED = Committed()


def needs_real_commits(item: pytest.Item) -> bool:
    """Tests whose writes must reach the database for real: other connections read them (threads, RQ workers,
    a second app, raw engine access). The rest run inside one transaction rolled back at the end."""
    return (
        item.get_closest_marker("real_commits") is not None
        or "redis" in item.keywords
        or ("make_app" in getattr(item, "fixturenames", ()))
    )


_BASELINE_FIXTURES = {Baseline.demo: "demo_county", Baseline.shop_world: "shop_world", Baseline.world: "world"}


def baseline_of(item: pytest.Item) -> Baseline:
    names = getattr(item, "fixturenames", ())
    for baseline in (Baseline.demo, Baseline.shop_world, Baseline.world):
        if _BASELINE_FIXTURES[baseline] in names:
            return baseline
    return Baseline.empty


def saved_rows(app: Flask) -> Rows:
    """Every row, table by table (parents first), through whatever session the app has now (see wipe):
    restore_rows puts them back after a wipe."""
    with app.app_context():
        rows = {table: db.session.execute(select(table)).mappings().all() for table in db.metadata.sorted_tables}
    return {table: [dict(row) for row in found] for table, found in rows.items() if found}


def restore_rows(app: Flask, rows: Rows) -> None:
    """Into an empty database: one INSERT per table, far cheaper than building the same rows through services."""
    with app.app_context():
        for table, table_rows in rows.items():
            db.session.execute(table.insert(), table_rows)
        db.session.commit()


def _commit_baseline(app: Flask, wanted: Baseline) -> None:
    if COMMITTED.baseline == wanted:
        return
    if COMMITTED.baseline != Baseline.empty:
        wipe(app)
    COMMITTED.world = COMMITTED.demo = None
    if wanted in COMMITTED.saved:
        COMMITTED.world, rows = COMMITTED.saved[wanted]
        restore_rows(app, rows)
    elif wanted in (Baseline.world, Baseline.shop_world):
        with app.app_context(), unit_of_work(db.session) as session:
            COMMITTED.world = build_world(session)
            if wanted == Baseline.shop_world:
                add_shop(session, COMMITTED.world)
        COMMITTED.saved[wanted] = COMMITTED.world, saved_rows(app)
    elif wanted == Baseline.demo:
        with app.app_context(), unit_of_work(db.session) as session:
            COMMITTED.demo = seed_demo_county(session, app.instance_path)
    COMMITTED.baseline = wanted


@contextmanager
def rolled_back(app: Flask) -> Iterator[None]:
    """The test's every session on one connection inside one transaction that is rolled back at the end
    (the Warehouse pattern): the app's commits release savepoints and its rollbacks return to them."""
    real_session = db.session
    with app.app_context():
        connection = db.engine.connect()
    transaction = connection.begin()
    factory = sessionmaker(bind=connection, join_transaction_mode="create_savepoint")
    db.session = scoped_session(factory, scopefunc=real_session.registry.scopefunc)  # type: ignore[attr-defined]
    try:
        yield
    finally:
        # Each app context removed its session when it ended; what any of them left undone goes with this.
        db.session = real_session
        transaction.rollback()
        connection.close()


@pytest.fixture(autouse=True)
def _database(request: pytest.FixtureRequest) -> Iterator[Committed]:
    if "app" not in request.fixturenames:
        yield COMMITTED
        return
    app: Flask = request.getfixturevalue("app")
    _commit_baseline(app, baseline_of(request.node))
    try:
        if needs_real_commits(request.node):
            COMMITTED.baseline = None  # whatever it writes stays: the next test starts from a wipe
            yield COMMITTED
        else:
            with rolled_back(app):
                yield COMMITTED
    finally:
        # Rate-limit counters are keyed by user id, and the ids of the baseline are the same in every test.
        limiter.reset()


@pytest.fixture
def undone(app: Flask) -> Callable[[], AbstractContextManager[None]]:
    """`with undone():` rolls back what the block wrote, inside the test's own transaction (a rolled-back test's):
    a test of thousands of requests (the fuzz tests) keeps each part's rows from the next, and does not pile up
    PostgreSQL's row locks in one transaction (past max_locks_per_transaction every query fails)."""

    @contextmanager
    def savepoint() -> Iterator[None]:
        with app.app_context():
            connection = db.session.get_bind()
            db.session.remove()
        nested = connection.begin_nested()
        try:
            yield
        finally:
            nested.rollback()

    return savepoint


@pytest.fixture
def demo_county(_database: Committed) -> DemoSummary:
    """The demo county (`flask seed-demo`), seeded once per run: seeding it takes seconds. Each test's
    writes are rolled back, so tests may change it. Returns the summary of that one seeding."""
    assert _database.demo is not None
    return _database.demo


@pytest.fixture(scope="session")
def burst_worker(app: Flask, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BurstWorker]:
    """The session's RQ worker process: `burst_worker.run(redis_app, queue)` works that queue as
    `flask worker --burst` would, without 2-3 s of process start each time (see tests.worker_process).
    Stopped before the session's database is dropped."""
    folder = tmp_path_factory.mktemp("worker")
    worker = BurstWorker({**worker_env(app, folder / "instance"), "REDIS_URL": REDIS_URL}, folder)
    yield worker
    worker.stop()


@pytest.fixture
def make_app(app: Flask, tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """Another app with other settings on the session app's database (its schema). Its own engine sees only
    committed rows, so a test that uses it runs with real commits (see needs_real_commits)."""
    made: list[Flask] = []

    def build(**overrides: object) -> Flask:
        overrides.setdefault("SQLALCHEMY_DATABASE_URI", app.config["SQLALCHEMY_DATABASE_URI"])
        built = make_test_app(tmp_path / f"app{len(made)}", **overrides)
        made.append(built)
        return built

    yield build
    for built in made:
        with built.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def session(app: Flask):  # type: ignore[no-untyped-def]
    """A session inside a pushed app context. Don't mix with test-client requests in one test:
    Flask reuses the pushed context for them, so `g` (and the logged-in user) would be shared."""
    with app.app_context():
        yield db.session


@pytest.fixture
def world(_database: Committed) -> World:
    """The two-county world of tests.factories, built once per group of tests; a copy, so a test may add ids."""
    assert _database.world is not None
    return copy.deepcopy(_database.world)


@pytest.fixture
def shop_world(_database: Committed) -> World:
    """The world with the shop of tests.factories_shop.add_shop (a product, a pending and an approved
    redemption), built once per group like the world."""
    assert _database.world is not None and "redemption:pending" in _database.world.ids
    return copy.deepcopy(_database.world)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class ApiClient:
    """A phone: JSON in and out against /api/mp/v1, with the bearer token of one user."""

    def __init__(self, client: FlaskClient, token: str | None) -> None:
        self.client = client
        self.token = token

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        headers.update(extra or {})
        return headers

    def get(self, path: str, **kwargs):  # type: ignore[no-untyped-def]
        return self.client.get(f"/api/mp/v1{path}", headers=self._headers(kwargs.pop("headers", None)), **kwargs)

    def post(self, path: str, json: object = None, **kwargs):  # type: ignore[no-untyped-def]
        return self.client.post(
            f"/api/mp/v1{path}", json=json, headers=self._headers(kwargs.pop("headers", None)), **kwargs
        )


@pytest.fixture
def api(app: Flask, world: World):  # type: ignore[no-untyped-def]
    """api("villager") → an ApiClient logged in as that world user (see tests.factories)."""

    def for_user(name: str | None) -> ApiClient:
        return ApiClient(app.test_client(), world.tokens[name] if name else None)

    return for_user


@pytest.fixture
def database(app: Flask) -> Callable[[], AbstractContextManager[Session]]:
    """`with database() as s:` seeds or reads in a short app context, committed on exit.

    Deliberately not the `session` fixture: that keeps an app context pushed for the whole test,
    so every request would share its `g` (and Flask-Login's cached user) with the requests
    before it, whichever client sent them.
    """

    @contextmanager
    def open_session() -> Iterator[Session]:
        with app.app_context():
            yield db.session
            db.session.commit()

    return open_session


@pytest.fixture
def with_password(database, world: World) -> Callable[..., str]:  # type: ignore[no-untyped-def]
    """with_password("town_admin") → gives that world user a password and returns their username."""

    def give(name: str, password: str = PASSWORD) -> str:
        with database() as s:
            user = s.get(User, world.ids[f"user:{name}"])
            user.password_hash = hash_password(password)
            return user.username

    return give


@pytest.fixture
def admin(app: Flask, with_password) -> Callable[[str], FlaskClient]:  # type: ignore[no-untyped-def]
    """admin("reviewer") → a browser signed in to the admin UI as that world user."""

    def sign_in(name: str) -> FlaskClient:
        client = app.test_client()
        response = post_login(client, with_password(name), PASSWORD)
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return sign_in


def pytest_configure(config: pytest.Config) -> None:
    # Admin passwords at argon2's lowest cost: production's 19 MiB per hash cost seconds over the suite's
    # sign-ins. Verification reads the cost from the hash, so the code under test is the same.
    passwords._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Grouped by what they start from, rolled-back tests first: the world is built once for all its
    # rolled-back tests, the demo county seeded once for all of its tests (last, since wiping it is slow).
    def group(item: pytest.Item) -> tuple[bool, bool, Baseline]:
        baseline = baseline_of(item)
        return baseline == Baseline.demo, needs_real_commits(item), baseline

    items.sort(key=group)
    if config.getoption("loadgroup", default=False):
        for item in items:
            if baseline_of(item) == Baseline.demo:
                _send_to_one_worker(item, "demo")
    if REDIS_URL:
        return
    required = os.environ.get("XZ_REQUIRE_REDIS") == "1"
    for item in items:
        if "redis" in item.keywords:
            if required:
                raise pytest.UsageError("XZ_REQUIRE_REDIS=1 but REDIS_URL is not set")
            item.add_marker(pytest.mark.skip(reason="needs REDIS_URL (a real Redis server)"))


def _send_to_one_worker(item: pytest.Item, name: str) -> None:
    """pytest-xdist's `--dist loadgroup` sends the tests whose node id ends in `@name` to one worker: the demo
    county is then seeded once. Its xdist_group mark would set `item._nodeid`, which pytest 9 no longer reads
    (the id is `item._id`), so the suffix is set here; drop this once pytest-xdist follows pytest 9."""
    item._id = NodeId.parse(f"{item.nodeid}@{name}")  # type: ignore[attr-defined]
