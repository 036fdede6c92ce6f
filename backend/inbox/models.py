from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, UTCDateTime
from backend.timeutil import now_utc


class Notification(Base):
    """One message in a household's inbox; `kind` is a stable code the phone can switch on.

    `ref_type`/`ref_id` point at what it is about (a claim, a redemption, an objection) so the
    phone can open it; `dedupe_key` makes producers idempotent (one message per event).
    """

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_household_id_id", "household_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"))
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(60))
    body: Mapped[str] = mapped_column(String(300))
    ref_type: Mapped[str | None] = mapped_column(String(30))
    ref_id: Mapped[int | None]
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
