"""The household inbox on the phone, and WeChat subscribe messages against a fake WeChat speaking the real protocol."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from flask import Flask
from pytest_httpserver import HTTPServer
from sqlalchemy import select

from backend.auth.models import User
from backend.db import db
from backend.errors import WechatUnavailable
from backend.inbox.models import Notification, PushStatus
from backend.inbox.service import PushSettings, deliver, notify, push_settings, retry_pending_pushes
from backend.inbox.wechat import DevSubscribeSender, HttpSubscribeSender, SendOutcome, SubscribeMessage
from backend.timeutil import now_utc
from tests.test_jobs import queue_name, redis_app  # noqa: F401  (fixtures)

APPID = "wx0123456789abcdef"
SECRET = "app-secret-never-logged"
TEMPLATE = "tpl-notice-1"
TOKEN_QUERY = {"grant_type": "client_credential", "appid": APPID, "secret": SECRET}
SEND = "/cgi-bin/message/subscribe/send"
MESSAGE = SubscribeMessage("o-villager", TEMPLATE, "pages/inbox/index?id=1", {"thing1": {"value": "积分申报已通过"}})


@pytest.fixture
def httpserver(make_httpserver: HTTPServer) -> Iterator[HTTPServer]:
    """Any request no handler expected (a second token fetch, a retried refusal) fails the test."""
    make_httpserver.clear()
    yield make_httpserver
    try:
        make_httpserver.check_assertions()
    finally:
        make_httpserver.clear()


def sender_for(httpserver: HTTPServer) -> HttpSubscribeSender:
    return HttpSubscribeSender(httpserver.url_for("/"), APPID, SECRET, timeout=2.0)


def token_answer(httpserver: HTTPServer, token: str) -> None:
    httpserver.expect_ordered_request("/cgi-bin/token", method="GET", query_string=TOKEN_QUERY).respond_with_json(
        {"access_token": token, "expires_in": 7200}
    )


def send_answer(httpserver: HTTPServer, token: str, answer: dict) -> None:
    body = {"touser": MESSAGE.openid, "template_id": TEMPLATE, "page": MESSAGE.page, "data": MESSAGE.data}
    httpserver.expect_ordered_request(
        SEND, method="POST", query_string={"access_token": token}, json=body
    ).respond_with_json(answer)


def sends(httpserver: HTTPServer) -> int:
    return sum(1 for request, _response in httpserver.log if request.path == SEND)


# --- the adapter ---------------------------------------------------------------------------------


def test_access_token_is_fetched_once_and_reused_until_it_expires(httpserver: HTTPServer) -> None:
    token_answer(httpserver, "T1")
    send_answer(httpserver, "T1", {"errcode": 0, "errmsg": "ok"})
    send_answer(httpserver, "T1", {"errcode": 0, "errmsg": "ok"})
    sender = sender_for(httpserver)

    assert sender.send(MESSAGE) == SendOutcome.sent
    assert sender.send(MESSAGE) == SendOutcome.sent
    assert sends(httpserver) == 2


@pytest.mark.parametrize("errcode", [40001, 42001])
def test_an_invalid_or_expired_token_is_refreshed_once_and_the_message_sent(
    httpserver: HTTPServer, errcode: int
) -> None:
    token_answer(httpserver, "T1")
    send_answer(httpserver, "T1", {"errcode": errcode, "errmsg": "invalid credential"})
    token_answer(httpserver, "T2")
    send_answer(httpserver, "T2", {"errcode": 0, "errmsg": "ok"})

    assert sender_for(httpserver).send(MESSAGE) == SendOutcome.sent


def test_a_user_who_refused_is_not_retried(httpserver: HTTPServer) -> None:
    token_answer(httpserver, "T1")
    send_answer(httpserver, "T1", {"errcode": 43101, "errmsg": "user refuse to accept the msg"})

    assert sender_for(httpserver).send(MESSAGE) == SendOutcome.refused
    assert sends(httpserver) == 1


def test_other_wechat_errors_are_unavailable_so_the_job_retries(httpserver: HTTPServer) -> None:
    token_answer(httpserver, "T1")
    send_answer(httpserver, "T1", {"errcode": -1, "errmsg": "system error"})

    with pytest.raises(WechatUnavailable):
        sender_for(httpserver).send(MESSAGE)


def test_a_token_endpoint_error_is_unavailable(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/cgi-bin/token", query_string=TOKEN_QUERY).respond_with_json(
        {"errcode": 40125, "errmsg": "invalid appsecret"}
    )
    with pytest.raises(WechatUnavailable):
        sender_for(httpserver).send(MESSAGE)


# --- delivery after an approval, through the outbox ------------------------------------------------


@pytest.fixture
def wechat_app(make_app: Callable[..., Flask], httpserver: HTTPServer) -> Flask:
    return make_app(
        WECHAT_APPID=APPID,
        WECHAT_SECRET=SECRET,
        WECHAT_API_BASE=httpserver.url_for("/"),
        WECHAT_TIMEOUT=2.0,
        WECHAT_NOTICE_TEMPLATE_ID=TEMPLATE,
    )


def give_openid(app: Flask, world, name: str, openid: str) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        db.session.get_one(User, world.ids[f"user:{name}"]).wechat_openid = openid
        db.session.commit()


def push_status(app: Flask) -> list[PushStatus]:
    with app.app_context():
        statuses = list(db.session.scalars(select(Notification.push_status).order_by(Notification.id)))
        db.session.remove()
    return statuses


def test_an_approval_reaches_the_villagers_wechat_after_commit(wechat_app, httpserver, world) -> None:  # type: ignore[no-untyped-def]
    give_openid(wechat_app, world, "villager", "o-villager")
    httpserver.expect_ordered_request("/cgi-bin/token", query_string=TOKEN_QUERY).respond_with_json(
        {"access_token": "T1", "expires_in": 7200}
    )
    httpserver.expect_ordered_request(SEND, method="POST", query_string={"access_token": "T1"}).respond_with_json(
        {"errcode": 0, "errmsg": "ok"}
    )
    client = wechat_app.test_client()

    response = client.post(
        f"/api/mp/v1/review/claims/{world.ids['claim']}/approve",
        headers={"Authorization": f"Bearer {world.tokens['reviewer']}"},
    )

    assert response.status_code == 200
    assert push_status(wechat_app) == [PushStatus.sent]
    sent = next(request for request, _ in httpserver.log if request.path == SEND).get_json()
    assert (sent["touser"], sent["template_id"]) == ("o-villager", TEMPLATE)
    assert sent["data"]["thing1"]["value"] == "积分申报已通过"


def test_a_refusal_is_recorded_and_never_sent_again(wechat_app, httpserver, world) -> None:  # type: ignore[no-untyped-def]
    give_openid(wechat_app, world, "villager", "o-villager")
    httpserver.expect_ordered_request("/cgi-bin/token", query_string=TOKEN_QUERY).respond_with_json(
        {"access_token": "T1", "expires_in": 7200}
    )
    httpserver.expect_ordered_request(SEND, method="POST").respond_with_json({"errcode": 43101, "errmsg": "refuse"})
    with wechat_app.app_context():
        notification = notify(db.session, household_id=world.ids["H1"], kind="test", title="t", body="b")
        db.session.commit()
        settings = push_settings()
        assert deliver(db.session, notification.id, settings) == PushStatus.refused
        assert deliver(db.session, notification.id, settings) == PushStatus.refused  # no second request
        db.session.commit()
    assert sends(httpserver) == 1


def test_without_a_wechat_user_in_the_household_nothing_is_sent(app, world, database) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        notification = notify(db.session, household_id=world.ids["H2"], kind="test", title="t", body="b")
        sender = DevSubscribeSender()
        status = deliver(db.session, notification.id, PushSettings(sender, "tpl"))
        db.session.rollback()
    assert (status, sender.sent) == (PushStatus.no_recipient, [])


def test_the_dev_adapter_records_what_it_would_send(app, world) -> None:  # type: ignore[no-untyped-def]
    give_openid(app, world, "villager", "o-dev")
    with app.app_context():
        settings = push_settings()
        assert isinstance(settings.sender, DevSubscribeSender)
        before = len(settings.sender.sent)
        notification = notify(db.session, household_id=world.ids["H1"], kind="test", title="积分申报已通过", body="b")
        assert deliver(db.session, notification.id, settings) == PushStatus.sent
        db.session.rollback()
    recorded = settings.sender.sent[before:]
    assert [(m.openid, m.data["thing1"]["value"]) for m in recorded] == [("o-dev", "积分申报已通过")]


# --- the inbox API -----------------------------------------------------------------------------------


def test_the_inbox_lists_newest_first_with_an_unread_count_and_marks_read(api, world) -> None:  # type: ignore[no-untyped-def]
    reviewer = api("reviewer")
    assert reviewer.post(f"/review/claims/{world.ids['claim']}/approve").status_code == 200
    declared = api("villager").post(
        "/claims", json={"rule_item_id": world.ids["item:P06"], "occurred_on": "2025-01-02"}
    )
    assert declared.status_code == 201, declared.json
    reviewer.post(f"/review/claims/{declared.json['id']}/reject", json={"reason": "当天未召开会议"})

    inbox = api("villager").get("/notifications").json
    assert inbox["unread_count"] == 2
    assert [(n["kind"], n["read"]) for n in inbox["items"]] == [("claim_rejected", False), ("claim_approved", False)]
    assert "当天未召开会议" in inbox["items"][0]["body"]
    newest = inbox["items"][0]["id"]

    # Someone else's ids are ignored; one's own are marked.
    assert api("villager_neighbour").post("/notifications/read", json={"ids": [newest]}).json["unread_count"] == 0
    assert api("villager").post("/notifications/read", json={"ids": [newest]}).json["unread_count"] == 1
    assert api("villager").post("/notifications/read", json={}).json["unread_count"] == 0
    assert all(n["read"] for n in api("villager").get("/notifications").json["items"])


@pytest.mark.redis
def test_with_redis_the_push_runs_in_a_worker_process_after_commit(redis_app, queue_name, burst_worker, world) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    give_openid(redis_app, world, "villager", "o-worker")
    response = redis_app.test_client().post(
        f"/api/mp/v1/review/claims/{world.ids['claim']}/approve",
        headers={"Authorization": f"Bearer {world.tokens['reviewer']}"},
    )
    assert response.status_code == 200
    assert push_status(redis_app) == [PushStatus.pending]  # queued, not sent by the web process
    assert redis_app.extensions["xz_jobs"].queue.count == 1

    done = burst_worker.run(redis_app, queue_name)

    assert done.returncode == 0, done.stderr[-3000:]
    assert push_status(redis_app) == [PushStatus.sent]  # the worker's dev adapter (no AppID configured)


class FlakySender:
    """WeChat unavailable for the first `failures` sends, then fine."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.sent: list[SubscribeMessage] = []

    def send(self, message: SubscribeMessage) -> SendOutcome:
        if self.failures:
            self.failures -= 1
            raise WechatUnavailable()
        self.sent.append(message)
        return SendOutcome.sent


