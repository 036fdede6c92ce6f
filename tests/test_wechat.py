"""Logging in with WeChat: the jscode2session adapter against a real loopback HTTP server, end to end
through POST /api/mp/v1/auth/login, dev login, and the production guard against dev login."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from pytest_httpserver import HTTPServer
from sqlalchemy import func, select, text
from werkzeug import Request, Response

from backend.auth.models import Role, User
from backend.auth.wechat import HttpWechatGateway, WechatSession
from backend.config import ConfigError
from backend.db import db
from backend.errors import DomainError, Forbidden, RateLimited, WechatCodeInvalid, WechatUnavailable

APPID = "wx0123456789abcdef"
SECRET = "app-secret-never-logged"
PATH = "/sns/jscode2session"
LOGIN = "/api/mp/v1/auth/login"
SESSION_KEY = "tiihtNczf5v6AKRyjwEUhQ=="


def expected_query(code: str) -> dict[str, str]:
    return {"appid": APPID, "secret": SECRET, "js_code": code, "grant_type": "authorization_code"}


def expect(httpserver: HTTPServer, code: str):  # type: ignore[no-untyped-def]
    """A jscode2session handler that only answers the exact query WeChat documents."""
    return httpserver.expect_request(PATH, method="GET", query_string=expected_query(code))


def gateway_for(httpserver: HTTPServer, timeout: float = 2.0) -> HttpWechatGateway:
    return HttpWechatGateway(httpserver.url_for("/"), APPID, SECRET, timeout=timeout)


@pytest.fixture
def httpserver(make_httpserver: HTTPServer) -> Iterator[HTTPServer]:
    """The plugin's fake server, plus: any request no handler matched (wrong path or params) fails the
    test, even where the gateway's answer to it (503) would look the same as the expected one."""
    make_httpserver.clear()
    yield make_httpserver
    try:
        make_httpserver.check_assertions()
    finally:
        make_httpserver.clear()


def free_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the adapter ---------------------------------------------------------------------------------


def test_code_with_unionid_yields_openid_session_key_and_unionid(httpserver: HTTPServer) -> None:
    expect(httpserver, "code-1").respond_with_json({"openid": "o-1", "session_key": SESSION_KEY, "unionid": "u-1"})

    session = gateway_for(httpserver).code_to_session("code-1")

    assert session == WechatSession(openid="o-1", session_key=SESSION_KEY, unionid="u-1")


def test_success_without_any_errcode_field_logs_in(httpserver: HTTPServer) -> None:
    expect(httpserver, "code-2").respond_with_json({"openid": "o-2", "session_key": SESSION_KEY})

    session = gateway_for(httpserver).code_to_session("code-2")

    assert session == WechatSession(openid="o-2", session_key=SESSION_KEY, unionid=None)


def test_errcode_zero_with_openid_logs_in(httpserver: HTTPServer) -> None:
    expect(httpserver, "code-3").respond_with_json(
        {"errcode": 0, "errmsg": "ok", "openid": "o-3", "session_key": SESSION_KEY}
    )

    assert gateway_for(httpserver).code_to_session("code-3").openid == "o-3"


def test_wechat_answer_sent_as_text_plain_still_parses(httpserver: HTTPServer) -> None:
    body = json.dumps({"openid": "o-4", "session_key": SESSION_KEY})
    expect(httpserver, "code-4").respond_with_data(body, content_type="text/plain")

    assert gateway_for(httpserver).code_to_session("code-4").openid == "o-4"


@pytest.mark.parametrize(
    ("errcode", "error", "code", "status"),
    [
        (40029, WechatCodeInvalid, "wechat_code_invalid", 401),
        (40163, WechatCodeInvalid, "wechat_code_invalid", 401),
        (45011, RateLimited, "rate_limited", 429),
        (40226, Forbidden, "forbidden", 403),
        (-1, WechatUnavailable, "wechat_unavailable", 503),
        (61234, WechatUnavailable, "wechat_unavailable", 503),  # a code WeChat may add tomorrow
        ("40029", WechatCodeInvalid, "wechat_code_invalid", 401),  # numeric string
        ("busy", WechatUnavailable, "wechat_unavailable", 503),
    ],
)
def test_wechat_errcodes_become_our_errors(
    httpserver: HTTPServer, errcode: object, error: type[DomainError], code: str, status: int
) -> None:
    expect(httpserver, "bad").respond_with_json({"errcode": errcode, "errmsg": "from wechat"})

    with pytest.raises(error) as raised:
        gateway_for(httpserver).code_to_session("bad")

    assert (raised.value.code, raised.value.status) == (code, status)


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ("<html>502 Bad Gateway</html>", "text/html", 200),
        ("", "text/plain", 200),
        ("[]", "application/json", 200),
        ('"ok"', "application/json", 200),
        ('{"openid": "o-5"}', "application/json", 200),  # no session_key
        ('{"session_key": "k"}', "application/json", 200),  # no openid
        ('{"openid": 5, "session_key": "k"}', "application/json", 200),
        ('{"openid": "o-5", "session_key": "k"}', "application/json", 500),
    ],
    ids=["html", "empty", "list", "string", "no-session-key", "no-openid", "numeric-openid", "http-500"],
)
def test_garbled_answer_is_wechat_unavailable(
    httpserver: HTTPServer, body: str, content_type: str, status: int
) -> None:
    expect(httpserver, "code-5").respond_with_data(body, status=status, content_type=content_type)

    with pytest.raises(WechatUnavailable):
        gateway_for(httpserver).code_to_session("code-5")


