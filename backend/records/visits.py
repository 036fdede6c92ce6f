"""入户走访: visits (and phone contacts) to households, the problems they raise, and monthly coverage of
each helper's paired households (包联户) against the county's rule."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, selectinload

from backend.auth.models import User
from backend.auth.scope import Scope, filter_households, filter_villages, load_household, load_village
from backend.org.models import Cadre, Household, Pairing, Town, Village
from backend.records.common import Month, WorkSettings, acting_cadre, encode_location, settings_for_county
from backend.records.models import Problem, Visit, VisitKind
from backend.records.photos import attach_photos
from backend.records.problems import RaisedProblem, raise_problems
from backend.timeutil import now_utc, to_local


def record_visit(
    session: Session,
    scope: Scope,
    user: User,
    *,
    household_id: int,
    purpose: str,
    findings: str,
    kind: VisitKind = VisitKind.visit,
    lat: float | None = None,
    lng: float | None = None,
    photo_ids: Sequence[str] = (),
    problems: Sequence[RaisedProblem] = (),
) -> tuple[Visit, list[Problem]]:
    """A visit at the server's time (its business day decides the month it counts in) and its problems."""
    cadre = acting_cadre(user)
    household = load_household(session, scope, household_id)
    at = now_utc()
    visit = Visit(
        cadre_id=cadre.id,
        author_id=user.id,
        household_id=household.id,
        village_id=household.village_id,
        kind=kind,
        at=at,
        local_date=to_local(at).date(),
        purpose=purpose,
        findings=findings,
        location=encode_location(lat, lng),
    )
    session.add(visit)
    session.flush()
    attach_photos(
        session,
        actor=scope,
        photo_ids=photo_ids,
        owner_type="visit",
        owner_id=visit.id,
        village_id=household.village_id,
        household_id=household.id,
    )
    raised = raise_problems(
        session,
        user,
        raised=list(problems),
        village_id=household.village_id,
        household_id=household.id,
        source_type="visit",
        source_id=visit.id,
        default_owner_id=cadre.id,
    )
    return visit, raised


def visits_query(
    scope: Scope, month: Month, *, cadre_id: int | None = None, village_id: int | None = None
) -> Select[tuple[Visit]]:
    stmt = filter_villages(select(Visit), scope, Visit.village_id).where(
        Visit.local_date >= month.first, Visit.local_date < month.next_first
    )
    if scope.household_id is not None:
        stmt = stmt.where(Visit.id.is_(None))  # villagers read no visit ledger
    if cadre_id is not None:
        stmt = stmt.where(Visit.cadre_id == cadre_id)
    if village_id is not None:
        stmt = stmt.where(Visit.village_id == village_id)
    return stmt.options(selectinload(Visit.household))


