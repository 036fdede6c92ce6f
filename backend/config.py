"""Settings from the environment, with embedded defaults for a first run on a laptop.

Production (XZ_ENV=production) fails fast on anything that would be unsafe to default.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET = "dev-only-secret-do-not-use-in-production"


class ConfigError(RuntimeError):
    """Raised at startup when the environment is unsafe or incomplete."""


def _normalize_db_url(url: str) -> str:
    """Accept the plain `postgresql://` form operators write and use the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def load_config(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    env = os.environ
    overrides = overrides or {}
    environment = overrides.get("ENV_NAME") or env.get("XZ_ENV", "development")
    production = environment == "production"
    instance = Path(overrides.get("INSTANCE_PATH") or env.get("XZ_INSTANCE_PATH", PROJECT_ROOT / "instance"))

    secret = env.get("SECRET_KEY") or ("" if production else DEV_SECRET)
    data_key = env.get("XZ_DATA_KEY", "")
    if not data_key and not production:
        # Development only: a fixed key derived from the dev secret so a laptop run works unconfigured.
        data_key = base64.urlsafe_b64encode(hashlib.sha256(b"xiangzhi-dev-data-key").digest()).decode()

    config: dict[str, Any] = {
        "ENV_NAME": environment,
        "TESTING": False,
        "SECRET_KEY": secret,
        "INSTANCE_PATH": str(instance),
        "SQLALCHEMY_DATABASE_URI": _normalize_db_url(
            env.get("DATABASE_URL") or f"sqlite:///{instance / 'xiangzhi.sqlite3'}"
        ),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "UPLOAD_DIR": env.get("XZ_UPLOAD_DIR") or str(instance / "uploads"),
        # Photo uploads: limits checked before decoding; signed URLs valid PHOTO_URL_TTL seconds, stable
        # for PHOTO_URL_WINDOW seconds (cacheable); a font with Chinese glyphs for the 温馨照片 label.
        "PHOTO_MAX_BYTES": int(env.get("XZ_PHOTO_MAX_BYTES", str(15 * 1024 * 1024))),
        "PHOTO_MAX_PIXELS": int(env.get("XZ_PHOTO_MAX_PIXELS", "50000000")),
        "PHOTO_URL_TTL": int(env.get("XZ_PHOTO_URL_TTL", "7200")),
        "PHOTO_URL_WINDOW": int(env.get("XZ_PHOTO_URL_WINDOW", "900")),
        "PHOTO_LABEL_FONT": env.get("XZ_PHOTO_LABEL_FONT", ""),
        # Per user: a cadre's busy day is a few dozen photos; this stops a client filling the disk.
        "UPLOAD_RATE_LIMIT": env.get("XZ_UPLOAD_RATE_LIMIT", "30 per minute;600 per day"),
        "REDIS_URL": env.get("REDIS_URL", ""),
        # Reverse proxies in front of the app (nginx = 1): trust that many X-Forwarded-For/-Proto hops.
        "PROXY_HOPS": int(env.get("XZ_PROXY_HOPS", "0")),
        # Seconds: a dead or hung Redis must cost a request at most ~this, never a minute.
        "REDIS_SOCKET_TIMEOUT": float(env.get("XZ_REDIS_TIMEOUT", "0.3")),
        # Seconds: after Redis failed, a process pushes no jobs for this long (they wait in the outbox for
        # the sweep), so a hung Redis costs one socket timeout per cool-down, not one per write.
        "REDIS_COOL_DOWN": float(env.get("XZ_REDIS_COOL_DOWN", "30")),
        # Seconds a compile run may go without progress before the reconciler re-queues its unfinished towns:
        # longer than RQ's job timeout (180 s), so by then a town's job has finished or been killed. After
        # COMPILE_MAX_ATTEMPTS attempts (manual resumes included) the run is failed with the reason.
        "COMPILE_UNIT_TIMEOUT": int(env.get("XZ_COMPILE_UNIT_TIMEOUT", "300")),
        "COMPILE_MAX_ATTEMPTS": int(env.get("XZ_COMPILE_MAX_ATTEMPTS", "3")),
        # Seconds an Excel import may stay 检查中/导入中 without progress before the reconciler fails it: far
        # longer than RQ's job timeout (180 s), so its job is dead (or never ran) by then.
        "IMPORT_STALE_SECONDS": int(env.get("XZ_IMPORT_STALE_SECONDS", "900")),
        "DEV_LOGIN_ENABLED": _bool(env.get("XZ_DEV_LOGIN"), default=not production),
        "DATA_KEY": data_key,
        "TOKEN_TTL_DAYS": int(env.get("XZ_TOKEN_TTL_DAYS", "30")),
        # Days a cadre's phone may hold captured work (check-ins, records, visits, problem steps) before sending it.
        "CAPTURE_MAX_AGE_DAYS": int(env.get("XZ_CAPTURE_MAX_AGE_DAYS", "7")),
        # Seconds a one-time sign-in ticket (mini-program shell → H5 app) stays redeemable.
        "SIGNIN_TICKET_TTL": int(env.get("XZ_SIGNIN_TICKET_TTL", "60")),
        "WECHAT_APPID": env.get("WECHAT_APPID", ""),
        "WECHAT_SECRET": env.get("WECHAT_SECRET", ""),
        "WECHAT_API_BASE": env.get("WECHAT_API_BASE", "https://api.weixin.qq.com"),
        "WECHAT_TIMEOUT": float(env.get("WECHAT_TIMEOUT", "3")),
        # Subscribe-message template (thing1 title, thing2 detail, time3 time); empty: inbox only, no push.
        "WECHAT_NOTICE_TEMPLATE_ID": env.get("WECHAT_NOTICE_TEMPLATE_ID", ""),
        # Largest request body; JSON endpoints are capped lower per request.
        "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
        "API_JSON_MAX_BYTES": 64 * 1024,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Browsers refuse Secure cookies on plain-http dev servers other than localhost.
        "SESSION_COOKIE_SECURE": _bool(env.get("XZ_SECURE_COOKIES"), default=production),
        "REMEMBER_COOKIE_SECURE": _bool(env.get("XZ_SECURE_COOKIES"), default=production),
        "WTF_CSRF_TIME_LIMIT": None,
        "RATELIMIT_STORAGE_URI": env.get("XZ_RATELIMIT_STORAGE", ""),
        "RATELIMIT_HEADERS_ENABLED": True,
        # A failing store: the process counts in memory instead (the limits still hold, per process), and
        # Flask-Limiter pings the store 1, 2, 4 … 32 s apart, then from 1 s again, until it answers; each
        # ping costs a limited request at most one REDIS_SOCKET_TIMEOUT (RATELIMIT_STORAGE_OPTIONS below).
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "BIND_RATE_LIMIT": env.get("XZ_BIND_RATE_LIMIT", "5 per minute;30 per day"),
        "LOGIN_RATE_LIMIT": env.get("XZ_LOGIN_RATE_LIMIT", "30 per minute"),
        # Failed admin sign-ins per address (a success is not counted); each account name backs off on its own.
        "ADMIN_LOGIN_RATE_LIMIT": env.get("XZ_ADMIN_LOGIN_RATE_LIMIT", "20 per minute;100 per hour"),
        # flask-smorest / OpenAPI
        "API_TITLE": "乡治 Xiangzhi mini-program API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/mp/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        "OPENAPI_SWAGGER_UI_URL": "/api/mp/v1/static/swagger-ui/",
    }
    config.update(overrides)
    config["SQLALCHEMY_DATABASE_URI"] = _normalize_db_url(config["SQLALCHEMY_DATABASE_URI"])
    if not config["RATELIMIT_STORAGE_URI"]:
        config["RATELIMIT_STORAGE_URI"] = config["REDIS_URL"] or "memory://"
    if config["RATELIMIT_STORAGE_URI"].startswith("redis"):
        timeout = config["REDIS_SOCKET_TIMEOUT"]
        config.setdefault("RATELIMIT_STORAGE_OPTIONS", {"socket_timeout": timeout, "socket_connect_timeout": timeout})
    check_config(config)
    return config


def check_config(config: dict[str, Any]) -> None:
    """Refuse to start production with dev conveniences or missing secrets."""
    if config["ENV_NAME"] != "production":
        return
    problems = []
    if not config.get("SECRET_KEY") or config["SECRET_KEY"] == DEV_SECRET:
        problems.append("SECRET_KEY must be set")
    if config.get("DEV_LOGIN_ENABLED"):
        problems.append("dev login (XZ_DEV_LOGIN) must be off")
    if not config.get("DATA_KEY"):
        problems.append("XZ_DATA_KEY (base64 32-byte key for personal data) must be set")
    if not config.get("REDIS_URL"):
        problems.append("REDIS_URL must be set (background jobs run on RQ workers)")
    if not config.get("WECHAT_APPID") or not config.get("WECHAT_SECRET"):
        problems.append("WECHAT_APPID and WECHAT_SECRET must be set (mini-program login)")
    if config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        problems.append("DATABASE_URL must point to PostgreSQL")
    if problems:
        raise ConfigError("refusing to start in production: " + "; ".join(problems))
