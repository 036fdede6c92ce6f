"""Write to an inbox (a household's, or a resident cadre's), read it, and push each message to WeChat. Producers
(claims, shop, monthly notice, surveys; leave decisions and problems for cadres) call `notify` inside their own
unit of work, so a message exists exactly when the change it announces commits; its WeChat push is a job enqueued
through the outbox in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import ColumnElement, Select, func, select, update
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


@dataclass(frozen=True)
class Inbox:
    """Whose messages: a household's, read by every villager bound to it, or one resident cadre's."""

    household_id: int | None = None
    cadre_id: int | None = None

    def __post_init__(self) -> None:
        if (self.household_id is None) == (self.cadre_id is None):
            raise ValueError("an inbox is a household's or a cadre's")

    @property
    def key(self) -> str:
        """The inbox in a dedupe key: a household's id as it always was, or cadre<id>."""
        return str(self.household_id) if self.household_id is not None else f"cadre{self.cadre_id}"

    def holds(self) -> ColumnElement[bool]:
        """The inbox's messages."""
        if self.household_id is not None:
            return Notification.household_id == self.household_id
        return Notification.cadre_id == self.cadre_id

    def readers(self) -> ColumnElement[bool]:
        """The accounts that read it (and receive its WeChat pushes)."""
        if self.household_id is not None:
            return User.household_id == self.household_id
        return User.cadre_id == self.cadre_id


def inbox_of(notification: Notification) -> Inbox:
    return Inbox(household_id=notification.household_id, cadre_id=notification.cadre_id)


def notify(
    session: Session,
    *,
    household_id: int | None = None,
    cadre_id: int | None = None,
    kind: str,
    title: str,
    body: str,
    ref_type: str | None = None,
    ref_id: int | None = None,
    dedupe_key: str | None = None,
) -> Notification:
    """Add one message to a household's inbox or a cadre's; a second call with the same dedupe key (default
    kind:ref:inbox) returns the first."""
    inbox = Inbox(household_id, cadre_id)
    key = dedupe_key or _dedupe_key(kind, ref_type, ref_id, inbox)
    return _add(session, [inbox], [key], kind=kind, title=title, body=body, ref_type=ref_type, ref_id=ref_id)[0]


def notify_many(
    session: Session,
    household_ids: list[int],
    *,
    kind: str,
    title: str,
    body: str,
    ref_type: str | None = None,
    ref_id: int | None = None,
) -> list[Notification]:
    """One message to each household, in three statements whatever their number (a survey tells its whole sample
    at once); households already told (same dedupe key) keep their first message, which is returned for them."""
    inboxes = [Inbox(household_id=h) for h in household_ids]
    keys = [_dedupe_key(kind, ref_type, ref_id, inbox) for inbox in inboxes]
    return _add(session, inboxes, keys, kind=kind, title=title, body=body, ref_type=ref_type, ref_id=ref_id)


def _dedupe_key(kind: str, ref_type: str | None, ref_id: int | None, inbox: Inbox) -> str:
    return f"{kind}:{ref_type}:{ref_id}:{inbox.key}"


def _add(
    session: Session,
    inboxes: list[Inbox],
    keys: list[str],
    *,
    kind: str,
    title: str,
    body: str,
    ref_type: str | None,
    ref_id: int | None,
) -> list[Notification]:
    """The messages not yet there, written in one insert with their WeChat pushes; each key's message returned."""
    existing = {n.dedupe_key: n for n in session.scalars(select(Notification).where(Notification.dedupe_key.in_(keys)))}
    new = {
        key: Notification(
            household_id=inbox.household_id,
            cadre_id=inbox.cadre_id,
            kind=kind,
            title=title[:60],
            body=body[:300],
            ref_type=ref_type,
            ref_id=ref_id,
            dedupe_key=key,
        )
        for inbox, key in zip(inboxes, keys, strict=True)
        if key not in existing
    }
    if new:
        session.add_all(new.values())
        session.flush()
        enqueue_many(
            session, DELIVER_TASK, [(f"inbox-deliver-{n.id}", {"notification_id": n.id}) for n in new.values()]
        )
    return [existing.get(key) or new[key] for key in keys]


def inbox_query(inbox: Inbox) -> Select[tuple[Notification]]:
    return select(Notification).where(inbox.holds())


def unread_count(session: Session, inbox: Inbox) -> int:
    return session.scalar(select(func.count(Notification.id)).where(inbox.holds(), Notification.read_at.is_(None))) or 0


def mark_read(session: Session, inbox: Inbox, ids: list[int] | None) -> int:
    """Mark the inbox's messages read (all of them when `ids` is None); others' ids are ignored.
    Returns the unread count after."""
    stmt = update(Notification).where(inbox.holds(), Notification.read_at.is_(None))
    if ids is not None:
        stmt = stmt.where(Notification.id.in_(ids))
    session.execute(stmt.values(read_at=now_utc()).execution_options(synchronize_session=False))
    return unread_count(session, inbox)


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
    """Send the message to every WeChat user who reads the inbox. A refusal (43101) is final and recorded;
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
                inbox_of(notification).readers(),
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