def period_of(month: Month, period_months: int) -> tuple[Month, Month]:
    """The calendar window a month's visits count in: Jan–Feb, Mar–Apr… for a two-month rule."""
    start = Month(month.year, (month.month - 1) // period_months * period_months + 1)
    return start, start.shift(period_months - 1)


@dataclass(frozen=True)
class CoverageRow:
    household_id: int
    household_number: str
    village_id: int
    village_name: str
    cadre_id: int
    cadre_name: str  # clear text: callers mask
    visits: int  # this month, by the helper
    period: str  # "2025-01" or "2025-01~2025-02"
    period_visits: int  # in the window up to the end of this month
    visits_required: int
    contacts: int  # this month: contacts plus visits
    contacts_required: int
    last_visit_on: date | None

    @property
    def visits_missing(self) -> int:
        return max(0, self.visits_required - self.period_visits)

    @property
    def contacts_missing(self) -> int:
        return max(0, self.contacts_required - self.contacts)

    @property
    def met(self) -> bool:
        return self.visits_missing == 0 and self.contacts_missing == 0


def coverage(
    session: Session, scope: Scope, month: Month, *, cadre_id: int | None = None, village_id: int | None = None
) -> list[CoverageRow]:
    """Each household paired during the month in the scope, its helper's visits against the rule. Three queries."""
    if village_id is not None:
        load_village(session, scope, village_id)
    stmt = filter_households(_pairings(month), scope, Household.id, Household.village_id).where(
        *([Pairing.cadre_id == cadre_id] if cadre_id is not None else []),
        *([Household.village_id == village_id] if village_id is not None else []),
    )
    return _coverage_rows(session, month, stmt)


def village_coverage(session: Session, village_ids: list[int], month: Month) -> list[CoverageRow]:
    """`coverage` for many villages at once, without a scope (the monthly ratings compile, one town per call)."""
    return _coverage_rows(session, month, _pairings(month).where(Household.village_id.in_(village_ids)))


def coverage_rate(rows: list[CoverageRow]) -> float | None:
    """Share of paired households whose helper met the county's rule; no paired household is no data."""
    return sum(1 for r in rows if r.met) / len(rows) if rows else None


def _pairings(month: Month) -> Select:
    return (
        select(
            Pairing.cadre_id,
            Household.id,
            Household.number,
            Household.village_id,
            Village.name,
            Town.county_id,
        )
        .join(Household, Household.id == Pairing.household_id)
        .join(Village, Village.id == Household.village_id)
        .join(Town, Town.id == Village.town_id)
        .where(Pairing.start_on < month.next_first, or_(Pairing.end_on.is_(None), Pairing.end_on >= month.first))
        .order_by(Village.code, Household.number, Pairing.start_on)
    )


def _coverage_rows(session: Session, month: Month, pairings: Select) -> list[CoverageRow]:
    # The helper at the end of the month answers for it (a later pairing replaces an earlier one).
    current = {row.id: row for row in session.execute(pairings)}
    if not current:
        return []
    settings: dict[int, WorkSettings] = {
        county_id: settings_for_county(session, county_id) for county_id in {r.county_id for r in current.values()}
    }
    windows = {county_id: period_of(month, s.visit_period_months) for county_id, s in settings.items()}
    earliest = min(start for start, _end in windows.values())
    # By the households' villages (a visit carries its household's village): one index range per village,
    # where a list of thousands of household ids would not use the index well.
    visits = session.execute(
        select(Visit.household_id, Visit.cadre_id, Visit.kind, Visit.local_date).where(
            Visit.village_id.in_({r.village_id for r in current.values()}),
            Visit.local_date >= earliest.first,
            Visit.local_date < month.next_first,
        )
    ).all()
    by_household: dict[int, list[tuple[int, VisitKind, date]]] = defaultdict(list)
    for household_id, visitor, kind, day in visits:
        if household_id in current:
            by_household[household_id].append((visitor, kind, day))
    names = dict(
        session.execute(select(Cadre.id, Cadre.name).where(Cadre.id.in_({r.cadre_id for r in current.values()}))).all()
    )
    rows = []
    month_first = month.first
    window_first = {county_id: start.first for county_id, (start, _end) in windows.items()}
    labels = {
        county_id: str(start) if start == end else f"{start}~{end}" for county_id, (start, end) in windows.items()
    }
    visit = VisitKind.visit
    # Plain tuples: attribute access on result rows is slow in a loop over every paired household of a town.
    for helper, household_id, number, village_id, village_name, county_id in map(tuple, current.values()):
        rule = settings[county_id]
        own = [(kind, day) for visitor, kind, day in by_household.get(household_id, ()) if visitor == helper]
        in_month = [(kind, day) for kind, day in own if day >= month_first]
        since = window_first[county_id]
        period_visits = sum(1 for kind, day in own if kind == visit and day >= since)
        visit_days = [day for kind, day in own if kind == visit]
        rows.append(
            CoverageRow(
                household_id=household_id,
                household_number=number,
                village_id=village_id,
                village_name=village_name,
                cadre_id=helper,
                cadre_name=names.get(helper, ""),
                visits=sum(1 for kind, _day in in_month if kind == visit),
                period=labels[county_id],
                period_visits=period_visits,
                visits_required=rule.visits_required,
                contacts=len(in_month),
                contacts_required=rule.contacts_per_month,
                last_visit_on=max(visit_days) if visit_days else None,
            )
        )
    return rows
