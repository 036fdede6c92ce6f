from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, UTCDateTime
from backend.timeutil import now_utc


class OutboxJob(Base):
    """A job written in the same transaction as the change that needs it.

    It is pushed to Redis after commit; if Redis is down the row waits and the sweep pushes it later.
    """

    __tablename__ = "outbox_job"

    id: Mapped[int] = mapped_column(primary_key=True)
    task: Mapped[str] = mapped_column(String(80))
    kwargs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    job_id: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
