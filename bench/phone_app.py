"""The phone app (/m/) on a slow phone: Debian's Chromium with Chromium's own emulation of a village network
(1.6 Mbps down, 750 kbps up, 150 ms round trip) and of a slow CPU (4×), against the app under gunicorn with
the demo county.

    python -m bench.phone_app [--runs 3]

Figures (issue 14), each the median of --runs, printed next to its target and to a baseline measured in the
same run where one makes sense:
- cold start: a phone that signed in before (token in localStorage) but has nothing cached, from navigation
  to the villager's balance on screen; baseline: the same with compression refused (Accept-Encoding: identity);
- warm start: the app opened again once its service worker has kept it; baseline: opened again with only the
  browser's HTTP cache (service workers blocked);
- JS + CSS bytes transferred for the cold start (on the wire: compressed, with headers); baseline: their
  decoded size, what an uncompressed server would send; plus what the service worker downloads after the
  first screen to keep the app for offline use (the .gz sizes of its list, from mobile/dist);
- API requests the home screen makes (until 1.5 s after the balance shows);
- the upload body (multipart) of a 4000×3000 camera photo picked in 写日纪实; baseline: the camera's file.
Database: BENCH_DATABASE_URL (its tables are dropped) or a temporary SQLite file.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import requests
from playwright.sync_api import Browser, BrowserContext, CDPSession, Page, sync_playwright
from sqlalchemy import select

from bench.points_read import free_port, start_gunicorn
from bench.uploads import phone_photo
from tests.e2e.conftest import CHROMIUM_ARGS, PHONE, chromium_executable, chromium_missing

DIST = Path(__file__).resolve().parent.parent / "mobile" / "dist"
SLOW_NETWORK = {
    "offline": False,
    "latency": 150,  # ms round trip
    "downloadThroughput": 1.6e6 / 8,  # bytes/s
    "uploadThroughput": 750e3 / 8,
}
CPU_SLOWDOWN = 4
# The balance in 首页's 我家积分 card; the time it appeared (performance.now(), ms since navigation).
BALANCE_SHOWN = """() => {
  const card = document.querySelector('section[aria-label="我家积分"] .amount')
  return card && /\\d/.test(card.textContent) ? performance.now() : false
}"""
API = "/api/mp/v1/"


@dataclass
class Load:
    """One page load: when the balance showed, and what went over the network."""

    shown_ms: float = 0.0
    api_requests: int = 0
    # Script and stylesheet bytes: on the wire (with headers) and decoded.
    wire: int = 0
    decoded: int = 0
    kinds: dict[str, str] = field(default_factory=dict)


def seed(url: str, instance: Path) -> dict[str, str]:
    """The demo county; a token for its first villager and its first cadre."""
    from backend.app import create_app
    from backend.auth.models import Role, User
    from backend.auth.service import issue_token
    from backend.db import db
    from backend.demo.county import seed_demo_county

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(instance), "REDIS_URL": ""})
    with app.app_context():
        db.drop_all()
        db.create_all()
        seed_demo_county(db.session, instance)
        tokens = {}
        for role in (Role.villager, Role.cadre):
            user = db.session.scalars(select(User).where(User.role == role).order_by(User.id)).first()
            tokens[role.value] = issue_token(db.session, user, timedelta(days=1)).token
        db.session.commit()
        db.engine.dispose()
    return tokens


@contextmanager
def served(url: str, instance: Path) -> Iterator[str]:
    env = {**os.environ, "DATABASE_URL": url, "XZ_INSTANCE_PATH": str(instance), "REDIS_URL": ""}
    env.pop("XZ_REQUIRE_REDIS", None)
    port = free_port()
    server = start_gunicorn("backend.app:create_app()", port, 2, env)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def signed_in(browser: Browser, base: str, token: str, **options: object) -> BrowserContext:
    """A phone on which this user signed in before: the token and the user in localStorage, nothing cached."""
    user = requests.get(f"{base}{API}me", headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
    context = browser.new_context(base_url=base, **PHONE, **options)
    context.add_init_script(
        f"localStorage.setItem('xz.token', {json.dumps(token)});"
        f"localStorage.setItem('xz.user', {json.dumps(json.dumps(user))});"
    )
    return context


def slow_phone(page: Page, *, identity: bool = False) -> CDPSession:
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", SLOW_NETWORK)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": CPU_SLOWDOWN})
    if identity:
        cdp.send("Network.setExtraHTTPHeaders", {"headers": {"Accept-Encoding": "identity"}})
    return cdp


def open_home(context: BrowserContext, *, identity: bool = False) -> Load:
    """Open 首页 on a new page of the context, on the slow phone; what it took."""
    page = context.new_page()
    cdp = slow_phone(page, identity=identity)
    load = Load()

    def received(event: dict) -> None:
        load.kinds[event["requestId"]] = event["type"]
        if API in event["response"]["url"]:
            load.api_requests += 1

    def chunk(event: dict) -> None:
        if load.kinds.get(event["requestId"]) in ("Script", "Stylesheet"):
            load.decoded += event["dataLength"]

    def finished(event: dict) -> None:
        if load.kinds.get(event["requestId"]) in ("Script", "Stylesheet"):
            load.wire += int(event["encodedDataLength"])

    cdp.on("Network.responseReceived", received)
    cdp.on("Network.dataReceived", chunk)
    cdp.on("Network.loadingFinished", finished)
    page.goto("/m/#/home", wait_until="commit")
    load.shown_ms = page.wait_for_function(BALANCE_SHOWN, polling="raf", timeout=60_000).json_value()
    page.wait_for_timeout(1500)  # any late request of the home screen still counts
    page.close()
    return load


def service_worker_ready(context: BrowserContext) -> None:
    """Wait until the service worker has installed (kept every file of its list) and is active."""
    page = context.new_page()
    page.goto("/m/#/home")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.close()


def precache_bytes() -> int:
    """What the service worker downloads after the first screen: its list, as the server sends it (gzip)."""
    kept = json.loads(re.search(r"const PRECACHE = (\[.*?\])", (DIST / "sw.js").read_text()).group(1))
    total = 0
    for url in kept:
        path = DIST / (url.removeprefix("/m/") or "index.html")
        zipped = path.with_name(path.name + ".gz")
        total += (zipped if zipped.is_file() else path).stat().st_size
    return total


# The multipart body of each form the page posts, serialized as the browser sends it (CDP and Playwright do
# not see a body built from a Blob).
FORM_BODIES = """{
  const send = window.fetch
  window.xzFormBodies = []
  window.fetch = async (input, init = {}) => {
    if (init.body instanceof FormData) xzFormBodies.push((await new Response(init.body).arrayBuffer()).byteLength)
    return send(input, init)
  }
}"""


def warm_up(base: str, token: str, rounds: int = 20) -> None:
    """A server in use has its workers warm: the first requests of a new worker are not what phones see."""
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(rounds):
        for path in ("points/summary", "notifications?limit=1", "me"):
            requests.get(f"{base}{API}{path}", headers=headers, timeout=30).raise_for_status()


def photo_upload(browser: Browser, base: str, token: str, photo: Path) -> int:
    """The body of the POST /uploads that 写日纪实 sends for a camera photo (bytes)."""
    context = signed_in(browser, base, token, service_workers="block")
    context.add_init_script(FORM_BODIES)
    page = context.new_page()
    page.goto("/m/#/records/new")
    page.locator("input[capture]").set_input_files(photo)
    page.get_by_role("img", name="第 1 张照片").wait_for(timeout=60_000)
    page.get_by_role("button", name="会议").click()
    page.get_by_label("做了什么").fill("测一张照片上传多大")
    page.get_by_label("地点").fill("村委会")
    with page.expect_response(lambda response: response.url.endswith(f"{API}uploads")):
        page.get_by_role("button", name="保存").click()
    [size] = page.evaluate("window.xzFormBodies")
    context.close()
    return size


def median(values: list[float]) -> float:
    return statistics.median(values)


def kb(size: float) -> str:
    return f"{size / 1000:.1f} KB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if not (DIST / "sw.js").is_file():
        raise SystemExit("mobile/dist has no build: cd mobile && npm ci && npm run build")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{tmp / 'bench.sqlite3'}"
        started = time.monotonic()
        tokens = seed(url, tmp)
        print(f"demo county seeded in {time.monotonic() - started:.0f} s")
        photo = tmp / "camera.jpg"
        photo.write_bytes(phone_photo(1))
        camera_file = photo.stat().st_size
        chromium = chromium_executable()
        if chromium is None:
            raise SystemExit(chromium_missing())
        with served(url, tmp) as base, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
            warm_up(base, tokens["villager"])
            cold, plain, warm, cached = [], [], [], []
            for _ in range(args.runs):
                context = signed_in(browser, base, tokens["villager"])
                cold.append(open_home(context))
                service_worker_ready(context)
                warm.append(open_home(context))
                context.close()
                context = signed_in(browser, base, tokens["villager"], service_workers="block")
                plain.append(open_home(context, identity=True))
                cached.append(open_home(context))
                context.close()
            upload = photo_upload(browser, base, tokens["cadre"], photo)
            browser.close()

    rows = [
        (
            "cold start to the balance",
            f"{median([x.shown_ms for x in cold]) / 1000:.2f} s",
            "≤ 3 s",
            f"{median([x.shown_ms for x in plain]) / 1000:.2f} s uncompressed",
        ),
        (
            "warm start (service worker)",
            f"{median([x.shown_ms for x in warm]) / 1000:.2f} s",
            "≤ 1 s",
            f"{median([x.shown_ms for x in cached]) / 1000:.2f} s with HTTP cache only",
        ),
        (
            "JS + CSS transferred, cold start",
            kb(median([x.wire for x in cold])),
            "≤ 150 KB",
            f"{kb(median([x.decoded for x in cold]))} uncompressed",
        ),
        ("  then kept by the service worker", kb(precache_bytes()), "", "after the first screen, once"),
        ("API requests for 首页", f"{max(x.api_requests for x in cold)}", "≤ 2", ""),
        ("4000×3000 photo sent as", kb(upload), "≤ 400 KB", f"{kb(camera_file)} camera file"),
    ]
    print(
        f"\nphone app on {SLOW_NETWORK['latency']} ms / 1.6 Mbps down / 750 kbps up, CPU {CPU_SLOWDOWN}× slower; "
        f"median of {args.runs} runs; host load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
        "(the CPU slowdown comes on top of it)\n"
    )
    print(f"{'figure':36} {'measured':>10}  {'target':9} baseline (same run)")
    for name, value, target, baseline in rows:
        print(f"{name:36} {value:>10}  {target:9} {baseline}")


if __name__ == "__main__":
    main()
