"""Supermarket tables. Stock moves like points: append-only entries plus a cached figure moved in the
same transaction by a guarded UPDATE, so concurrent redemptions can never oversell."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
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

from backend.db import Base, UTCDateTime, partial_index, str_enum
from backend.points.models import CapPeriod
from backend.timeutil import now_utc


class Product(Base):
    """A good on the village supermarket's shelf. `stock` is what villagers may still request;
    `held` is set aside for redemptions not yet handed over (on the shelf = stock + held)."""

    __tablename__ = "product"
    __table_args__ = (
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        CheckConstraint("held >= 0", name="held_not_negative"),
        CheckConstraint("points > 0", name="points_positive"),
        CheckConstraint("per_household_limit IS NULL OR per_household_limit >= 1", name="limit_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    unit: Mapped[str] = mapped_column(String(10), default="件")
    description: Mapped[str] = mapped_column(String(200), default="")
    points: Mapped[int] = mapped_column(Integer)  # price of one unit
    stock: Mapped[int] = mapped_column(Integer, default=0)
    held: Mapped[int] = mapped_column(Integer, default=0)
    # At most this many units per household per period (None: no limit).
    per_household_limit: Mapped[int | None] = mapped_column(Integer)
    limit_period: Mapped[CapPeriod] = mapped_column(str_enum(CapPeriod, "cap_period"), default=CapPeriod.month)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)


class StockKind(enum.StrEnum):
    restock = "restock"  # 入库（采购或爱心捐赠）
    write_off = "write_off"  # 报损（过期、损坏）
    hold = "hold"  # redemption requested: set aside
    release = "release"  # redemption cancelled/rejected/expired: back on sale
    hand_over = "hand_over"  # goods left the shelf


class StockEntry(Base):
    """Append-only stock ledger of one product; the cached Product.stock/held equal its sums."""

    __tablename__ = "stock_entry"
    __table_args__ = (
        # One hold/release/hand-over per redemption: a retry cannot move stock twice.
        UniqueConstraint("redemption_id", "kind"),
        Index("ix_stock_entry_product_id_id", "product_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"))
    kind: Mapped[StockKind] = mapped_column(str_enum(StockKind, "stock_kind"))
    quantity: Mapped[int] = mapped_column(Integer)  # effect on the available stock
    held_delta: Mapped[int] = mapped_column(Integer, default=0)  # effect on units set aside
    stock_after: Mapped[int] = mapped_column(Integer)
    redemption_id: Mapped[int | None] = mapped_column(ForeignKey("redemption.id"))
    note: Mapped[str] = mapped_column(String(200), default="")  # donor (爱心人士捐赠) or write-off reason
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)


class RedemptionStatus(enum.StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    cancelled = "cancelled"
    handed_over = "handed_over"
    expired = "expired"


COUNTED_STATUSES = (RedemptionStatus.pending, RedemptionStatus.approved, RedemptionStatus.handed_over)


class Redemption(Base):
    __tablename__ = "redemption"
    __table_args__ = (
        CheckConstraint("quantity >= 1", name="quantity_positive"),
        Index("ix_redemption_village_status", "village_id", "status"),
        Index("ix_redemption_household_product", "household_id", "product_id", "requested_on"),
        # A pickup code names one open (approved) redemption of the village; codes recycle after.
        partial_index(
            "uq_redemption_open_pickup_code", "village_id", "pickup_code", where="status = 'approved'", unique=True
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), index=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_points: Mapped[int] = mapped_column(Integer)  # the price when requested
    points_held: Mapped[int] = mapped_column(Integer)
    status: Mapped[RedemptionStatus] = mapped_column(
        str_enum(RedemptionStatus, "redemption_status"), default=RedemptionStatus.pending
    )
    requested_on: Mapped[date] = mapped_column(Date)  # business date, for per-period limits
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reject_reason: Mapped[str | None] = mapped_column(Text)
    pickup_code: Mapped[str | None] = mapped_column(String(6))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    handed_over_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # handed over, cancelled, expired...

    product: Mapped[Product] = relationship()


class WindowCadence(enum.StrEnum):
    monthly = "monthly"  # every month
    quarterly = "quarterly"  # the first month of each quarter (1, 4, 7, 10)


class RedemptionWindow(Base):
    """When a village's supermarket takes requests: days first_day..last_day of each month or of the
    first month of each quarter (e.g. 每月1日; 每季度第一周 = quarterly 1..7). No window: closed."""

    __tablename__ = "redemption_window"
    __table_args__ = (
        CheckConstraint("first_day >= 1 AND first_day <= last_day AND last_day <= 31", name="days_valid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"), index=True)
    cadence: Mapped[WindowCadence] = mapped_column(str_enum(WindowCadence, "window_cadence"))
    first_day: Mapped[int] = mapped_column(Integer)
    last_day: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)


class ShopSetting(Base):
    """Per-county default and per-village override: days an approved redemption waits for pickup."""

    __tablename__ = "shop_setting"
    __table_args__ = (
        CheckConstraint(
            "(CASE WHEN county_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN village_id IS NULL THEN 0 ELSE 1 END) = 1",
            name="one_owner",
        ),
        CheckConstraint("pickup_days >= 1", name="pickup_days_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int | None] = mapped_column(ForeignKey("county.id"), unique=True)
    village_id: Mapped[int | None] = mapped_column(ForeignKey("village.id"), unique=True)
    pickup_days: Mapped[int] = mapped_column(Integer, default=7)