def test_hung_wechat_fails_fast_with_wechat_unavailable(httpserver: HTTPServer) -> None:
    release = threading.Event()

    def hang(_request: Request) -> Response:
        release.wait(5)
        return Response(json.dumps({"openid": "late", "session_key": SESSION_KEY}), content_type="text/plain")

    expect(httpserver, "slow").respond_with_handler(hang)
    try:
        started = time.perf_counter()
        with pytest.raises(WechatUnavailable):
            gateway_for(httpserver, timeout=0.2).code_to_session("slow")
        elapsed = time.perf_counter() - started
    finally:
        release.set()
    assert elapsed < 1.0, f"took {elapsed:.2f}s with a 0.2s timeout"


def test_unreachable_wechat_fails_fast_with_wechat_unavailable() -> None:
    gateway = HttpWechatGateway(f"http://127.0.0.1:{free_port()}", APPID, SECRET, timeout=0.2)

    started = time.perf_counter()
    with pytest.raises(WechatUnavailable):
        gateway.code_to_session("code-6")
    assert time.perf_counter() - started < 1.0


# --- end to end through POST /api/mp/v1/auth/login -----------------------------------------------


@pytest.fixture
def wechat_app(make_app: Callable[..., Flask], httpserver: HTTPServer) -> Flask:
    return make_app(
        WECHAT_APPID=APPID, WECHAT_SECRET=SECRET, WECHAT_API_BASE=httpserver.url_for("/"), WECHAT_TIMEOUT=0.5
    )


def raw_session_key(app: Flask, openid: str) -> bytes:
    with app.app_context():
        value = db.session.execute(
            text("SELECT wechat_session_key FROM user_account WHERE wechat_openid = :openid"), {"openid": openid}
        ).scalar_one()
        db.session.remove()
    return bytes(value)


