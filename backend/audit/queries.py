"""The audit log as admins read it: newest first, limited to the reader's part of the tree."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Select, false, select
from sqlalchemy.orm import Session

from backend.audit.models import AuditEntry
from backend.pagination import PER_PAGE, Page, page_bounds

ACTION_LABELS = {
    "create": "新建",
    "update": "修改",
    "retire": "停用",
    "restore": "恢复",
    "move": "迁移",
    "reveal": "查看完整信息",
    "import": "导入",
    "apply": "执行导入",
    "issue": "发放",
    "revoke": "作废",
    "unbind": "解绑",
    "bind": "绑定",
    "print": "打印明白卡",
    "invite": "生成邀请码",
}

TARGET_LABELS = {
    "county": "县",
    "town": "乡镇",
    "village": "行政村",
    "grid": "网格",
    "household": "农户",
    "resident": "家庭成员",
    "cadre": "驻村干部",
    "posting": "驻村任职",
    "pairing": "帮扶结对",
    "user": "账号",
    "binding_code": "绑定码",
    "import": "Excel导入",
}


class Reader(Protocol):
    """An admin account: exactly one region anchor is set (auth.accounts clears the others)."""

    county_id: int | None
    town_id: int | None
    village_id: int | None


def _visible_to(reader: Reader) -> ColumnElement[bool]:
    """A county admin reads the county's rows, a town admin the town's, a review panel its village's."""
    if reader.county_id is not None:
        return AuditEntry.county_id == reader.county_id
    if reader.town_id is not None:
        return AuditEntry.town_id == reader.town_id
    if reader.village_id is not None:
        return AuditEntry.village_id == reader.village_id
    return false()


def audit_query(
    reader: Reader, *, action: str | None = None, target_type: str | None = None
) -> Select[tuple[AuditEntry]]:
    stmt = select(AuditEntry).where(_visible_to(reader))
    if action:
        stmt = stmt.where(AuditEntry.action.like(f"%.{action}"))
    if target_type:
        stmt = stmt.where(AuditEntry.target_type == target_type)
    return stmt


@dataclass(frozen=True)
class AuditRow:
    at: datetime
    actor: str
    action: str
    action_label: str
    target_type: str
    target_id: int | None
    summary: str
    changes: dict[str, Any]

    def changes_text(self) -> str:
        return "；".join(f"{field}: {before} → {after}" for field, (before, after) in self.changes.items())


def _row(entry: AuditEntry) -> AuditRow:
    verb = entry.action.rsplit(".", 1)[-1]
    return AuditRow(
        entry.at,
        entry.actor_label,
        entry.action,
        ACTION_LABELS.get(verb, verb),
        entry.target_type,
        entry.target_id,
        entry.summary,
        entry.changes or {},
    )


def audit_page(
    session: Session,
    reader: Reader,
    *,
    action: str | None = None,
    target_type: str | None = None,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> Page[AuditRow]:
    base = audit_query(reader, action=action, target_type=target_type)
    total, page = page_bounds(session, base, page, per_page)
    entries = session.scalars(
        base.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(per_page).offset((page - 1) * per_page)
    )
    return Page([_row(e) for e in entries], page, per_page, total)
