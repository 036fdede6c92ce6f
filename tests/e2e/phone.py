"""What the real-browser tests share: the server they talk to, and the moves of a thumb on the phone app."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import requests
from flask import Flask
from playwright.sync_api import Locator, Page, expect
from sqlalchemy.orm import Session

from tests.photo_corpus import encode, scene

# The `database` fixture of tests/conftest.py: `with database() as session:` commits on exit.
Database = Callable[[], AbstractContextManager[Session]]


@dataclass
class Server:
    """The app on a loopback port, and the app object serving it (its jobs go to Redis when REDIS_URL is set)."""

    url: str
    app: Flask

    def call(self, method: str, path: str, token: str | None, json: object = None) -> Any:
        """A JSON call to /api/mp/v1 as another phone would make it (the reviewer's, say); fails on an error."""
        response = requests.request(
            method,
            f"{self.url}/api/mp/v1{path}",
            headers={"Authorization": f"Bearer {token}"} if token else {},
            json=json,
            timeout=30,
        )
        assert response.ok, f"{method} {path}: {response.status_code} {response.text}"
        return response.json()


def tab(page: Page, name: str) -> None:
    """Tap a tab: of the tab bar (首页, 积分超市, 消息, 我的) or of a screen (商品, 我的兑换)."""
    # 消息's name starts with its unread count while there is one ("2 消息").
    page.get_by_role("tab", name=re.compile(rf"^(\d+ )?{name}$")).click()


def back(page: Page) -> None:
    # Vant's nav bar draws 返回 as a plain <div>, not a button: found by its text.
    page.get_by_text("返回", exact=True).click()


def shows_balance(page: Page, points: int) -> None:
    """首页 shows the family's balance in its 我家积分 card."""
    expect(page.get_by_role("region", name="我家积分")).to_contain_text(re.compile(rf"我家可用积分\s*{points}\s*分"))


def take_photo(page: Page, within: Locator | None = None, *, seed: int = 1) -> None:
    """Tap 拍照 (of the form, or of the card `within`) and hand the camera's picture to the file chooser: a
    2000×1500 JPEG as a phone takes it. Waits until the shrunk photo shows among the ones to send."""
    place = within or page
    shown = place.get_by_role("img", name=re.compile(r"^第 \d+ 张照片$")).count()
    with page.expect_file_chooser() as chooser:
        place.get_by_role("button", name="拍照").click()
    picture = encode(scene(seed, (2000, 1500)), "JPEG")
    chooser.value.set_files({"name": f"IMG_{seed:04d}.jpg", "mimeType": "image/jpeg", "buffer": picture})
    expect(place.get_by_role("img", name=f"第 {shown + 1} 张照片")).to_be_visible()
