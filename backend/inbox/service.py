"""Write to a household's inbox, read it, and push each message to WeChat. Producers (claims, shop,
monthly notice) call `notify` inside their own unit of work, so a message exists exactly when the change
it announces commits; its WeChat push is a job enqueued through the outbox in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from backend.auth.models import User
from backend.errors import WechatUnavailable
from backend.inbox.models import Notification, PushStatus
from backend.inbox.wechat import DevSubscribeSender, SendOutcome, SubscribeMessage, SubscribeSender, sender_from_config
from backend.jobs.outbox import enqueue_many
from backend.timeutil import now_utc, to_local

DELIVER_TASK = "inbox.deliver"
# The mini-program page a subscribe message opens.
INBOX_PAGE = "pages/inbox/index"


def notify(
    session: Session,
    *,
    household_id: int,
    kind: str,
    title: str,
    body: str,
    ref_type: str | None = None,
    ref_id: int | None = None,
    dedupe_key: str | None = None,
) -> Notification:
    """Add one message; a second call with the same dedupe key (default kind:ref) returns the first."""
    key = dedupe_key or _dedupe_key(kind, ref_type, ref_id, household_id)
    return notify_many(
        session, [household_id], kind=kind, title=title, body=body, ref_type=ref_type, ref_id=ref_id, dedupe_keys=[key]
    )[0]


def _dedupe_key(kind: str, ref_type: str | None, ref_id: int | None, household_id: int) -> str:
    return f"{kind}:{ref_type}:{ref_id}:{household_id}"


def notify_many(
    session: Session,
    household_ids: list[int],
    *,
    kind: str,
    title: str,
    body: str,
    ref_type: str | None = None,
    ref_id: int | None = None,
    dedupe_keys: list[str] | None = None,
) -> list[Notification]:
    """One message to each household, in three statements whatever their number (a survey tells its whole sample
    at once); households already told (same dedupe key) keep their first message, which is returned for them."""
    keys = dedupe_keys or [_dedupe_key(kind, ref_type, ref_id, h) for h in household_ids]
    existing = {n.dedupe_key: n for n in session.scalars(select(Notification).where(Notification.dedupe_key.in_(keys)))}
    new = {
        key: Notification(
            household_id=household_id,
            kind=kind,
            title=title[:60],
            body=body[:300],
            ref_type=ref_type,
            ref_id=ref_id,
            dedupe_key=key,
        )
        for household_id, key in zip(household_ids, keys, strict=True)
        if key not in existing
    }
    if new:
        session.add_all(new.values())
        session.flush()
        enqueue_many(
            session,
            DELIVER_TASK,
            [(f"inbox-deliver-{n.id}", {"notification_id": n.id}) for n in new.values()],
        )
    return [existing.get(key) or new[key] for key in keys]


def inbox_query(household_id: int) -> Select[tuple[Notification]]:
    return select(Notification).where(Notification.household_id == household_id)


def unread_count(session: Session, household_id: int) -> int:
    return (
        session.scalar(
            select(func.count(Notification.id)).where(
                Notification.household_id == household_id, Notification.read_at.is_(None)
            )
        )
        or 0
    )


def mark_read(session: Session, household_id: int, ids: list[int] | None) -> int:
    """Mark the household's messages read (all of them when `ids` is None); others' ids are ignored.
    Returns the unread count after."""
    stmt = update(Notification).where(Notification.household_id == household_id, Notification.read_at.is_(None))
    if ids is not None:
        stmt = stmt.where(Notification.id.in_(ids))
    session.execute(stmt.values(read_at=now_utc()).execution_options(synchronize_session=False))
    return unread_count(session, household_id)


@dataclass(frozen=True)
class PushSettings:
    sender: SubscribeSender
    template_id: str


def push_settings() -> PushSettings:
    """The process's sender (one per process: it caches the access token) and the template to use."""
    app = current_app
    sender = app.extensions.get("xz_subscribe_sender")
    if sender is None:
        sender = app.extensions["xz_subscribe_sender"] = sender_from_config(app.config)
    template = app.config["WECHAT_NOTICE_TEMPLATE_ID"]
    if not template and isinstance(sender, DevSubscribeSender):
        template = "dev-template"
    return PushSettings(sender, template)


def deliver(session: Session, notification_id: int, settings: PushSettings) -> PushStatus:
    """Send the message to every WeChat user of the household. A refusal (43101) is final and recorded;
    WechatUnavailable propagates so the job is retried. Already delivered messages are left alone."""
    # Row lock: a retry sweep and a queued job for the same message never both send it.
    notification = session.scalar(
        select(Notification)
        .where(Notification.id == notification_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if notification is None or notification.push_status != PushStatus.pending:
        return notification.push_status if notification else PushStatus.no_recipient
    openids = list(
        session.scalars(
            select(User.wechat_openid).where(
                User.household_id == notification.household_id,
                User.is_active.is_(True),
                User.wechat_openid.is_not(None),
            )
        )
    )
    if not settings.template_id:
        status = PushStatus.not_configured
    elif not openids:
        status = PushStatus.no_recipient
    else:
        outcomes = [settings.sender.send(_message(notification, openid, settings.template_id)) for openid in openids]
        status = PushStatus.sent if SendOutcome.sent in outcomes else PushStatus.refused
    notification.push_status = status
    notification.pushed_at = now_utc()
    session.flush()
    return status


def retry_pending_pushes(
    session: Session,
    settings: PushSettings,
    *,
    older_than: timedelta = timedelta(minutes=5),
    within: timedelta = timedelta(days=2),
    limit: int = 500,
) -> int:
    """Deliver messages whose push is still pending (WeChat was down when their job ran); run every few
    minutes. Stops at the first WechatUnavailable: WeChat is still down, the rest wait for the next run.
    Returns how many were settled."""
    now = now_utc()
    ids = session.scalars(
        select(Notification.id)
        .where(
            Notification.push_status == PushStatus.pending,
            Notification.created_at <= now - older_than,
            Notification.created_at >= now - within,
        )
        .order_by(Notification.id)
        .limit(limit)
    ).all()
    settled = 0
    for notification_id in ids:
        try:
            with session.begin_nested():
                deliver(session, notification_id, settings)
        except WechatUnavailable:
            break
        settled += 1
    return settled


def _message(notification: Notification, openid: str, template_id: str) -> SubscribeMessage:
    """A generic 'notice' template: thing1 title, thing2 detail, time3 time (thing fields take ≤ 20 chars)."""
    return SubscribeMessage(
        openid=openid,
        template_id=template_id,
        page=f"{INBOX_PAGE}?id={notification.id}",
        data={
            "thing1": {"value": notification.title[:20]},
            "thing2": {"value": notification.body[:20]},
            "time3": {"value": f"{to_local(notification.created_at):%Y-%m-%d %H:%M}"},
        },
    )
