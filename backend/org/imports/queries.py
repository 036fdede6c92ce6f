"""Import runs as the admin pages show them: a county admin sees the county's, a town admin its town's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, false, select
from sqlalchemy.orm import Session, defer

from backend.auth.models import Role, User
from backend.errors import NotFound, NotInScope
from backend.org.imports.models import IMPORT_STATUS_LABELS, ImportRun, ImportStatus
from backend.pagination import PER_PAGE, Page, page_bounds

RUNNING = frozenset({ImportStatus.checking, ImportStatus.applying})


def _visible_to(user: User) -> ColumnElement[bool]:
    if user.role == Role.county_admin:
        return ImportRun.county_id == user.county_id
    if user.role == Role.town_admin:
        return ImportRun.town_id == user.town_id
    return false()


@dataclass(frozen=True)
class RunRow:
    id: int
    file_name: str
    status: ImportStatus
    status_label: str
    progress: int
    problem_count: int
    created_at: datetime
    uploaded_by: str

    @property
    def running(self) -> bool:
        return self.status in RUNNING


def run_page(session: Session, user: User, page: int = 1, per_page: int = PER_PAGE) -> Page[RunRow]:
    base = select(ImportRun).where(_visible_to(user))
    total, page = page_bounds(session, base, page, per_page)
    stmt = (
        select(
            ImportRun.id,
            ImportRun.file_name,
            ImportRun.status,
            ImportRun.progress,
            ImportRun.problem_count,
            ImportRun.created_at,
            User.username,
        )
        .join(User, User.id == ImportRun.user_id)
        .where(_visible_to(user))
        .order_by(ImportRun.created_at.desc(), ImportRun.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    rows = [
        RunRow(
            r.id,
            r.file_name,
            r.status,
            IMPORT_STATUS_LABELS[r.status],
            r.progress,
            r.problem_count,
            r.created_at,
            r.username,
        )
        for r in session.execute(stmt)
    ]
    return Page(rows, page, per_page, total)


def load_run(session: Session, user: User, run_id: int) -> ImportRun:
    """A run the admin may see (without its file, which only the jobs read)."""
    run = session.get(ImportRun, run_id, options=[defer(ImportRun.file_data)])
    if run is None:
        raise NotFound("导入记录不存在")
    if not session.scalar(select(_visible_to(user)).select_from(ImportRun).where(ImportRun.id == run_id)):
        raise NotInScope()
    return run


def run_status(run: ImportRun) -> dict[str, Any]:
    """What the run page polls while a job runs."""
    return {
        "status": run.status.value,
        "status_label": IMPORT_STATUS_LABELS[run.status],
        "progress": run.progress,
        "running": run.status in RUNNING,
    }
