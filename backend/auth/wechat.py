"""WeChat gateway: `jscode2session` over real HTTP, and a dev adapter for laptops and tests.

WeChat error codes are translated to ours here so nothing above knows WeChat's numbering.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

import requests

from backend.errors import DomainError, Forbidden, RateLimited, WechatCodeInvalid, WechatUnavailable

log = logging.getLogger(__name__)

DEV_CODE_PREFIX = "dev:"


@dataclass(frozen=True)
class WechatSession:
    openid: str
    session_key: str
    unionid: str | None = None


class WechatGateway(Protocol):
    def code_to_session(self, code: str) -> WechatSession: ...


# errcode → our error. Documented codes of auth.code2Session.
_ERRCODES: dict[int, type[DomainError]] = {
    40029: WechatCodeInvalid,  # invalid js_code
    40163: WechatCodeInvalid,  # code already used
    45011: RateLimited,  # API minute-quota reached for this user
    40226: Forbidden,  # high-risk user, login blocked by WeChat
    -1: WechatUnavailable,  # system busy
}


class HttpWechatGateway:
    def __init__(self, base_url: str, appid: str, secret: str, timeout: float = 3.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.appid = appid
        self.secret = secret
        self.timeout = timeout

    def code_to_session(self, code: str) -> WechatSession:
        params = {"appid": self.appid, "secret": self.secret, "js_code": code, "grant_type": "authorization_code"}
        body = call_wechat("GET", f"{self.base_url}/sns/jscode2session", self.timeout, params=params)
        errcode = errcode_of(body)
        if errcode:
            log.info("jscode2session errcode=%s", errcode)
            error = _ERRCODES.get(errcode, WechatUnavailable)
            if error is Forbidden:
                raise Forbidden("微信判定该账号存在风险，已拦截登录")
            raise error()
        openid, session_key, unionid = body.get("openid"), body.get("session_key"), body.get("unionid")
        if not (openid and isinstance(openid, str) and session_key and isinstance(session_key, str)):
            log.warning("jscode2session answered without openid/session_key")
            raise WechatUnavailable()
        if not isinstance(unionid, str) or not unionid:
            unionid = None
        return WechatSession(openid=openid, session_key=session_key, unionid=unionid)


def call_wechat(method: str, url: str, timeout: float, **kwargs: Any) -> dict[str, Any]:
    """One call to a WeChat server API: a JSON object back, or WechatUnavailable (network, HTTP error,
    not JSON, not an object). Errcodes are the caller's to read with `errcode_of`. Never logs secrets."""
    name = url.rsplit("/", 1)[-1]
    try:
        response = requests.request(method, url, timeout=timeout, **kwargs)
        response.raise_for_status()
        # WeChat answers JSON with a text/plain content type, so decode regardless of the header.
        body = response.json()
    except (requests.RequestException, ValueError) as exc:
        log.warning("%s failed: %s", name, type(exc).__name__)
        raise WechatUnavailable() from exc
    if not isinstance(body, dict):
        log.warning("%s answered %s, not an object", name, type(body).__name__)
        raise WechatUnavailable()
    return body


def errcode_of(body: dict[str, Any]) -> int:
    return _errcode(body.get("errcode"))


def _errcode(value: object) -> int:
    """WeChat omits errcode on success, sends 0, or (rarely) a numeric string; anything else is a failure."""
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        return -1
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return -1


class DevWechatGateway:
    """`dev:<username>` logs in as a seeded user; anything else is treated as a dev openid."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def code_to_session(self, code: str) -> WechatSession:
        if not self.enabled:
            raise WechatUnavailable("未配置微信小程序登录")
        return WechatSession(openid=f"dev-openid:{code}", session_key="dev-session-key")
