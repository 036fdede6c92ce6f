"""Idempotency keys for writes a phone may retry on a weak signal.

The record is inserted before the write runs, in the same transaction, so a replay either
sees the committed first answer or waits on the unique index and then sees it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from backend.db import Base, UTCDateTime
from backend.errors import IdempotencyMismatch
from backend.timeutil import now_utc


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    key: Mapped[str] = mapped_column(String(80))
    request_hash: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc, index=True)


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: str


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    """Same endpoint and same JSON (key order ignored) → same fingerprint."""
    try:
        canonical = json.dumps(json.loads(body or b"null"), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = body
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + canonical).hexdigest()


def find(session: Session, user_id: int, key: str, fingerprint: str) -> StoredResponse | None:
    record = session.scalar(
        select(IdempotencyRecord).where(IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key)
    )
    if record is None:
        return None
    if record.request_hash != fingerprint:
        raise IdempotencyMismatch()
    if record.response_status is None:
        return None
    return StoredResponse(record.response_status, record.response_body or "")


def claim_key(session: Session, user_id: int, key: str, fingerprint: str) -> IdempotencyRecord:
    """Insert the key first; a concurrent replay blocks on the unique index until we commit."""
    record = IdempotencyRecord(user_id=user_id, key=key, request_hash=fingerprint)
    session.add(record)
    session.flush()
    return record


def remember(session: Session, record: IdempotencyRecord, status: int, body: str) -> None:
    record.response_status = status
    record.response_body = body
    session.flush()
