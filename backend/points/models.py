from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import Base, UTCDateTime, str_enum
from backend.timeutil import now_utc


class ItemKind(enum.StrEnum):
    positive = "positive"  # 正面清单
    negative = "negative"  # 负面清单
    veto = "veto"  # 一票否决


class CapPeriod(enum.StrEnum):
    month = "month"
    quarter = "quarter"
    year = "year"


# Default 星级文明户 bands: the year's net points (earned − deducted) needed for each star level.
DEFAULT_STAR_BANDS: tuple[dict[str, int], ...] = (
    {"stars": 5, "min_points": 60},
    {"stars": 4, "min_points": 40},
    {"stars": 3, "min_points": 20},
)


class RuleBook(Base):
    """One version of a points scheme owned by a county, town or village (the most specific wins).

    A version takes effect from `effective_from`; claims keep the item (and so the version) they
    were judged by.
    """

    __tablename__ = "rule_book"
    __table_args__ = (
        CheckConstraint(
            "(CASE WHEN county_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN town_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN village_id IS NULL THEN 0 ELSE 1 END) = 1",
            name="one_owner",
        ),
        CheckConstraint("review_quorum >= 1", name="quorum_positive"),
        CheckConstraint("objection_days >= 0", name="objection_days_not_negative"),
        UniqueConstraint("owner", "version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int | None] = mapped_column(ForeignKey("county.id"), index=True)
    town_id: Mapped[int | None] = mapped_column(ForeignKey("town.id"), index=True)
    village_id: Mapped[int | None] = mapped_column(ForeignKey("village.id"), index=True)
    # "county:1" / "town:3" / "village:7": one sequence of versions per owner, enforced by a unique key.
    owner: Mapped[str] = mapped_column(String(30))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(80))
    effective_from: Mapped[date] = mapped_column(Date)
    base_score: Mapped[int] = mapped_column(Integer, default=100)
    # How many members of the village review panel must approve a claim (评议小组).
    review_quorum: Mapped[int] = mapped_column(Integer, default=1)
    # Whether a vetoed household may still redeem in the month of the veto.
    veto_blocks_redemption: Mapped[bool] = mapped_column(Boolean, default=True)
    # Days villagers may object (申诉) after a monthly notice is published, counted in Asia/Shanghai.
    objection_days: Mapped[int] = mapped_column(Integer, default=3, server_default="3")
    # 星级文明户 bands: [{"stars": 5, "min_points": 60}, ...] over a year's points (see honors.py); None: no bands.
    star_bands: Mapped[list[dict[str, int]] | None] = mapped_column(JSON, default=lambda: list(DEFAULT_STAR_BANDS))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    items: Mapped[list[RuleItem]] = relationship(back_populates="rule_book", order_by="RuleItem.position")


class RuleItem(Base):
    __tablename__ = "rule_item"
    __table_args__ = (
        CheckConstraint("points >= 0", name="points_not_negative"),
        CheckConstraint("cap_count IS NULL OR cap_count >= 1", name="cap_positive"),
        UniqueConstraint("rule_book_id", "code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_book_id: Mapped[int] = mapped_column(ForeignKey("rule_book.id"), index=True)
    # Stable across versions (e.g. "P03"), so caps count the same deed under an edited title.
    code: Mapped[str] = mapped_column(String(20))
    kind: Mapped[ItemKind] = mapped_column(str_enum(ItemKind, "item_kind"))
    title: Mapped[str] = mapped_column(String(120))
    points: Mapped[int] = mapped_column(Integer)
    evidence_required: Mapped[bool] = mapped_column(Boolean, default=False)
    cap_count: Mapped[int | None] = mapped_column(Integer)
    cap_period: Mapped[CapPeriod | None] = mapped_column(str_enum(CapPeriod, "cap_period"))
    position: Mapped[int] = mapped_column(Integer, default=0)

    rule_book: Mapped[RuleBook] = relationship(back_populates="items")

    @property
    def signed_points(self) -> int:
        return self.points if self.kind == ItemKind.positive else -self.points


class ClaimStatus(enum.StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"


class ClaimSource(enum.StrEnum):
    self_declared = "self_declared"  # 本人自主申报
    recorded = "recorded"  # 网格员采集 / 干部记录


class Claim(Base):
    __tablename__ = "claim"
    __table_args__ = (Index("ix_claim_village_status", "village_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), index=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"))
    rule_item_id: Mapped[int] = mapped_column(ForeignKey("rule_item.id"))
    occurred_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[ClaimSource] = mapped_column(str_enum(ClaimSource, "claim_source"))
    status: Mapped[ClaimStatus] = mapped_column(str_enum(ClaimStatus, "claim_status"), default=ClaimStatus.pending)
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reject_reason: Mapped[str | None] = mapped_column(Text)

    rule_item: Mapped[RuleItem] = relationship()
    reviews: Mapped[list[ClaimReview]] = relationship(back_populates="claim", order_by="ClaimReview.id")


class ClaimReview(Base):
    """One panel member's decision on a claim; one per member."""

    __tablename__ = "claim_review"
    __table_args__ = (UniqueConstraint("claim_id", "reviewer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claim.id"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    approve: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)

    claim: Mapped[Claim] = relationship(back_populates="reviews")


class EntryKind(enum.StrEnum):
    base = "base"  # 基础分
    earn = "earn"
    deduct = "deduct"
    veto = "veto"
    hold = "hold"  # redemption requested: points set aside
    release = "release"  # redemption rejected/cancelled/expired: points back
    spend = "spend"  # goods handed over: the hold becomes final
    correction = "correction"


class PointsAccount(Base):
    """Cached balance of a household, updated in the same transaction as each ledger entry.

    `balance` is what the household can spend; `held` is set aside for pending redemptions.
    """

    __tablename__ = "points_account"
    __table_args__ = (CheckConstraint("held >= 0", name="held_not_negative"),)

    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"), index=True)
    balance: Mapped[int] = mapped_column(Integer, default=0)
    held: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)


class LedgerEntry(Base):
    """Append-only: never updated or deleted. Corrections are new entries."""

    __tablename__ = "ledger_entry"
    __table_args__ = (
        # One credit per claim, one hold/release/spend per redemption: retries cannot double-apply.
        UniqueConstraint("source_type", "source_id", "kind"),
        Index("ix_ledger_entry_household_id_id", "household_id", "id"),
        # Kind and household too: the monthly ratings count a village's earning and vetoed households from
        # the index alone, without visiting the table.
        Index("ix_ledger_entry_village_month", "village_id", "month", "kind", "household_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"))
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"))
    kind: Mapped[EntryKind] = mapped_column(str_enum(EntryKind, "entry_kind"))
    amount: Mapped[int] = mapped_column(Integer)  # effect on the spendable balance
    held_delta: Mapped[int] = mapped_column(Integer, default=0)  # effect on points set aside
    balance_after: Mapped[int] = mapped_column(Integer)
    month: Mapped[str] = mapped_column(String(7))  # business month (Asia/Shanghai) it counts in
    source_type: Mapped[str] = mapped_column(String(20))
    source_id: Mapped[int] = mapped_column(Integer)
    rule_item_id: Mapped[int | None] = mapped_column(ForeignKey("rule_item.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)

    rule_item: Mapped[RuleItem | None] = relationship()


class NoticeStatus(enum.StrEnum):
    published = "published"  # 公示中: villagers may object until the window closes
    locked = "locked"  # 已锁定: nothing changes in this month any more


class MonthlyNotice(Base):
    """A village's monthly public notice (月公示). Once a month is closed, no entry ever counts in it
    again: later changes land in the next open month (see ledger.entry_month)."""

    __tablename__ = "monthly_notice"
    __table_args__ = (UniqueConstraint("village_id", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"))
    month: Mapped[str] = mapped_column(String(7))
    status: Mapped[NoticeStatus] = mapped_column(str_enum(NoticeStatus, "notice_status"))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    objection_deadline: Mapped[datetime] = mapped_column(UTCDateTime())
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # None with locked_at set: locked automatically after a quiet objection window.
    locked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    lines: Mapped[list[NoticeLine]] = relationship(back_populates="notice", order_by="NoticeLine.household_number")


class NoticeLine(Base):
    """One household as published: frozen at closing, the head's name already masked (as posted on the wall)."""

    __tablename__ = "notice_line"
    __table_args__ = (UniqueConstraint("notice_id", "household_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("monthly_notice.id"))
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"))
    household_number: Mapped[str] = mapped_column(String(20))
    masked_name: Mapped[str] = mapped_column(String(20))
    earned: Mapped[int] = mapped_column(Integer)
    deducted: Mapped[int] = mapped_column(Integer)
    balance: Mapped[int] = mapped_column(Integer)
    vetoed: Mapped[bool] = mapped_column(Boolean)

    notice: Mapped[MonthlyNotice] = relationship(back_populates="lines")


class ObjectionStatus(enum.StrEnum):
    open = "open"
    upheld = "upheld"  # 申诉成立: a correction entry follows (in the next open month)
    dismissed = "dismissed"  # 申诉不成立: with the reviewer's reason


class Objection(Base):
    """A villager's objection (申诉) to the month's notice: to one entry, or in general."""

    __tablename__ = "objection"
    __table_args__ = (Index("ix_objection_notice_id_status", "notice_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("monthly_notice.id"))
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"))
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"))  # who objects
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entry.id"))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[ObjectionStatus] = mapped_column(
        str_enum(ObjectionStatus, "objection_status"), default=ObjectionStatus.open
    )
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answer: Mapped[str | None] = mapped_column(Text)
    correction_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entry.id"))

    entry: Mapped[LedgerEntry | None] = relationship(foreign_keys=[entry_id])
    correction_entry: Mapped[LedgerEntry | None] = relationship(foreign_keys=[correction_entry_id])
