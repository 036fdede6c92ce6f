"""Tables of cadre work. GPS positions are personal data: stored encrypted, never listed in clear."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.crypto import EncryptedString
from backend.db import Base, UTCDateTime, str_enum
from backend.org.models import Household
from backend.timeutil import now_utc, to_local

# Admin pages show both times when a piece of work reached the server later than this after it was captured.
SHOWN_LATE_AFTER = timedelta(minutes=5)


@dataclass(frozen=True)
class Capture:
    """When a piece of cadre work was done and when the server received it.

    The phone app saves work offline with its capture time and sends it when it can (an Idempotency-Key makes
    that exactly once). The capture time is what counts for the business day: a check-in captured at 08:55 on
    Monday and sent on Tuesday counts for Monday's attendance, a visit for the month it was made in, a problem
    closed on its deadline offline is closed on time. `captured_at` is None when the phone sent none (the work
    was sent as it was done); a capture time a little past the receipt (a phone clock running fast) counts as
    the receipt.
    """

    received_at: datetime
    captured_at: datetime | None = None

    @property
    def at(self) -> datetime:
        if self.captured_at is None:
            return self.received_at
        return min(self.captured_at, self.received_at)

    @property
    def day(self) -> date:
        """The business day (Asia/Shanghai) the work counts for."""
        return to_local(self.at).date()

    @property
    def late(self) -> bool:
        return self.received_at - self.at > SHOWN_LATE_AFTER

    @property
    def label(self) -> str:
        """Beijing time of the work, "08:55"; with the upload when it came later: "采集 08:55（上传 次日 07:10）"."""
        at = to_local(self.at)
        if not self.late:
            return f"{at:%H:%M}"
        received = to_local(self.received_at)
        days = (received.date() - at.date()).days
        on = "" if days == 0 else "次日 " if days == 1 else f"{received:%m-%d} "
        return f"采集 {at:%H:%M}（上传 {on}{received:%H:%M}）"


class CadreWorkSettings(Base):
    """A county's numbers for cadre work; a county without a row uses DEFAULT_SETTINGS (Ziyang practice).

    Visits: each paired household needs `visits_required` visits per window of `visit_period_months`
    calendar months (Ziyang 2 per 1 month; Guangyuan 1 per 2 months) and `contacts_per_month`
    contacts (a visit counts as a contact; Guangyuan 1, Ziyang 0).
    """

    __tablename__ = "cadre_work_settings"
    __table_args__ = (
        CheckConstraint("required_days >= 0 AND required_days <= 31", name="required_days_range"),
        CheckConstraint("visit_period_months IN (1, 2, 3, 6, 12)", name="visit_period_divides_year"),
        CheckConstraint("visits_required >= 0 AND contacts_per_month >= 0", name="counts_not_negative"),
        CheckConstraint("accuracy_cap_m >= 0 AND problem_deadline_days >= 1", name="limits_positive"),
    )

    county_id: Mapped[int] = mapped_column(ForeignKey("county.id"), primary_key=True)
    required_days: Mapped[int] = mapped_column(Integer, default=20)  # 到岗天数 per month
    visits_required: Mapped[int] = mapped_column(Integer, default=2)
    visit_period_months: Mapped[int] = mapped_column(Integer, default=1)
    contacts_per_month: Mapped[int] = mapped_column(Integer, default=0)
    # GPS accuracy credited to a check-in is capped, so a 5 km fix cannot count as in the village.
    accuracy_cap_m: Mapped[int] = mapped_column(Integer, default=100)
    problem_deadline_days: Mapped[int] = mapped_column(Integer, default=15)
    # Whether a check-in must carry a photo of the cadre on post (盯梢: proof beyond a GPS fix).
    checkin_photo_required: Mapped[bool] = mapped_column(default=False)


class Checkin(Base):
    """到岗打卡: when it was captured and received, the village it counted for, in or out of its fence.

    Its photos (owner type "checkin") are cadre work evidence: villagers never see them.
    """

    __tablename__ = "checkin"
    __table_args__ = (Index("ix_checkin_cadre_day", "cadre_id", "local_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cadre_id: Mapped[int] = mapped_column(ForeignKey("cadre.id"))
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)  # the server's receipt
    captured_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the phone's, when sent from its outbox
    local_date: Mapped[date] = mapped_column(Date)  # business day (Asia/Shanghai) of the capture (`capture.day`)
    location: Mapped[str] = mapped_column(EncryptedString())  # "lat,lng" as captured
    accuracy_m: Mapped[float] = mapped_column(Float)
    distance_m: Mapped[int] = mapped_column(Integer)  # to the fence centre, for the admin's audit
    in_fence: Mapped[bool] = mapped_column()

    @property
    def capture(self) -> Capture:
        return Capture(self.at, self.captured_at)


class LeaveStatus(enum.StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"


LEAVE_STATUS_LABELS = {LeaveStatus.pending: "待审批", LeaveStatus.approved: "已批准", LeaveStatus.rejected: "已驳回"}


class LeaveRequest(Base):
    """请假: a cadre asks, the town of the village they are posted to decides."""

    __tablename__ = "leave_request"
    __table_args__ = (
        CheckConstraint("end_on >= start_on", name="dates_ordered"),
        Index("ix_leave_request_cadre_dates", "cadre_id", "start_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cadre_id: Mapped[int] = mapped_column(ForeignKey("cadre.id"))
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"), index=True)
    start_on: Mapped[date] = mapped_column(Date)
    end_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(300))
    status: Mapped[LeaveStatus] = mapped_column(str_enum(LeaveStatus, "leave_status"), default=LeaveStatus.pending)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_note: Mapped[str | None] = mapped_column(String(300))

    @property
    def days(self) -> int:
        return (self.end_on - self.start_on).days + 1


class RecordCategory(enum.StrEnum):
    visit = "visit"
    meeting = "meeting"
    industry = "industry"
    policy = "policy"
    mediation = "mediation"
    service = "service"
    other = "other"


CATEGORY_LABELS = {
    RecordCategory.visit: "走访",
    RecordCategory.meeting: "会议",
    RecordCategory.industry: "产业发展",
    RecordCategory.policy: "政策宣传",
    RecordCategory.mediation: "矛盾调解",
    RecordCategory.service: "代办服务",
    RecordCategory.other: "其他",
}

daily_record_household = Table(
    "daily_record_household",
    Base.metadata,
    Column("daily_record_id", ForeignKey("daily_record.id"), primary_key=True),
    Column("household_id", ForeignKey("household.id"), primary_key=True, index=True),
)


class DailyRecord(Base):
    """日纪实/民情日记. The author may edit it on the day it was written; after that only amendments."""

    __tablename__ = "daily_record"
    __table_args__ = (
        Index("ix_daily_record_village_date", "village_id", "record_date"),
        Index("ix_daily_record_cadre_date", "cadre_id", "record_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cadre_id: Mapped[int] = mapped_column(ForeignKey("cadre.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"))
    record_date: Mapped[date] = mapped_column(Date)
    category: Mapped[RecordCategory] = mapped_column(str_enum(RecordCategory, "record_category"))
    content: Mapped[str] = mapped_column(Text)
    place: Mapped[str] = mapped_column(String(120))
    location: Mapped[str | None] = mapped_column(EncryptedString())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)  # the server's receipt
    captured_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the phone's, when sent from its outbox
    created_on: Mapped[date] = mapped_column(Date)  # business day of the capture: the day edits are allowed
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    households: Mapped[list[Household]] = relationship(secondary=daily_record_household, order_by=Household.id)
    amendments: Mapped[list[DailyRecordAmendment]] = relationship(
        back_populates="record", order_by="DailyRecordAmendment.id"
    )

    @property
    def capture(self) -> Capture:
        return Capture(self.created_at, self.captured_at)


class DailyRecordAmendment(Base):
    """补正: append-only; the latest amendment's values are what the record now says."""

    __tablename__ = "daily_record_amendment"

    id: Mapped[int] = mapped_column(primary_key=True)
    daily_record_id: Mapped[int] = mapped_column(ForeignKey("daily_record.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    reason: Mapped[str] = mapped_column(String(300))
    category: Mapped[RecordCategory] = mapped_column(str_enum(RecordCategory, "record_category"))
    content: Mapped[str] = mapped_column(Text)
    place: Mapped[str] = mapped_column(String(120))

    record: Mapped[DailyRecord] = relationship(back_populates="amendments")


class VisitKind(enum.StrEnum):
    visit = "visit"  # 入户走访
    contact = "contact"  # 电话/微信联系


VISIT_KIND_LABELS = {VisitKind.visit: "入户走访", VisitKind.contact: "电话联系"}


class Visit(Base):
    __tablename__ = "visit"
    __table_args__ = (
        Index("ix_visit_household_date", "household_id", "local_date"),
        Index("ix_visit_village_date", "village_id", "local_date"),
        Index("ix_visit_cadre_date", "cadre_id", "local_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cadre_id: Mapped[int] = mapped_column(ForeignKey("cadre.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"))
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"))
    kind: Mapped[VisitKind] = mapped_column(str_enum(VisitKind, "visit_kind"), default=VisitKind.visit)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)  # the server's receipt
    captured_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the phone's, when sent from its outbox
    local_date: Mapped[date] = mapped_column(Date)  # business day of the capture: the month it counts in
    purpose: Mapped[str] = mapped_column(String(200))
    findings: Mapped[str] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(EncryptedString())

    household: Mapped[Household] = relationship()

    @property
    def capture(self) -> Capture:
        return Capture(self.at, self.captured_at)


class ProblemStatus(enum.StrEnum):
    open = "open"
    in_progress = "in_progress"
    closed = "closed"


PROBLEM_STATUS_LABELS = {
    ProblemStatus.open: "待办理",
    ProblemStatus.in_progress: "办理中",
    ProblemStatus.closed: "已销号",
}


class Problem(Base):
    """问题台账: raised in a visit or a daily record, owned by a cadre, closed (销号) with evidence.

    Each step keeps the server's time (`raised_at`, `started_at`, `closed_at`) and, when the phone captured it
    offline, its capture time (`raised_captured_at` is that of the visit or record that raised it). The capture
    counts: the default deadline runs from the day it was raised, and a closure is on time by the day it was
    captured.
    """

    __tablename__ = "problem"
    __table_args__ = (
        Index("ix_problem_village_status", "village_id", "status"),
        Index("ix_problem_source", "source_type", "source_id"),
        CheckConstraint(
            "(status = 'closed') = (closed_at IS NOT NULL AND closing_evidence IS NOT NULL)", name="closed_has_evidence"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("household.id"), index=True)
    source_type: Mapped[str] = mapped_column(String(20))  # "visit" | "daily_record"
    source_id: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(500))
    owner_cadre_id: Mapped[int] = mapped_column(ForeignKey("cadre.id"), index=True)
    deadline: Mapped[date] = mapped_column(Date)
    status: Mapped[ProblemStatus] = mapped_column(str_enum(ProblemStatus, "problem_status"), default=ProblemStatus.open)
    raised_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    raised_captured_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_captured_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_captured_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    closing_evidence: Mapped[str | None] = mapped_column(Text)

    household: Mapped[Household | None] = relationship()

    @property
    def raised(self) -> Capture:
        return Capture(self.raised_at, self.raised_captured_at)

    @property
    def closed(self) -> Capture | None:
        return Capture(self.closed_at, self.closed_captured_at) if self.closed_at is not None else None

    def is_overdue(self, today: date) -> bool:
        """Open past its deadline, or closed after it (the ledger keeps late closures visible)."""
        closed = self.closed
        if closed is None:
            return today > self.deadline
        return closed.day > self.deadline
