from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, UTCDateTime
from backend.timeutil import now_utc


class AuditEntry(Base):
    """One change an admin (or a command, actor null) made to the region tree, its people or its accounts, or one
    look at a person's full personal data. Append-only. `changes` maps a field to [before, after]; personal data
    appears in it only masked."""

    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entry_county_at", "county_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    # The actor's username then: a renamed or deleted account keeps its history readable.
    actor_label: Mapped[str] = mapped_column(String(64))
    # Where the change happened, for scope: a county admin reads the county, a town admin the town.
    county_id: Mapped[int | None] = mapped_column(ForeignKey("county.id"))
    town_id: Mapped[int | None] = mapped_column(ForeignKey("town.id"), index=True)
    village_id: Mapped[int | None] = mapped_column(ForeignKey("village.id"), index=True)
    action: Mapped[str] = mapped_column(String(40))  # e.g. household.update, resident.reveal, import.apply
    target_type: Mapped[str] = mapped_column(String(30))  # e.g. household, resident, cadre, user
    target_id: Mapped[int | None] = mapped_column(Integer)
    summary: Mapped[str] = mapped_column(String(200))  # Chinese, shown as is
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
