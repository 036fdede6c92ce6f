from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, UTCDateTime, str_enum
from backend.timeutil import now_utc


class PushStatus(enum.StrEnum):
    """What became of the WeChat subscribe message that mirrors an inbox message."""

    pending = "pending"
    sent = "sent"
    refused = "refused"  # errcode 43101: the user has not (or no longer) subscribed; never retried
    no_recipient = "no_recipient"  # nobody of the household logged in with WeChat
    not_configured = "not_configured"  # no template id configured for this deployment


class Notification(Base):
    """One message in an inbox: a household's (every villager of it reads it) or a resident cadre's (their leave
    decided, a problem handed to them); `kind` is a stable code the phone can switch on.

    `ref_type`/`ref_id` point at what it is about (a claim, a redemption, an objection, a leave request, a problem)
    so the phone can open it; `dedupe_key` makes producers idempotent (one message per event).
    """

    __tablename__ = "notification"
    __table_args__ = (
        Index("ix_notification_household_id_id", "household_id", "id"),
        Index("ix_notification_cadre_id_id", "cadre_id", "id"),
        CheckConstraint("(household_id IS NULL) <> (cadre_id IS NULL)", name="one_inbox"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("household.id"))
    cadre_id: Mapped[int | None] = mapped_column(ForeignKey("cadre.id"))
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(60))
    body: Mapped[str] = mapped_column(String(300))
    ref_type: Mapped[str | None] = mapped_column(String(30))
    ref_id: Mapped[int | None]
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    push_status: Mapped[PushStatus] = mapped_column(
        str_enum(PushStatus, "push_status"), default=PushStatus.pending, server_default=PushStatus.pending.value
    )
    pushed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
