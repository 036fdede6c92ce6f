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
    retired_on: Mapped[date | None] = mapped_column(Date)

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
    retired_on: Mapped[date | None] = mapped_column(Date)

    town: Mapped[Town] = relationship(back_populates="villages")
    grids: Mapped[list[Grid]] = relationship(back_populates="village", order_by="Grid.id")


class Grid(Base):
    __tablename__ = "grid"
    __table_args__ = (UniqueConstraint("village_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"), index=True)
    name: Mapped[str] = mapped_column(String(40))
    retired_on: Mapped[date | None] = mapped_column(Date)

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
    # Retired households (户销户) stay in history and are hidden from lists and choices.
    retired_on: Mapped[date | None] = mapped_column(Date)

    village: Mapped[Village] = relationship()
    grid: Mapped[Grid] = relationship()
    # The current members: one who left keeps their row (history, party membership) with left_on set.
    residents: Mapped[list[Resident]] = relationship(
        primaryjoin="and_(Household.id == Resident.household_id, Resident.left_on.is_(None))",
        order_by="(Resident.is_head.desc(), Resident.id)",
        viewonly=True,
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

    @staticmethod
    def bulk_values(name: str, phone: str | None, id_number: str | None) -> dict[str, str | None]:
        """The person's columns for a bulk insert, which bypasses `_keep_lookup_hash`: each value and its hash."""
        values = {"name": name, "phone": phone, "id_number": id_number}
        return values | {f"{key}_hash": None if value is None else lookup_hash(value) for key, value in values.items()}


# A member's relation to the head (与户主关系), and genders, as the household register writes them.
RELATIONS = ("户主", "配偶", "子女", "父母", "孙子女", "兄弟姐妹", "其他")
GENDERS = ("男", "女")


class Resident(PersonalData, Base):
    """A member of a household (户成员)."""

    __tablename__ = "resident"
    # At most one head per household; the services keep it exactly one while the household has members.
    __table_args__ = (partial_index("uq_resident_head", "household_id", where="is_head", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), index=True)
    relation: Mapped[str] = mapped_column(String(10))  # one of RELATIONS
    is_head: Mapped[bool] = mapped_column(Boolean, default=False)
    gender: Mapped[str] = mapped_column(String(1))  # one of GENDERS
    birth_year: Mapped[int | None] = mapped_column(Integer)
    left_on: Mapped[date | None] = mapped_column(Date)  # 迁出: no longer a member from this day

    household: Mapped[Household] = relationship()


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
    retired_on: Mapped[date | None] = mapped_column(Date)

    postings: Mapped[list[Posting]] = relationship(back_populates="cadre", order_by="Posting.start_on")


class Posting(Base):
    """A cadre posted to a village in a post for a date range (end_on null = still posted). A 网格员's posting
    names the grid they look after."""

    __tablename__ = "posting"
    __table_args__ = (
        CheckConstraint("end_on IS NULL OR end_on >= start_on", name="dates_ordered"),
        CheckConstraint("grid_id IS NULL OR post = 'grid_worker'", name="grid_only_for_grid_workers"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cadre_id: Mapped[int] = mapped_column(ForeignKey("cadre.id"), index=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"), index=True)
    post: Mapped[Post] = mapped_column(str_enum(Post, "post"))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id"), index=True)
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
    # The household's village, copied on insert and moved with the household while the pairing is current
    # (backend.org.households.move_household): a town's coverage reads its pairings by village instead of
    # joining every household of the town.
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"), index=True)
    start_on: Mapped[date] = mapped_column(Date)
    end_on: Mapped[date | None] = mapped_column(Date)

    cadre: Mapped[Cadre] = relationship()
    household: Mapped[Household] = relationship()


@event.listens_for(Pairing, "before_insert")
def _pairing_village(_mapper: Any, connection: Connection, pairing: Pairing) -> None:
    if pairing.village_id is None:
        pairing.village_id = connection.scalar(select(Household.village_id).where(Household.id == pairing.household_id))
