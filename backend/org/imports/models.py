"""One Excel import: the uploaded file, where its dry run and apply stand, and what they found."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, UTCDateTime, str_enum
from backend.timeutil import now_utc


class ImportStatus(enum.StrEnum):
    checking = "checking"  # the dry run is queued or running
    ready = "ready"  # dry run without problems: waits for the admin's confirmation
    invalid = "invalid"  # the dry run (or the re-check at confirmation) found problems; nothing written
    applying = "applying"  # confirmed: the apply is queued or running
    applied = "applied"
    failed = "failed"  # the apply broke off; nothing written


IMPORT_STATUS_LABELS = {
    ImportStatus.checking: "检查中",
    ImportStatus.ready: "待确认",
    ImportStatus.invalid: "有问题",
    ImportStatus.applying: "导入中",
    ImportStatus.applied: "已导入",
    ImportStatus.failed: "导入失败",
}


class ImportRun(Base):
    """The file is kept in the row, so a worker on another machine reads the same bytes the admin uploaded, and
    confirming re-checks exactly what was previewed."""

    __tablename__ = "import_run"
    __table_args__ = (Index("ix_import_run_county_created", "county_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("county.id"))
    # Set for a town admin's import: only that town's villages may be written.
    town_id: Mapped[int | None] = mapped_column(ForeignKey("town.id"), index=True)
    file_name: Mapped[str] = mapped_column(String(200))
    file_data: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[ImportStatus] = mapped_column(str_enum(ImportStatus, "import_status"))
    progress: Mapped[int] = mapped_column(Integer, default=0)  # percent of the running step
    # {sheet: {"create": n, "update": n, "same": n}}
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # {sheet: {"create": [...], "update": [...], "same": [...]}}: a few masked example rows each
    preview: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # [{"sheet", "row", "column", "message"}], the first MAX_PROBLEMS of problem_count
    problems: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    problem_count: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    # When a queued or running step last moved (upload, confirmation, each progress write): a 检查中/导入中 run
    # that stops moving lost its job, and the reconciler fails it.
    progressed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
