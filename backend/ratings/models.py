"""Ratings tables: scheme versions, rater entries, star sheets, compiled results, runs, alerts, rectifications."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    DDL,
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, UTCDateTime, partial_index, str_enum
from backend.timeutil import now_utc


class SchemeKind(enum.StrEnum):
    ten_star = "ten_star"  # 紫阳 十星级评定（村）
    hundred_point = "hundred_point"  # 宝鸡 第一书记百分制
    thousand_point = "thousand_point"  # 高阳 村两委千分制（半年）
    party_member = "party_member"  # 高阳 党员积分 A–F
    ranking = "ranking"  # 广元 月度排名（流动红旗 / 黄牌）


class RatingScheme(Base):
    """One version of one county's scheme of a kind. A period is judged by the version in force on its first day."""

    __tablename__ = "rating_scheme"
    __table_args__ = (UniqueConstraint("county_id", "kind", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("county.id"), index=True)
    kind: Mapped[SchemeKind] = mapped_column(str_enum(SchemeKind, "scheme_kind"))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(80))
    effective_from: Mapped[date] = mapped_column(Date)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))


class PartyMember(Base):
    """The minimum the party-member points scheme needs: which resident is a member, and their category A–F.

    Kept here rather than on Resident so the org model stays about households; one row per member.
    """

    __tablename__ = "party_member"
    __table_args__ = (CheckConstraint("category IN ('A','B','C','D','E','F')", name="category_a_to_f"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), unique=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"), index=True)
    category: Mapped[str] = mapped_column(String(1))
    joined_on: Mapped[date | None] = mapped_column(Date)


class EntryStage(enum.StrEnum):
    manual = "manual"  # 评分人录入（无数据来源的指标）
    self = "self"  # 村创星
    town = "town"  # 镇评星
    county = "county"  # 县核星


class RatingEntry(Base):
    """A value entered by a rater for one input of one subject and period, with its evidence.

    key: "star:S01" / "item:W01" (a score), "veto:S01V1" (1 = the veto hit), "bonus:B01" / "deduct:D01"
    (count of times), "major_problem" (1 = a yellow-card problem).
    """

    __tablename__ = "rating_entry"
    __table_args__ = (UniqueConstraint("subject_type", "subject_id", "period", "key", "stage"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_type: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[int] = mapped_column(Integer)
    period: Mapped[str] = mapped_column(String(7))
    key: Mapped[str] = mapped_column(String(40))
    stage: Mapped[EntryStage] = mapped_column(str_enum(EntryStage, "entry_stage"))
    value: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[str] = mapped_column(Text, default="")
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)


class SheetStage(enum.StrEnum):
    open = "open"
    self_assessed = "self_assessed"  # 村创星 done
    town_rated = "town_rated"  # 镇评星 done
    county_verified = "county_verified"  # 县核星 done


class StarSheet(Base):
    """A village's monthly ten-star sheet moving through 村创星 → 镇评星 → 县核星."""

    __tablename__ = "star_sheet"
    __table_args__ = (UniqueConstraint("village_id", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"), index=True)
    month: Mapped[str] = mapped_column(String(7))
    stage: Mapped[SheetStage] = mapped_column(str_enum(SheetStage, "sheet_stage"), default=SheetStage.open)
    self_note: Mapped[str] = mapped_column(Text, default="")
    self_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    self_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    town_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    town_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # 县核星: the unannounced visit and its written findings (handed over with a deadline).
    visit_on: Mapped[date | None] = mapped_column(Date)
    findings: Mapped[str] = mapped_column(Text, default="")
    county_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    county_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RatingResult(Base):
    """The compiled outcome for one subject, scheme kind and period; upserted by that natural key.

    Like the alerts and 整改 items, it is compiled from a village: `village_id` is a foreign key, while
    `county_id` and `town_id` are copies of the village's place kept for scope filters, and `run_id` notes
    the run that wrote it. Checking those three on insert was a third of a town's results upsert: each check
    locks the row it finds, and the run's row is also updated by every town job (migration 0013)."""

    __tablename__ = "rating_result"
    __table_args__ = (
        UniqueConstraint("kind", "subject_type", "subject_id", "period"),
        Index("ix_rating_result_county_period", "county_id", "kind", "period"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[SchemeKind] = mapped_column(str_enum(SchemeKind, "scheme_kind"))
    subject_type: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[int] = mapped_column(Integer)
    period: Mapped[str] = mapped_column(String(7))
    county_id: Mapped[int] = mapped_column(Integer)
    town_id: Mapped[int] = mapped_column(Integer)
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"), index=True)
    scheme_id: Mapped[int] = mapped_column(ForeignKey("rating_scheme.id"))
    score: Mapped[float] = mapped_column(Float)
    stars: Mapped[int | None] = mapped_column(Integer)
    grade: Mapped[str] = mapped_column(String(20))
    rank: Mapped[int | None] = mapped_column(Integer)
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    run_id: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)


def _on_postgresql(table: Table, statement: str) -> None:
    """Storage settings the migrations also make (0011, 0013), for a database built from the models."""
    event.listen(table, "after_create", DDL(statement).execute_if(dialect="postgresql"))


# The detail (3–4 KB of JSON) is compressed on every write. Inserting a 100k-household county's 750 results took
# 62–75 ms with PostgreSQL's default pglz, 43–49 ms with lz4, 40 ms uncompressed.
_on_postgresql(RatingResult.__table__, "ALTER TABLE rating_result ALTER COLUMN detail SET COMPRESSION lz4")
# Room on each page for the finish to rewrite rank, flags and grade in place (a HOT update: no index writes). The
# 250 ranking rows of a 100k-household county took 10–12 ms at the default fill factor of 100, 6 ms at 60.
_on_postgresql(RatingResult.__table__, "ALTER TABLE rating_result SET (fillfactor = 60)")


class RunStatus(enum.StrEnum):
    running = "running"
    finished = "finished"
    failed = "failed"  # finished, but some units raised a non-transient error


class CompileRun(Base):
    """One compile of a county's month. At most one unfinished run per county and month (partial unique index)."""

    __tablename__ = "compile_run"
    __table_args__ = (
        partial_index("uq_compile_run_open", "county_id", "month", where="finished_at IS NULL", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("county.id"), index=True)
    month: Mapped[str] = mapped_column(String(7))
    status: Mapped[RunStatus] = mapped_column(str_enum(RunStatus, "run_status"), default=RunStatus.running)
    # Bumped each time an unfinished run is resumed (by hand or by the reconciler), so its re-enqueued jobs get
    # fresh deterministic ids.
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    units_total: Mapped[int] = mapped_column(Integer, default=0)
    units_done: Mapped[int] = mapped_column(Integer, default=0)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    errors: Mapped[list[str]] = mapped_column(JSON, default=list)
    digest: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    diff: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # What happened to the run on the way, for the admin: each resume and re-queue, a give-up (Beijing time first).
    notes: Mapped[list[str]] = mapped_column(JSON, default=list)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    # When the run last moved (started, a town done, the next attempt queued): a run that has not moved for
    # COMPILE_UNIT_TIMEOUT has lost a job, and the reconciler re-queues what is unfinished.
    progressed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))


# Every result's figures: 56 KB of JSON at 100k households, compressed as the detail is.
_on_postgresql(CompileRun.__table__, "ALTER TABLE compile_run ALTER COLUMN digest SET COMPRESSION lz4")


class CompileUnit(Base):
    """One town's share of a run; its row lock makes a duplicated job wait and then do nothing."""

    __tablename__ = "compile_unit"
    __table_args__ = (UniqueConstraint("run_id", "town_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("compile_run.id"), index=True)
    town_id: Mapped[int] = mapped_column(ForeignKey("town.id"))
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)


class AlertKind(enum.StrEnum):
    accountability = "accountability"  # 连续低星：约谈问责工作队长
    commendation = "commendation"  # 连续高星：通报表扬
    interview = "interview"  # 满意度低于阈值：约谈
    admonition = "admonition"  # 年度排名后10%：诫勉谈话


ALERT_LABELS = {
    AlertKind.accountability: "约谈问责",
    AlertKind.commendation: "通报表扬",
    AlertKind.interview: "约谈提醒",
    AlertKind.admonition: "诫勉谈话",
}


class RatingAlert(Base):
    __tablename__ = "rating_alert"
    __table_args__ = (UniqueConstraint("kind", "village_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[AlertKind] = mapped_column(str_enum(AlertKind, "alert_kind"))
    county_id: Mapped[int] = mapped_column(Integer, index=True)  # the village's, copied (see RatingResult)
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"))
    period: Mapped[str] = mapped_column(String(7))
    # Who it is addressed to (the team leader for accountability), when the village has one posted.
    cadre_id: Mapped[int | None] = mapped_column(ForeignKey("cadre.id"))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)


class RectificationOrigin(enum.StrEnum):
    lost_star = "lost_star"
    veto = "veto"
    yellow_card = "yellow_card"


ORIGIN_LABELS = {
    RectificationOrigin.lost_star: "失星",
    RectificationOrigin.veto: "否决",
    RectificationOrigin.yellow_card: "黄牌",
}


class Rectification(Base):
    """整改: an item handed to a village with an owner and a deadline, tracked until closed (销号)."""

    __tablename__ = "rectification"
    __table_args__ = (UniqueConstraint("village_id", "period", "origin", "origin_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(Integer, index=True)  # the village's, copied (see RatingResult)
    # Found through the natural key's unique index, which leads with it (a second index cost every insert).
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"))
    period: Mapped[str] = mapped_column(String(7))
    origin: Mapped[RectificationOrigin] = mapped_column(str_enum(RectificationOrigin, "rect_origin"))
    origin_code: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    owner_cadre_id: Mapped[int | None] = mapped_column(ForeignKey("cadre.id"))
    deadline: Mapped[date] = mapped_column(Date)
    evidence: Mapped[str] = mapped_column(Text, default="")
    closed: Mapped[bool] = mapped_column(Boolean, default=False)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