def test_pushes_left_pending_while_wechat_was_down_are_sent_by_the_retry_sweep(app, world) -> None:  # type: ignore[no-untyped-def]
    give_openid(app, world, "villager", "o-retry")
    with app.app_context():
        made = [
            notify(db.session, household_id=world.ids["H1"], kind="test", title=f"t{n}", body="b", ref_id=n)
            for n in range(3)
        ]
        made[0].created_at = made[1].created_at = now_utc() - timedelta(minutes=30)
        db.session.commit()

        down = FlakySender(failures=1)
        assert retry_pending_pushes(db.session, PushSettings(down, TEMPLATE)) == 0  # stops at the first failure
        back = FlakySender(failures=0)
        assert retry_pending_pushes(db.session, PushSettings(back, TEMPLATE)) == 2
        db.session.commit()
        assert [m.data["thing1"]["value"] for m in back.sent] == ["t0", "t1"]
        assert retry_pending_pushes(db.session, PushSettings(back, TEMPLATE)) == 0  # nothing sent twice
        db.session.rollback()
    assert push_status(app) == [PushStatus.sent, PushStatus.sent, PushStatus.pending]  # the young one waits


def test_the_schedule_runs_the_push_retry_sweep(app, world) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        notify(db.session, household_id=world.ids["H2"], kind="test", title="t", body="b").created_at = (
            now_utc() - timedelta(hours=1)
        )
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["schedule"])
    assert result.exit_code == 0, result.output
    assert "enqueued retry-pushes-" in result.output
    assert push_status(app) == [PushStatus.no_recipient]
