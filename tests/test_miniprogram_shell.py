"""The mini-program shell (miniprogram/): its sign-in, run in Node against a real server, opens the phone app
with a one-time ticket and never puts a token in a URL."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.factories import World

SHELL = Path(__file__).resolve().parent.parent / "miniprogram"
pytestmark = [
    pytest.mark.real_commits,  # the server answers from its own threads and connections
    pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js"),
]


@pytest.fixture
def server(app: Flask) -> Iterator[str]:
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}"
    http.shutdown()
    thread.join()


def sign_in(server: str, code: str) -> dict:
    done = subprocess.run(
        ["node", str(SHELL / "test" / "signin_cli.js"), server, code],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)


def test_the_shell_opens_the_phone_app_with_a_ticket_that_signs_the_villager_in_once(
    server: str, world: World, client
) -> None:
    opened = sign_in(server, "dev:t_villager")
    assert opened["url"].startswith(f"{server}/m/?ticket=")
    ticket = opened["url"].split("ticket=", 1)[1]
    every_url = " ".join([opened["url"], *(r["url"] for r in opened["requests"])])
    assert [r["url"].removeprefix(server) for r in opened["requests"]] == [
        "/api/mp/v1/auth/login",
        "/api/mp/v1/auth/tickets",
    ]
    first = client.post("/api/mp/v1/auth/tickets/redeem", json={"ticket": ticket})
    assert first.status_code == 200 and first.json["user"]["household_id"] == world.ids["H1"]
    assert first.json["token"] not in every_url, "no token in any URL"
    assert client.post("/api/mp/v1/auth/tickets/redeem", json={"ticket": ticket}).status_code == 401


def test_a_refused_wechat_login_shows_a_chinese_message_and_opens_nothing(server: str, world: World) -> None:
    opened = sign_in(server, "dev:nobody-here")
    assert "url" not in opened
    assert opened["error"] and all(not ("a" <= ch.lower() <= "z") for ch in opened["error"]), opened["error"]
