"""Production refuses unsafe settings; the embedded default runs unconfigured."""

from __future__ import annotations

import base64
import os

import pytest

from backend.config import ConfigError, load_config

GOOD_KEY = base64.urlsafe_b64encode(os.urandom(32)).decode()


@pytest.fixture
def production_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XZ_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "a-real-secret")
    monkeypatch.setenv("XZ_DATA_KEY", GOOD_KEY)
    monkeypatch.setenv("DATABASE_URL", "postgresql://xz@db.internal/xiangzhi")
    monkeypatch.setenv("REDIS_URL", "redis://redis.internal:6379/0")
    monkeypatch.setenv("WECHAT_APPID", "wx1234567890abcdef")
    monkeypatch.setenv("WECHAT_SECRET", "appsecret")
    monkeypatch.delenv("XZ_DEV_LOGIN", raising=False)


def test_production_starts_with_secrets_and_postgresql(production_env) -> None:
    config = load_config()
    assert config["DEV_LOGIN_ENABLED"] is False
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")


@pytest.mark.parametrize(
    ("variable", "value", "complaint"),
    [
        ("SECRET_KEY", "", "SECRET_KEY"),
        ("XZ_DEV_LOGIN", "1", "dev login"),
        ("XZ_DATA_KEY", "", "XZ_DATA_KEY"),
        ("DATABASE_URL", "sqlite:////tmp/x.db", "PostgreSQL"),
        ("WECHAT_APPID", "", "WECHAT_APPID"),
        ("REDIS_URL", "", "REDIS_URL"),
    ],
)
def test_production_refuses_to_start_unsafely(production_env, monkeypatch, variable, value, complaint) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=complaint):
        load_config()


def test_development_defaults_need_no_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("XZ_ENV", "SECRET_KEY", "XZ_DATA_KEY", "DATABASE_URL", "XZ_DEV_LOGIN", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    config = load_config()
    assert config["DEV_LOGIN_ENABLED"] is True
    assert config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert config["SQLALCHEMY_DATABASE_URI"].endswith("instance/xiangzhi.sqlite3")
    assert config["UPLOAD_DIR"].endswith("instance/uploads")
    assert config["RATELIMIT_STORAGE_URI"] == "memory://"


def test_behind_one_proxy_rate_limits_see_the_phones_address(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from flask import request

    from tests.conftest import make_test_app

    app = make_test_app(tmp_path, PROXY_HOPS=1)
    seen: dict[str, str] = {}

    @app.get("/_whoami")
    def whoami() -> str:
        seen["addr"], seen["scheme"] = request.remote_addr or "", request.scheme
        return "ok"

    app.test_client().get(
        "/_whoami", headers={"X-Forwarded-For": "10.1.2.3", "X-Forwarded-Proto": "https"}, base_url="http://localhost"
    )
    assert seen == {"addr": "10.1.2.3", "scheme": "https"}