def test_first_wechat_login_creates_unbound_villager_and_hides_session_key(
    wechat_app: Flask, httpserver: HTTPServer
) -> None:
    expect(httpserver, "first").respond_with_json({"openid": "o-new", "session_key": SESSION_KEY, "unionid": "u-new"})
    client = wechat_app.test_client()

    response = client.post(LOGIN, json={"code": "first"})

    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["user"]["role"] == "villager"
    assert body["user"]["household_id"] is None
    assert body["token"]
    assert SESSION_KEY not in response.get_data(as_text=True)
    me = client.get("/api/mp/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    assert me.get_json()["id"] == body["user"]["id"]
    assert SESSION_KEY not in me.get_data(as_text=True)

    stored = raw_session_key(wechat_app, "o-new")
    assert SESSION_KEY.encode() not in stored
    with wechat_app.app_context():
        user = db.session.scalar(select(User).where(User.wechat_openid == "o-new"))
        assert user is not None
        assert (user.role, user.household_id, user.wechat_session_key) == (Role.villager, None, SESSION_KEY)
        db.session.remove()


def test_second_wechat_login_with_same_openid_returns_same_user(wechat_app: Flask, httpserver: HTTPServer) -> None:
    expect(httpserver, "one").respond_with_json({"openid": "o-same", "session_key": "key-one"})
    expect(httpserver, "two").respond_with_json({"openid": "o-same", "session_key": "key-two"})
    client = wechat_app.test_client()

    first = client.post(LOGIN, json={"code": "one"})
    second = client.post(LOGIN, json={"code": "two"})

    assert (first.status_code, second.status_code) == (200, 200), first.get_data(as_text=True)
    assert second.get_json()["user"]["id"] == first.get_json()["user"]["id"]
    assert second.get_json()["token"] != first.get_json()["token"]
    with wechat_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 1
        # The newest session_key replaces the old one (WeChat invalidates it on each login).
        assert db.session.scalar(select(User.wechat_session_key)) == "key-two"
        db.session.remove()
    assert b"key-two" not in raw_session_key(wechat_app, "o-same")


@pytest.mark.parametrize(
    ("answer", "status", "code"),
    [
        ({"errcode": 40029, "errmsg": "invalid code"}, 401, "wechat_code_invalid"),
        ({"errcode": 45011, "errmsg": "api minute-quota reach limit"}, 429, "rate_limited"),
        ({"errcode": 40226, "errmsg": "high risk user"}, 403, "forbidden"),
        ({"errcode": -1, "errmsg": "system error"}, 503, "wechat_unavailable"),
        ({"errcode": 99999, "errmsg": "who knows"}, 503, "wechat_unavailable"),
    ],
)
def test_refused_wechat_login_answers_envelope_and_creates_nobody(
    wechat_app: Flask, httpserver: HTTPServer, answer: dict, status: int, code: str
) -> None:
    expect(httpserver, "refused").respond_with_json(answer)

    response = wechat_app.test_client().post(LOGIN, json={"code": "refused"})

    assert response.status_code == status
    body = response.get_json()
    assert set(body) == {"code", "message"}
    assert body["code"] == code
    assert body["message"]
    with wechat_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 0
        db.session.remove()


def test_login_while_wechat_hangs_answers_503_quickly(make_app: Callable[..., Flask], httpserver: HTTPServer) -> None:
    release = threading.Event()

    def hang(_request: Request) -> Response:
        release.wait(5)
        return Response("{}", content_type="text/plain")

    expect(httpserver, "slow").respond_with_handler(hang)
    hung_app = make_app(
        WECHAT_APPID=APPID, WECHAT_SECRET=SECRET, WECHAT_API_BASE=httpserver.url_for("/"), WECHAT_TIMEOUT=0.2
    )
    try:
        started = time.perf_counter()
        response = hung_app.test_client().post(LOGIN, json={"code": "slow"})
        elapsed = time.perf_counter() - started
    finally:
        release.set()

    assert (response.status_code, response.get_json()["code"]) == (503, "wechat_unavailable")
    assert elapsed < 1.0, f"login took {elapsed:.2f}s with a 0.2s WeChat timeout"


def test_login_while_wechat_unreachable_answers_503(make_app: Callable[..., Flask]) -> None:
    down_app = make_app(
        WECHAT_APPID=APPID, WECHAT_SECRET=SECRET, WECHAT_API_BASE=f"http://127.0.0.1:{free_port()}", WECHAT_TIMEOUT=0.2
    )

    response = down_app.test_client().post(LOGIN, json={"code": "any"})

    assert (response.status_code, response.get_json()["code"]) == (503, "wechat_unavailable")


# --- dev login and the production guard ----------------------------------------------------------


def test_dev_login_logs_in_as_named_user_when_enabled(app: Flask, world) -> None:  # type: ignore[no-untyped-def]
    assert app.config["DEV_LOGIN_ENABLED"] is True

    response = app.test_client().post(LOGIN, json={"code": "dev:t_villager"})

    assert response.status_code == 200, response.get_data(as_text=True)
    user = response.get_json()["user"]
    assert (user["id"], user["household_id"]) == (world.ids["user:villager"], world.ids["H1"])


def test_dev_login_for_unknown_user_is_refused(app: Flask, world) -> None:  # type: ignore[no-untyped-def]
    response = app.test_client().post(LOGIN, json={"code": "dev:nobody"})

    assert (response.status_code, response.get_json()["code"]) == (401, "wechat_code_invalid")


def test_dev_login_is_refused_when_disabled(make_app: Callable[..., Flask], world) -> None:  # type: ignore[no-untyped-def]
    locked = make_app(DEV_LOGIN_ENABLED=False)

    response = locked.test_client().post(LOGIN, json={"code": "dev:t_villager"})

    assert response.status_code == 401
    assert response.get_json()["code"] == "wechat_code_invalid"
    assert "token" not in response.get_json()


@pytest.mark.parametrize("dev_login", [True, False])
def test_production_refuses_to_start_with_dev_login(app: Flask, tmp_path: Path, dev_login: bool) -> None:
    from backend.app import create_app

    config = {
        "ENV_NAME": "production",
        "SECRET_KEY": "a-long-production-secret-0123456789",
        "DATA_KEY": app.config["DATA_KEY"],  # the key is process-wide: keep the test suite's
        "SQLALCHEMY_DATABASE_URI": "postgresql://xz@127.0.0.1:1/xiangzhi",
        "DEV_LOGIN_ENABLED": dev_login,
        "WECHAT_APPID": "wx1234567890abcdef",
        "WECHAT_SECRET": "appsecret",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "RATELIMIT_STORAGE_URI": "memory://",
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "UPLOAD_DIR": str(tmp_path / "uploads"),
    }
    if dev_login:
        with pytest.raises(ConfigError, match="dev login"):
            create_app(config)
    else:
        assert create_app(config).config["DEV_LOGIN_ENABLED"] is False
