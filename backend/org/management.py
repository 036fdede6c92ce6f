"""What every change to the region tree, its households and cadres shares: who may make it, how its text
fields are checked, and its audit row, written in the change's own transaction.

Town and county admins manage their part of the tree; a village review panel (村评议小组) reads it but
changes nothing: it reviews claims, while the register of households and cadres is the town's and county's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from sqlalchemy.orm import Session

from backend.audit.service import Place, diff, record
from backend.auth.models import Role, User
from backend.errors import Conflict, Forbidden, InvalidRequest
from backend.timeutil import today_local

MANAGERS = frozenset({Role.town_admin, Role.county_admin})


def require_manager(actor: User) -> None:
    if actor.role not in MANAGERS:
        raise Forbidden("只有乡镇或县管理员可以修改组织架构")


def require_county_admin(actor: User) -> None:
    if actor.role != Role.county_admin:
        raise Forbidden("只有县管理员可以执行此操作")


def clean_text(value: str | None, label: str, max_length: int, *, required: bool = True) -> str:
    """Trimmed text with no control characters, within the column's length; blank only when not required."""
    text = (value or "").strip()
    if required and not text:
        raise InvalidRequest(f"请填写{label}")
    if len(text) > max_length:
        raise InvalidRequest(f"{label}最多 {max_length} 个字")
    if not text.isprintable():
        raise InvalidRequest(f"{label}含有不可见字符")
    return text


def digits(value: str | None, label: str, length: int) -> str:
    code = (value or "").strip()
    if len(code) != length or not (code.isascii() and code.isdigit()):
        raise InvalidRequest(f"{label}应为 {length} 位数字")
    return code


def snapshot(row: object, fields: Iterable[str]) -> dict[str, Any]:
    """The audited fields of a row, to compare before and after a change."""
    return {name: getattr(row, name) for name in fields}


def retire_or_restore(
    session: Session,
    actor: User,
    verb: Literal["retire", "restore"],
    row: Any,
    fields: Iterable[str],
    place: Place,
    summary: str,
    personal: frozenset[str] = frozenset(),
) -> None:
    """Retire a town, village, grid, household or cadre from today (see retire_row), or bring a retired one back
    (retired by mistake, or in use again); audited as "<table>.retire" / "<table>.restore". A restore brings the
    row only: what retiring ended (postings, pairings, an account) stays ended and is set up again by hand, so
    nothing comes back that nobody looked at."""
    fields = tuple(fields)
    before = snapshot(row, fields)
    (retire_row if verb == "retire" else restore_row)(row, _WHAT[row.__tablename__])
    session.flush()
    after = snapshot(row, fields)
    audit(session, actor, f"{row.__tablename__}.{verb}", row.id, summary, place, before, after, personal)


_WHAT = {"town": "乡镇", "village": "行政村", "grid": "网格", "household": "户", "cadre": "驻村干部"}


def audit(
    session: Session,
    actor: User,
    action: str,
    target_id: int | None,
    summary: str,
    place: Place,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    personal: frozenset[str] = frozenset(),
) -> None:
    """One audit row: `action` is "<target>.<verb>", its target type the part before the dot."""
    target_type = action.split(".", 1)[0]
    record(session, actor, action, target_type, target_id, summary, place, diff(before or {}, after or {}, personal))


def retire_row(row: Any, what: str) -> None:
    """Retire (停用/注销) from today: the row stays in history, lists and choices hide it."""
    if row.retired_on is not None:
        raise Conflict(f"该{what}已于 {row.retired_on.isoformat()} 停用")
    row.retired_on = today_local()


def restore_row(row: Any, what: str) -> None:
    if row.retired_on is None:
        raise Conflict(f"该{what}未停用")
    row.retired_on = None
