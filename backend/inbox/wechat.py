"""WeChat subscribe messages (订阅消息): the real HTTP adapter with a cached access token, and a dev adapter
that records what it would send. HTTP and errcode handling are the login gateway's (backend.auth.wechat).

Protocol: GET /cgi-bin/token?grant_type=client_credential&appid=&secret= → {access_token, expires_in};
POST /cgi-bin/message/subscribe/send?access_token= {touser, template_id, page, data} → {errcode, errmsg}.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from backend.auth.wechat import call_wechat, errcode_of
from backend.errors import WechatUnavailable

log = logging.getLogger(__name__)

# The access token was invalid (40001, e.g. replaced by a fetch elsewhere) or expired (42001): fetch anew.
TOKEN_ERRCODES = frozenset({40001, 42001})
USER_REFUSED = 43101  # the user has not subscribed (or used up the one-time subscription)
# Refresh this long before WeChat's stated expiry, so a token never dies between check and use.
EXPIRY_MARGIN_S = 300


class SendOutcome(enum.StrEnum):
    sent = "sent"
    refused = "refused"


@dataclass(frozen=True)
class SubscribeMessage:
    openid: str
    template_id: str
    page: str
    data: dict[str, dict[str, str]]


class SubscribeSender(Protocol):
    def send(self, message: SubscribeMessage) -> SendOutcome: ...


class HttpSubscribeSender:
    """One per process: the access token is cached (thread-safe) until shortly before it expires."""

    def __init__(self, base_url: str, appid: str, secret: str, timeout: float = 3.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.appid = appid
        self.secret = secret
        self.timeout = timeout
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0

    def access_token(self, *, refresh: bool = False) -> str:
        with self._lock:
            if refresh or self._token is None or time.monotonic() >= self._expires_at:
                self._token, self._expires_at = self._fetch_token()
            return self._token

    def _fetch_token(self) -> tuple[str, float]:
        params = {"grant_type": "client_credential", "appid": self.appid, "secret": self.secret}
        body = call_wechat("GET", f"{self.base_url}/cgi-bin/token", self.timeout, params=params)
        token, expires_in = body.get("access_token"), body.get("expires_in")
        if errcode_of(body) or not isinstance(token, str) or not token or not isinstance(expires_in, int):
            log.warning("cgi-bin/token errcode=%s", errcode_of(body))
            raise WechatUnavailable()
        return token, time.monotonic() + max(0, expires_in - EXPIRY_MARGIN_S)

    def send(self, message: SubscribeMessage) -> SendOutcome:
        """Sent, or refused by the user (final); WechatUnavailable for anything worth retrying later."""
        payload = {
            "touser": message.openid,
            "template_id": message.template_id,
            "page": message.page,
            "data": message.data,
        }
        for refresh in (False, True):
            params = {"access_token": self.access_token(refresh=refresh)}
            body = call_wechat(
                "POST", f"{self.base_url}/cgi-bin/message/subscribe/send", self.timeout, params=params, json=payload
            )
            errcode = errcode_of(body)
            if errcode == 0:
                return SendOutcome.sent
            if errcode == USER_REFUSED:
                return SendOutcome.refused
            if errcode not in TOKEN_ERRCODES:
                log.warning("subscribe/send errcode=%s", errcode)
                raise WechatUnavailable()
        log.warning("subscribe/send: access token refused twice")
        raise WechatUnavailable()


@dataclass
class DevSubscribeSender:
    """Laptops and tests: records each message instead of sending it."""

    sent: list[SubscribeMessage] = field(default_factory=list)

    def send(self, message: SubscribeMessage) -> SendOutcome:
        self.sent.append(message)
        log.info("dev subscribe message to %s… template %s", message.openid[:6], message.template_id)
        return SendOutcome.sent


def sender_from_config(config: dict[str, Any]) -> SubscribeSender:
    """Like the login gateway: the real adapter once a mini-program AppID is configured."""
    if not config["WECHAT_APPID"]:
        return DevSubscribeSender()
    return HttpSubscribeSender(
        config["WECHAT_API_BASE"], config["WECHAT_APPID"], config["WECHAT_SECRET"], config["WECHAT_TIMEOUT"]
    )
