"""Photos (evidence for records, visits, problems, claims, products) and per-county photo settings.

A photo is uploaded first (unclaimed), processed by a background job into a display copy and a
thumbnail, then claimed by exactly one owner (`owner_type`, `owner_id`) through
`backend.photos.service.attach_photos`. Owners live in other tables, so there is no foreign key to
them: the owner pair plus `village_id`/`household_id` (where the owner lives) decide who may see it.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.crypto import EncryptedString
from backend.db import Base, UTCDateTime, partial_index, str_enum
from backend.timeutil import now_utc

# Who may claim photos. Others add theirs here (no migration needed: the column is a plain string).
OWNER_TYPES = frozenset({"daily_record", "visit", "problem", "claim", "product", "problem_closing", "checkin"})
# Photos every villager of the village may see (the shelf of the 积分超市). Cadres' work evidence (check-ins, daily
# records, visits, problems) is for cadres and admins; a villager sees it only where it names their own household
# (a check-in names none).
VILLAGE_PUBLIC_OWNER_TYPES = frozenset({"product"})


class PhotoStatus(enum.StrEnum):
    processing = "processing"  # accepted, copies not made yet
    ready = "ready"  # display copy and thumbnail exist
    failed = "failed"  # the full decode failed (corrupt data past the header): never served


class PhotoFlag(enum.StrEnum):
    duplicate = "duplicate"  # the same bytes (SHA-256) under another owner or another uploader
    near_duplicate = "near_duplicate"  # a perceptual hash within a few bits of another photo's


PHOTO_FLAG_LABELS = {PhotoFlag.duplicate: "重复照片", PhotoFlag.near_duplicate: "疑似重复照片"}


class Photo(Base):
    __tablename__ = "photo"
    __table_args__ = (
        CheckConstraint("(owner_type IS NULL) = (owner_id IS NULL)", name="owner_pair"),
        CheckConstraint("width > 0 AND height > 0", name="size_positive"),
        Index("ix_photo_owner", "owner_type", "owner_id"),
        # The near-duplicate search walks one county's recent photos.
        Index("ix_photo_county_received", "county_id", "received_at"),
        # The hourly purge reads only unclaimed photos.
        partial_index("ix_photo_unclaimed_received", "received_at", where="owner_type IS NULL"),
    )

    # Random, unguessable (uuid4 hex): the phone and record APIs name photos by it.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    uploader_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    # The uploader's county at upload time: picks the photo settings (label) before any owner exists.
    county_id: Mapped[int | None] = mapped_column(ForeignKey("county.id"))
    # Where the owner lives (set on upload when the uploader has one village, overridden by attach).
    village_id: Mapped[int | None] = mapped_column(ForeignKey("village.id"), index=True)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("household.id"))
    owner_type: Mapped[str | None] = mapped_column(String(20))
    owner_id: Mapped[int | None] = mapped_column(Integer)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Order within the owner, as the photo ids were given (the first is the cover).
    position: Mapped[int | None] = mapped_column(Integer)

    status: Mapped[PhotoStatus] = mapped_column(str_enum(PhotoStatus, "photo_status"), default=PhotoStatus.processing)
    error_code: Mapped[str | None] = mapped_column(String(40))
    format: Mapped[str] = mapped_column(String(8))  # jpeg / png / webp, decided from the bytes
    byte_size: Mapped[int] = mapped_column(Integer)
    # Upright size (EXIF orientation applied) of the original.
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    # 64-bit difference hash (dHash) as 16 hex digits, set by the processing job.
    phash: Mapped[str | None] = mapped_column(String(16))
    flag: Mapped[PhotoFlag | None] = mapped_column(str_enum(PhotoFlag, "photo_flag"))
    duplicate_of_id: Mapped[str | None] = mapped_column(ForeignKey("photo.id", ondelete="SET NULL"))

    # From EXIF when present; the server's receipt time is authoritative.
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # GPS is a person's location: encrypted at rest, never output except rounded for admins.
    gps_lat: Mapped[str | None] = mapped_column(EncryptedString())
    gps_lng: Mapped[str | None] = mapped_column(EncryptedString())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # Words for the visible 温馨照片 label (when the county turns it on), sent with the upload.
    label_event: Mapped[str | None] = mapped_column(String(30))
    label_place: Mapped[str | None] = mapped_column(String(40))

    @property
    def gps(self) -> tuple[float, float] | None:
        if self.gps_lat is None or self.gps_lng is None:
            return None
        return float(self.gps_lat), float(self.gps_lng)


class PhotoSettings(Base):
    """Per-county photo practice: whether display copies carry the visible time/place/event label."""

    __tablename__ = "photo_settings"

    county_id: Mapped[int] = mapped_column(ForeignKey("county.id"), primary_key=True)
    label_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc, onupdate=now_utc)
