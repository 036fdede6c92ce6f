"""Layered fixtures: app → clean database per test → a small two-county world → API clients.

TEST_DATABASE_URL picks the database (default: a SQLite file); REDIS_URL enables the tests
that need a real Redis and RQ worker (XZ_REQUIRE_REDIS=1 makes their absence a failure).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from backend.app import create_app
from backend.auth.models import User
from backend.auth.passwords import hash_password
from backend.db import db, unit_of_work
from backend.extensions import limiter
from backend.org.demo import DemoSummary, demo_county_exists, seed_demo_county
from tests.admin_helpers import PASSWORD, post_login
from tests.factories import World, build_world

REDIS_URL = os.environ.get("REDIS_URL", "")


def _database_url(tmp: Path) -> str:
    return os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp / 'test.sqlite3'}"


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
        db.drop_all()
        db.engine.dispose()


def wipe(app: Flask) -> None:
    with app.app_context():
        tables = db.metadata.sorted_tables
        # DELETE beats TRUNCATE on a handful of rows (TRUNCATE rewrites every table's files).
        with db.engine.begin() as conn:
            for table in reversed(tables):
                conn.execute(table.delete())
        db.session.remove()
    # Rate-limit counters are keyed by user id, and ids are reused after a wipe.
    limiter.reset()


@pytest.fixture(autouse=True)
def _clean_database(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "app" in request.fixturenames and "demo_county" not in request.fixturenames:
        wipe(request.getfixturevalue("app"))


_DEMO: list[DemoSummary] = []


@pytest.fixture
def demo_county(app: Flask) -> DemoSummary:
    """The demo county (`flask seed-demo`), seeded once per run and shared: seeding it takes seconds.

    Tests that use it are moved to the end of the run (see pytest_collection_modifyitems) and are
    not wiped after, so each finds the county the first one seeded. They may read anything, and
    write only what no other demo test reads. Returns the summary of that one seeding.
    """
    with app.app_context():
        if not demo_county_exists(db.session):
            with unit_of_work(db.session) as session:
                _DEMO[:] = [seed_demo_county(session, app.instance_path)]
        db.session.remove()
    return _DEMO[0]


@pytest.fixture
def make_app(app: Flask, tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """Another app with other settings on the session app's database (its schema, its per-test wipe)."""
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
def world(app: Flask) -> World:
    with app.app_context():
        built = build_world(db.session)
        db.session.commit()
        return built


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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The demo county's tests last, together: it is seeded once for all of them.
    items.sort(key=lambda item: "demo_county" in getattr(item, "fixturenames", ()))
    if REDIS_URL:
        return
    required = os.environ.get("XZ_REQUIRE_REDIS") == "1"
    for item in items:
        if "redis" in item.keywords:
            if required:
                raise pytest.UsageError("XZ_REQUIRE_REDIS=1 but REDIS_URL is not set")
            item.add_marker(pytest.mark.skip(reason="needs REDIS_URL (a real Redis server)"))
