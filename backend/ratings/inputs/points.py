"""Points inputs: the share of households that earned points (积分参与率) and one-vote vetoes (一票否决)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from backend.db import any_of, read_rows
from backend.org.models import Household, Village
from backend.points.models import EntryKind, LedgerEntry
from backend.ratings.providers import SOURCE_LIMIT, InputValue, Period, SourceRef, Subject, provide_many


def _by_village(subjects: list[Subject]) -> dict[int, list[Subject]]:
    grouped: dict[int, list[Subject]] = {}
    for subject in subjects:
        grouped.setdefault(subject.village_id, []).append(subject)
    return grouped


# Built once, run for every town: per village its households and those that earned points in the months.
_ACTIVITY = select(
    Village.id,
    select(func.count()).where(Household.village_id == Village.id).correlate(Village).scalar_subquery(),
    select(func.count(distinct(LedgerEntry.household_id)))
    .where(
        LedgerEntry.village_id == Village.id,
        any_of(LedgerEntry.month, "months"),
        LedgerEntry.kind == EntryKind.earn,
    )
    .correlate(Village)
    .scalar_subquery(),
).where(any_of(Village.id, "villages"))

_VETOES = (
    select(LedgerEntry.village_id, LedgerEntry.id, LedgerEntry.household_id)
    .where(
        any_of(LedgerEntry.village_id, "villages"),
        any_of(LedgerEntry.month, "months"),
        LedgerEntry.kind == EntryKind.veto,
    )
    .order_by(LedgerEntry.id)
)


@provide_many("points_activity_rate")
def points_activity_rate(session: Session, subjects: list[Subject], period: Period) -> dict[Subject, InputValue]:
    """Share of the village's households that earned points in the period (积分参与率): both counts in one
    statement, each an index-only count per village."""
    villages = _by_village(subjects)
    params = {"villages": list(villages), "months": period.month_keys()}
    counted = {village_id: (count, active) for village_id, count, active in read_rows(session, _ACTIVITY, params)}
    out = {}
    for village_id, group in villages.items():
        households_count, count = counted.get(village_id, (0, 0))
        if not households_count:
            continue
        query = f"ledger_entry village={village_id} month∈{period.label} kind=earn, distinct households"
        value = InputValue(round(count / households_count, 4), [SourceRef("ledger_entry", query=query, count=count)])
        out.update({subject: value for subject in group})
    return out


@provide_many("points_vetoed_households")
def points_vetoed_households(session: Session, subjects: list[Subject], period: Period) -> dict[Subject, InputValue]:
    """Households hit by a one-vote veto (一票否决) in the period, with the veto entries themselves."""
    villages = _by_village(subjects)
    rows = read_rows(session, _VETOES, {"villages": list(villages), "months": period.month_keys()}).all()
    found: dict[int, list[Any]] = {village_id: [] for village_id in villages}
    for row in rows:
        found[row.village_id].append(row)
    out = {}
    for village_id, group in villages.items():
        hits = found[village_id]
        ids = tuple(r.id for r in hits[:SOURCE_LIMIT])
        query = f"ledger_entry village={village_id} month∈{period.label} kind=veto"
        value = InputValue(
            float(len({r.household_id for r in hits})), [SourceRef("ledger_entry", ids, query, len(hits))]
        )
        out.update({subject: value for subject in group})
    return out
