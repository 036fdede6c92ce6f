"""The phone app in a real browser: Debian's Chromium as a phone (Playwright, one browser per run) against the
Flask app on a loopback port; with REDIS_URL the server queues its jobs in Redis and a real RQ worker process
runs them, as in production. Without Chromium the tests skip, except in CI (CI=true), where that fails."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect, sync_playwright
from rq import Queue
from werkzeug.serving import make_server

from backend.db import db
from backend.timeutil import today_local
from tests.conftest import REDIS_URL, make_test_app
from tests.e2e.phone import Database, Server
from tests.factories import World
from tests.factories_points import record_and_approve
from tests.factories_shop import stock_shop
from tests.test_jobs import forget_queue
from tests.worker_process import PROJECT_ROOT, worker_env

# Debian's Chromium as Playwright runs it headless: the release's old headless shell (Debian's
# chromium-headless-shell, the build Playwright itself launches for headless runs; same Blink and V8, under half
# the CPU of the full browser on this project's 2-core machine), else the full `chromium`. XZ_E2E_CHROMIUM names
# another executable, e.g. /usr/bin/chromium to run the journeys in the full browser.
CHROMIUM_BUILDS = (Path("/usr/bin/chromium-headless-shell"), Path("/usr/bin/chromium"))
# Root needs --no-sandbox; the machine's network is closed, so Chromium must not try to phone home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
# A common Android phone inside WeChat, in a village of the test world.
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "zh-CN",
    "timezone_id": "Asia/Shanghai",
    "geolocation": {"latitude": 33.15, "longitude": 107.33},
    "permissions": ["geolocation"],
}
TIMEOUT_MS = 10_000


def chromium_builds() -> tuple[Path, ...]:
    chosen = os.environ.get("XZ_E2E_CHROMIUM")
    return (Path(chosen),) if chosen else CHROMIUM_BUILDS


def chromium_executable() -> Path | None:
    return next((path for path in chromium_builds() if path.exists()), None)


def chromium_missing() -> str:
    """What to say when chromium_executable() finds none: where it looked, and what to install."""
    looked = " or ".join(str(path) for path in chromium_builds())
    return f"needs Debian's Chromium at {looked} (apt-get install chromium-headless-shell fonts-noto-cjk)"


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    chromium = chromium_executable()
    if chromium is None:
        reason = chromium_missing()
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI: {reason}")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        expect.set_options(timeout=TIMEOUT_MS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def server(app: Flask, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Without Redis the session's app serves and runs jobs in-process; with it, a second app on the same
    database queues them in a queue of its own, and a `flask worker` process takes them from there."""
    served, worker, queue_name = app, None, ""
    if REDIS_URL:
        tmp = tmp_path_factory.mktemp("e2e")
        served = make_test_app(tmp, SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"], REDIS_URL=REDIS_URL)
        queue_name = f"xz-e2e-{uuid.uuid4().hex[:12]}"
        runtime = served.extensions["xz_jobs"]
        runtime.queue = Queue(queue_name, connection=runtime.redis)
        worker = subprocess.Popen(
            [sys.executable, "-m", "flask", "worker", "--queue", queue_name],
            cwd=PROJECT_ROOT,
            env=worker_env(served, tmp / "worker-instance"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    http = make_server("127.0.0.1", 0, served, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield Server(f"http://127.0.0.1:{http.server_port}", served)
    http.shutdown()
    thread.join()
    if worker is not None:
        worker.terminate()
        worker.wait(timeout=30)
        forget_queue(queue_name)
        with served.app_context():
            db.engine.dispose()


@pytest.fixture
def phone(browser: Browser, server: Server) -> Iterator[Page]:
    """A fresh phone (no stored sign-in) opening pages of the server."""
    context = browser.new_context(base_url=server.url, **PHONE)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    context.close()


@pytest.fixture
def open_app(phone: Page, server: Server) -> Callable[[str], Page]:
    """open_app(token) opens the app on the phone as the mini-program shell does: /m/?ticket=… with a one-time
    ticket of the token's user; returns the page."""

    def open_as(token: str) -> Page:
        ticket = server.call("POST", "/auth/tickets", token)["ticket"]
        phone.goto(f"/m/?ticket={ticket}")
        return phone

    return open_as


@pytest.fixture
def open_another_phone(browser: Browser, server: Server) -> Iterator[Callable[[str], Page]]:
    """open_another_phone(token): the app on a second phone (the review panel member's at the counter, say),
    signed in as the token's user the way open_app signs in; returns its page."""
    contexts = []

    def open_as(token: str) -> Page:
        context = browser.new_context(base_url=server.url, **PHONE)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(f"/m/?ticket={server.call('POST', '/auth/tickets', token)['ticket']}")
        return page

    yield open_as
    for context in contexts:
        context.close()


@pytest.fixture
def village(world: World, database: Database) -> World:
    """H1 and H2 of 青石村 each with an approved good deed of their own (拾金不昧, 应征入伍: +5, +10), and the
    village's supermarket stocked with rice (30 points a bag)."""
    with database() as session:
        record_and_approve(session, world, "H1", "P10", today_local())
        record_and_approve(session, world, "H2", "P19", today_local())
        stock_shop(session, world)
    return world
