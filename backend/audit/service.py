"""Writing audit rows. Every service that changes the county's lists or shows a person's full data calls
`record` in the same transaction as the change, so a change and its audit row commit or roll back together."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.audit.models import AuditEntry
from backend.org.models import Town, Village

# What a personal-data field shows in an audit row: that it changed, never the value.
CHANGED_PERSONAL = "（已修改）"


class Actor(Protocol):
    """Who acts: a user account (auth sits above the audit log, so accounts can record their own changes)."""

    id: int
    username: str


@dataclass(frozen=True)
class Place:
    """Where a change happened; the most precise level known. Villages imply their town and county."""

    county_id: int | None = None
    town_id: int | None = None
    village_id: int | None = None


def place_of_village(session: Session, village_id: int) -> Place:
    row = session.execute(
        select(Town.county_id, Village.town_id).join(Town, Town.id == Village.town_id).where(Village.id == village_id)
    ).one()
    return Place(county_id=row.county_id, town_id=row.town_id, village_id=village_id)


def place_of_town(session: Session, town_id: int) -> Place:
    return Place(county_id=session.scalar(select(Town.county_id).where(Town.id == town_id)), town_id=town_id)


def diff(before: dict[str, Any], after: dict[str, Any], personal: frozenset[str] = frozenset()) -> dict[str, list[Any]]:
    """{field: [before, after]} for the fields that differ; a personal field's values are replaced by a marker
    (the audit log must not become a second, unencrypted copy of phone and ID numbers)."""
    changes: dict[str, list[Any]] = {}
    for field in sorted(before.keys() | after.keys()):
        old, new = before.get(field), after.get(field)
        if old == new:
            continue
        if field in personal:
            changes[field] = [None if old is None else CHANGED_PERSONAL, None if new is None else CHANGED_PERSONAL]
        else:
            changes[field] = [_plain(old), _plain(new)]
    return changes


def _plain(value: Any) -> Any:
    """JSON-safe: dates, enums and the like as their text."""
    return value if value is None or isinstance(value, (bool, int, float, str)) else str(value)


def record(
    session: Session,
    actor: Actor | None,
    action: str,
    target_type: str,
    target_id: int | None,
    summary: str,
    place: Place,
    changes: dict[str, list[Any]] | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        actor_id=actor.id if actor else None,
        actor_label=actor.username if actor else "命令行",
        county_id=place.county_id,
        town_id=place.town_id,
        village_id=place.village_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        summary=summary[:200],
        changes=changes or {},
    )
    session.add(entry)
    session.flush()
    return entry
