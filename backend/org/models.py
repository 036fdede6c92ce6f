from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    event,
    select,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from backend.crypto import EncryptedString, lookup_hash
from backend.db import Base, UTCDateTime, partial_index, str_enum
from backend.timeutil import now_utc


class County(Base):
    __tablename__ = "county"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    code: Mapped[str] = mapped_column(String(6), unique=True)

    towns: Mapped[list[Town]] = relationship(back_populates="county", order_by="Town.code")


class Town(Base):
    __tablename__ = "town"

    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("county.id"), index=True)
    name: Mapped[str] = mapped_column(String(40))
    code: Mapped[str] = mapped_column(String(9), unique=True)

    county: Mapped[County] = relationship(back_populates="towns")
    villages: Mapped[list[Village]] = relationship(back_populates="town", order_by="Village.code")


class Village(Base):
    __tablename__ = "village"
    __table_args__ = (
        CheckConstraint("length(code) = 12", name="code_12_digits"),
        CheckConstraint("fence_radius_m > 0", name="fence_radius_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    town_id: Mapped[int] = mapped_column(ForeignKey("town.id"), index=True)
    name: Mapped[str] = mapped_column(String(40))
    code: Mapped[str] = mapped_column(String(12), unique=True)
    # Geofence for on-post check-ins: centre and radius in metres.
    center_lat: Mapped[float] = mapped_column(Float)
    center_lng: Mapped[float] = mapped_column(Float)
    fence_radius_m: Mapped[int] = mapped_column(Integer, default=1500)

    town: Mapped[Town] = relationship(back_populates="villages")
    grids: Mapped[list[Grid]] = relationship(back_populates="village", order_by="Grid.id")


class Grid(Base):
    __tablename__ = "grid"
    __table_args__ = (UniqueConstraint("village_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"), index=True)
    name: Mapped[str] = mapped_column(String(40))

    village: Mapped[Village] = relationship(back_populates="grids")


class Household(Base):
    __tablename__ = "household"
    __table_args__ = (
        UniqueConstraint("village_id", "number"),
        # With the id: a town's households joined to their pairings or ledgers from the index alone.
        Index("ix_household_village_id", "village_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Denormalised from the grid so every scope filter is one indexed column.
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"))
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id"), index=True)
    number: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(120))
    is_poor: Mapped[bool] = mapped_column(Boolean, default=False)
    is_monitored: Mapped[bool] = mapped_column(Boolean, default=False)
    is_low_income: Mapped[bool] = mapped_column(Boolean, default=False)
    is_relocated: Mapped[bool] = mapped_column(Boolean, default=False)
    has_disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    has_serious_illness: Mapped[bool] = mapped_column(Boolean, default=False)
    # The household card's one-time binding code, kept only as a keyed hash.
    binding_code_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    binding_code_issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)

    village: Mapped[Village] = relationship()
    grid: Mapped[Grid] = relationship()
    residents: Mapped[list[Resident]] = relationship(
        back_populates="household", order_by="(Resident.is_head.desc(), Resident.id)"
    )


class PersonalData:
    """Name, phone and resident ID number: encrypted at rest, with keyed hashes for exact lookups."""

    name: Mapped[str] = mapped_column(EncryptedString())
    name_hash: Mapped[str] = mapped_column(String(64), index=True)
    phone: Mapped[str | None] = mapped_column(EncryptedString())
    phone_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    id_number: Mapped[str | None] = mapped_column(EncryptedString())
    id_number_hash: Mapped[str | None] = mapped_column(String(64), index=True)

    @validates("name", "phone", "id_number")
    def _keep_lookup_hash(self, key: str, value: str | None) -> str | None:
        setattr(self, f"{key}_hash", None if value is None else lookup_hash(value))
        return value


class Resident(PersonalData, Base):
    """A member of a household (户成员)."""

    __tablename__ = "resident"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), index=True)
    relation: Mapped[str] = mapped_column(String(10))  # 户主 / 配偶 / 子女 / 父母 / 孙子女 / 其他
    is_head: Mapped[bool] = mapped_column(Boolean, default=False)
    gender: Mapped[str] = mapped_column(String(1))  # 男 / 女
    birth_year: Mapped[int | None] = mapped_column(Integer)

    household: Mapped[Household] = relationship(back_populates="residents")


class Post(enum.StrEnum):
    first_secretary = "first_secretary"
    team_leader = "team_leader"
    team_member = "team_member"
    town_cadre = "town_cadre"
    grid_worker = "grid_worker"
    helper = "helper"


POST_LABELS = {
    Post.first_secretary: "第一书记",
    Post.team_leader: "驻村工作队长",
    Post.team_member: "驻村工作队员",
    Post.town_cadre: "镇包村干部",
    Post.grid_worker: "网格员",
    Post.helper: "帮扶责任人",
}


class Cadre(PersonalData, Base):
    __tablename__ = "cadre"

    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("county.id"), index=True)
    work_unit: Mapped[str] = mapped_column(String(60))  # 派出单位
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)

    postings: Mapped[list[Posting]] = relationship(back_populates="cadre", order_by="Posting.start_on")


class Posting(Base):
    """A cadre posted to a village in a post for a date range (end_on null = still posted)."""

    __tablename__ = "posting"
    __table_args__ = (CheckConstraint("end_on IS NULL OR end_on >= start_on", name="dates_ordered"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cadre_id: Mapped[int] = mapped_column(ForeignKey("cadre.id"), index=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"), index=True)
    post: Mapped[Post] = mapped_column(str_enum(Post, "post"))
    start_on: Mapped[date] = mapped_column(Date)
    end_on: Mapped[date | None] = mapped_column(Date)

    cadre: Mapped[Cadre] = relationship(back_populates="postings")
    village: Mapped[Village] = relationship()


class Pairing(Base):
    """Helper ↔ household (包联户): every poor or monitored household has exactly one current helper."""

    __tablename__ = "pairing"
    __table_args__ = (
        CheckConstraint("end_on IS NULL OR end_on >= start_on", name="dates_ordered"),
        partial_index("uq_pairing_current_household", "household_id", where="end_on IS NULL", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cadre_id: Mapped[int] = mapped_column(ForeignKey("cadre.id"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), index=True)
    # The household's village, copied on insert (households do not move): a town's coverage reads its
    # pairings by village instead of joining every household of the town.
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"), index=True)
    start_on: Mapped[date] = mapped_column(Date)
    end_on: Mapped[date | None] = mapped_column(Date)

    cadre: Mapped[Cadre] = relationship()
    household: Mapped[Household] = relationship()


@event.listens_for(Pairing, "before_insert")
def _pairing_village(_mapper: Any, connection: Connection, pairing: Pairing) -> None:
    if pairing.village_id is None:
        pairing.village_id = connection.scalar(select(Household.village_id).where(Household.id == pairing.household_id))
