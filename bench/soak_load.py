"""The soak test's load: a county's opening day of the 积分超市, played by threads with `requests`.

One thread per person, each with a think time between actions (exponential, mean per role):
- villagers read their points, ledger, shelf, redemptions and inbox; redeem goods and now and then cancel;
  file a claim with a photo;
- cadres upload a photo and check in (到岗) or write a daily record (日纪实) with it; read their records,
  attendance, coverage and problems; poll a photo until it is processed;
- village review panels approve (and sometimes reject) claims and redemptions and hand goods over against
  the pickup code;
- admins (web sessions) load the admin pages and export lists to Excel; the county admin starts the
  month's compile when the fault plan asks for it.

Every write a phone would retry carries an `Idempotency-Key` and is retried with the same key on an
ambiguous answer (no answer, a 5xx, a 429) as the phone app does, up to 6 times with back-off; its outcome
(accepted with the id, refused with the code, or unknown) is kept for the checks. One accepted write in
ten is replayed on purpose with its key, and must answer the same id.
"""

from __future__ import annotations

import io
import random
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import requests
from PIL import Image

API = "/api/mp/v1"
SHANGHAI = timezone(timedelta(hours=8))
ID_IN_PATH = re.compile(r"/(\d+|[0-9a-f]{32})(?=/|$)")
CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
TIMEOUT = 15
RETRIES = 6


@dataclass(frozen=True)
class Sample:
    at: float  # seconds since the load started
    kind: str  # "GET /points/summary"
    status: int  # 0: no answer
    error: str  # "" for 2xx/3xx, the envelope's code or the exception's name otherwise
    latency: float


@dataclass
class Write:
    kind: str
    user_id: int
    key: str
    outcome: str = "unknown"  # accepted | refused | unknown
    record_id: Any = None
    code: str = ""
    attempts: int = 0
    replay_ok: bool | None = None


@dataclass
class Recorder:
    started: float = field(default_factory=time.monotonic)
    samples: list[Sample] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)
    photos: list[str] = field(default_factory=list)  # ids of accepted uploads
    problems: list[str] = field(default_factory=list)

    def now(self) -> float:
        return time.monotonic() - self.started


def photo_jpegs(count: int = 8) -> list[bytes]:
    """Photo-like 1024×768 JPEGs (~100 KB): a smooth scene with sensor noise, each different."""
    out = []
    for seed in range(count):
        base = Image.frombytes("RGB", (8, 6), bytes((seed * 53 + i * 97) % 256 for i in range(144)))
        scene = base.resize((1024, 768), Image.Resampling.BICUBIC)
        noise = Image.effect_noise((1024, 768), 40).convert("RGB")
        buffer = io.BytesIO()
        Image.blend(scene, noise, 0.15).save(buffer, "JPEG", quality=85)
        out.append(buffer.getvalue())
    return out


