"""WeChat gateway: `jscode2session` over real HTTP, and a dev adapter for laptops and tests.

WeChat error codes are translated to ours here so nothing above knows WeChat's numbering.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

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
        try:
            response = requests.get(f"{self.base_url}/sns/jscode2session", params=params, timeout=self.timeout)
            response.raise_for_status()
            # WeChat answers JSON with a text/plain content type, so decode regardless of the header.
            body = response.json()
        except (requests.RequestException, ValueError) as exc:
            log.warning("jscode2session failed: %s", type(exc).__name__)
            raise WechatUnavailable() from exc
        errcode = int(body.get("errcode") or 0)
        if errcode:
            log.info("jscode2session errcode=%s", errcode)
            error = _ERRCODES.get(errcode, WechatUnavailable)
            if error is Forbidden:
                raise Forbidden("微信判定该账号存在风险，已拦截登录")
            raise error()
        if not body.get("openid") or not body.get("session_key"):
            raise WechatUnavailable()
        return WechatSession(openid=body["openid"], session_key=body["session_key"], unionid=body.get("unionid"))


class DevWechatGateway:
    """`dev:<username>` logs in as a seeded user; anything else is treated as a dev openid."""

    def code_to_session(self, code: str) -> WechatSession:
        return WechatSession(openid=f"dev-openid:{code}", session_key="dev-session-key")