class Client:
    """One person's connection to the server; every request is recorded."""

    def __init__(self, base: str, recorder: Recorder, username: str) -> None:
        self.base = base
        self.recorder = recorder
        self.username = username
        self.http = requests.Session()
        self.token = ""
        self.user_id = 0

    def call(self, kind: str, method: str, path: str, *, label: str | None = None, **kwargs: Any) -> tuple[int, Any]:
        headers = dict(kwargs.pop("headers", {}) or {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        started = time.monotonic()
        status, error, body = 0, "", None
        try:
            response = self.http.request(method, self.base + path, headers=headers, timeout=TIMEOUT, **kwargs)
            status = response.status_code
            if "json" in response.headers.get("Content-Type", ""):
                body = response.json()
            else:
                body = response.text if "text" in response.headers.get("Content-Type", "") else response.content
            if status >= 400:
                error = body.get("code", "?") if isinstance(body, dict) else f"http{status}"
        except requests.Timeout:
            error = "timeout"
        except requests.RequestException as exc:
            error = type(exc).__name__
        took = time.monotonic() - started
        self.recorder.samples.append(Sample(started - self.recorder.started, label or kind, status, error, took))
        return status, body

    def api(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        kind = f"{method} {ID_IN_PATH.sub('/<id>', path.split('?')[0])}"
        return self.call(kind, method, API + path, **kwargs)

    def login(self, code: str) -> None:
        for _ in range(30):
            status, body = self.api("POST", "/auth/login", json={"code": code})
            if status == 200:
                self.token, self.user_id = body["token"], body["user"]["id"]
                return
            time.sleep(1)
        raise RuntimeError(f"login {code} failed")

    def idempotent(self, kind: str, path: str, body: dict) -> Write:
        """A write a phone retries with the same key until it gets a definite answer."""
        write = Write(kind, self.user_id, uuid.uuid4().hex)
        for attempt in range(RETRIES):
            write.attempts = attempt + 1
            status, answer = self.api("POST", path, json=body, headers={"Idempotency-Key": write.key})
            if status in (200, 201):
                write.outcome, write.record_id = "accepted", answer.get("id")
                break
            if 400 <= status < 500 and status != 429:
                write.outcome, write.code = "refused", answer.get("code", "") if isinstance(answer, dict) else ""
                break
            time.sleep(min(8, 2**attempt) * random.uniform(0.5, 1.0))
        if write.outcome == "accepted" and random.random() < 0.1:
            status, answer = self.api("POST", path, json=body, headers={"Idempotency-Key": write.key})
            write.replay_ok = status in (200, 201) and answer.get("id") == write.record_id
        self.recorder.writes.append(write)
        return write

    def upload(self, photo: bytes) -> str | None:
        status, body = self.api("POST", "/uploads", files={"file": ("photo.jpg", photo, "image/jpeg")})
        if status == 201:
            self.recorder.photos.append(body["id"])
            return body["id"]
        return None


def today() -> str:
    return datetime.now(SHANGHAI).date().isoformat()


def pick(weights: dict[Callable[[], None], float]) -> Callable[[], None]:
    return random.choices(list(weights), list(weights.values()))[0]


class Person:
    think = 4.0

    def __init__(self, base: str, recorder: Recorder, username: str, photos: list[bytes]) -> None:
        self.client = Client(base, recorder, username)
        self.photos = photos
        self.recorder = recorder

    def setup(self) -> None:
        self.client.login(f"dev:{self.client.username}")

    def actions(self) -> dict[Callable[[], None], float]:
        raise NotImplementedError

    def run(self, stop: threading.Event) -> None:
        stop.wait(random.uniform(0, self.think))
        while not stop.is_set():
            try:
                pick(self.actions())()
            except Exception as exc:  # a bug in the driver, not in the server: keep it visible
                self.recorder.problems.append(f"{self.client.username}: {type(exc).__name__}: {exc}")
            stop.wait(random.expovariate(1 / self.think))


class Villager(Person):
    think = 4.0

    def __init__(self, *args: Any, binding_code: str | None = None) -> None:
        super().__init__(*args)
        self.binding_code = binding_code
        self.products: list[dict] = []
        self.rule_items: list[dict] = []

    def setup(self) -> None:
        if not self.binding_code:
            super().setup()
        else:  # a phone's first WeChat sign-in (the dev gateway's openid), then the card's binding code
            self.client.login(self.client.username)
            status, body = self.client.api("POST", "/auth/bind", json={"binding_code": self.binding_code})
            if status != 200:
                raise RuntimeError(f"bind {self.binding_code}: {status} {body}")
        status, body = self.client.api("GET", "/rules")
        # A villager declares only 正面清单 items (the others are recorded by cadres).
        self.rule_items = [i for i in body.get("items", []) if i["kind"] == "positive"] if status == 200 else []

    def actions(self) -> dict[Callable[[], None], float]:
        c = self.client
        return {
            lambda: c.api("GET", "/points/summary"): 4,
            lambda: c.api("GET", "/points/ledger?limit=20"): 3,
            self.shelf: 3,
            lambda: c.api("GET", "/shop/redemptions"): 1,
            lambda: c.api("GET", "/notifications"): 1,
            self.redeem: 2,
            self.cancel: 0.3,
            self.claim: 0.5,
        }

    def shelf(self) -> None:
        status, body = self.client.api("GET", "/shop/products")
        if status == 200:
            self.products = body["items"]

    def redeem(self) -> None:
        if not self.products:
            return self.shelf()
        product = random.choice(self.products)
        self.client.idempotent("redemption", "/shop/redemptions", {"product_id": product["id"], "quantity": 1})

    def cancel(self) -> None:
        status, body = self.client.api("GET", "/shop/redemptions?status=pending")
        if status == 200 and body["items"]:
            item = random.choice(body["items"])
            self.client.idempotent("cancel", f"/shop/redemptions/{item['id']}/cancel", {})

    def claim(self) -> None:
        if not self.rule_items:
            return
        photo = self.client.upload(random.choice(self.photos))
        item = random.choice(self.rule_items)
        body = {
            "rule_item_id": item["id"],
            "occurred_on": today(),
            "note": "压力测试申报",
            "photo_ids": [photo] if photo else [],
        }
        self.client.idempotent("claim", "/claims", body)


class Cadre(Person):
    think = 6.0

    def actions(self) -> dict[Callable[[], None], float]:
        c = self.client
        return {
            self.check_in: 1,
            self.daily_record: 2,
            lambda: c.api("GET", "/daily-records"): 2,
            lambda: c.api("GET", "/attendance"): 1,
            lambda: c.api("GET", "/visits/coverage"): 1,
            lambda: c.api("GET", "/problems"): 1,
            self.poll_photo: 1,
        }

    def check_in(self) -> None:
        photo = self.client.upload(random.choice(self.photos))
        body = {"lat": 33.6 + random.uniform(0, 0.1), "lng": 107.1 + random.uniform(0, 0.1), "accuracy": 15}
        self.client.idempotent("checkin", "/checkins", {**body, "photo_ids": [photo] if photo else []})

    def daily_record(self) -> None:
        photo = self.client.upload(random.choice(self.photos))
        body = {
            "date": today(),
            "category": random.choice(["visit", "meeting", "industry", "policy", "service"]),
            "content": "入户走访，了解生产生活情况（压力测试）",
            "place": "村委会",
            "photo_ids": [photo] if photo else [],
        }
        self.client.idempotent("daily_record", "/daily-records", body)

    def poll_photo(self) -> None:
        """Any recent upload, the cadre's own or not: another user's photo is refused (403 not_in_scope)."""
        if self.recorder.photos:
            self.client.api("GET", f"/uploads/{random.choice(self.recorder.photos[-50:])}")


class Reviewer(Person):
    think = 5.0

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.to_hand_over: list[tuple[int, str]] = []

    def actions(self) -> dict[Callable[[], None], float]:
        return {self.review_claims: 2, self.review_redemptions: 2, self.hand_over: 1}

    def review_claims(self) -> None:
        status, body = self.client.api("GET", "/review/claims")
        if status == 200:
            for claim in body["items"][:3]:
                if random.random() < 0.9:
                    self.client.api("POST", f"/review/claims/{claim['id']}/approve")
                else:
                    self.client.api("POST", f"/review/claims/{claim['id']}/reject", json={"reason": "证明材料不足"})

    def review_redemptions(self) -> None:
        status, body = self.client.api("GET", "/review/redemptions")
        if status != 200:
            return
        for item in body["items"][:3]:
            if random.random() < 0.9:
                status, answer = self.client.api("POST", f"/review/redemptions/{item['id']}/approve")
                if status == 200:
                    self.to_hand_over.append((answer["id"], answer["pickup_code"]))
            else:
                self.client.api("POST", f"/review/redemptions/{item['id']}/reject", json={"reason": "库存核对有误"})

    def hand_over(self) -> None:
        if self.to_hand_over:
            redemption_id, code = self.to_hand_over.pop(0)
            status, _ = self.client.api(
                "POST", f"/review/redemptions/{redemption_id}/hand-over", json={"pickup_code": code}
            )
            if status == 0 or status >= 500:
                self.to_hand_over.append((redemption_id, code))


class Admin(Person):
    """A web session; pages and exports as the admin's menu offers them."""

    think = 8.0
    PAGES = (
        "/admin/",
        "/admin/households",
        "/admin/shop/products",
        "/admin/shop/redemptions",
        "/admin/points/review",
        "/admin/points/overview",
        "/admin/daily-records",
        "/admin/attendance",
        "/admin/ratings/runs",
        "/admin/audit",
    )
    EXPORTS = (
        "/admin/shop/redemptions?format=xlsx",
        "/admin/daily-records?format=xlsx",
        "/admin/ratings/runs?format=xlsx",
    )

    def __init__(self, *args: Any, password: str) -> None:
        super().__init__(*args)
        self.password = password
        self.household_ids: list[int] = []

    def setup(self) -> None:
        c = self.client
        for _ in range(30):
            status, page = c.call("GET /admin/login", "GET", "/admin/login")
            match = CSRF_INPUT.search(page) if isinstance(page, str) else None
            if match:
                form = {"username": c.username, "password": self.password, "csrf_token": match.group(1)}
                status, _ = c.call("POST /admin/login", "POST", "/admin/login", data=form, allow_redirects=False)
                if status == 302:
                    return
            time.sleep(1)
        raise RuntimeError(f"admin login {c.username} failed")

    def page(self, path: str) -> tuple[int, Any]:
        kind = "GET " + ID_IN_PATH.sub("/<id>", path.split("?")[0]) + (" (xlsx)" if "xlsx" in path else "")
        return self.client.call(kind, "GET", path, allow_redirects=False)

    def actions(self) -> dict[Callable[[], None], float]:
        return {
            lambda: self.page(random.choice(self.PAGES)): 6,
            self.household_points: 2,
            lambda: self.page(random.choice(self.EXPORTS)): 1,
        }

    def household_points(self) -> None:
        if not self.household_ids:
            status, page = self.page("/admin/households")
            if status == 200:
                self.household_ids = sorted({int(i) for i in re.findall(r"/admin/households/(\d+)", page)})
        if self.household_ids:
            household = random.choice(self.household_ids)
            self.page(f"/admin/households/{household}/points?page={random.choice([1, 2])}")

    def start_compile(self) -> int:
        """The county admin's 发起汇总 on the runs page; the HTTP status."""
        status, page = self.page("/admin/ratings/runs")
        match = re.search(r'name="csrf-token" content="([^"]+)"', page) if isinstance(page, str) else None
        if not match:
            return status
        form = {"month": datetime.now(SHANGHAI).strftime("%Y-%m"), "csrf_token": match.group(1)}
        status, _ = self.client.call(
            "POST /admin/ratings/runs", "POST", "/admin/ratings/runs", data=form, allow_redirects=False
        )
        return status
