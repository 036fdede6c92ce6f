"""入户走访: visits (and phone contacts) to households, the problems they raise, and monthly coverage of
each helper's paired households (包联户) against the county's rule."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Select,
    String,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session, aliased, selectinload

from backend.auth.models import User
from backend.auth.scope import Scope, filter_households, filter_villages, load_household, load_village
from backend.db import any_of, read_rows
from backend.months import Month
from backend.org.models import Cadre, Household, Pairing, Town, Village
from backend.photos.service import attach_photos
from backend.records.common import (
    WorkSettings,
    acting_cadre,
    capture,
    encode_location,
    settings_for_county,
)
from backend.records.models import Problem, Visit, VisitKind
from backend.records.problems import RaisedProblem, raise_problems


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
    captured_at: datetime | None = None,
) -> tuple[Visit, list[Problem]]:
    """A visit and its problems, as captured: the business day of its capture time decides the month it counts
    in for coverage (a visit made offline on 31 January and sent on 1 February is January's)."""
    cadre = acting_cadre(user)
    household = load_household(session, scope, household_id)
    moment = capture(captured_at)
    visit = Visit(
        cadre_id=cadre.id,
        author_id=user.id,
        household_id=household.id,
        village_id=household.village_id,
        kind=kind,
        at=moment.received_at,
        captured_at=moment.captured_at,
        local_date=moment.day,
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
        moment=moment,
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
    met: bool  # the county's rule, evaluated in SQL

    @property
    def visits_missing(self) -> int:
        return max(0, self.visits_required - self.period_visits)

    @property
    def contacts_missing(self) -> int:
        return max(0, self.contacts_required - self.contacts)


def coverage(
    session: Session, scope: Scope, month: Month, *, cadre_id: int | None = None, village_id: int | None = None
) -> list[CoverageRow]:
    """Each household paired during the month in the scope, its helper's visits against the rule: one query per
    county (its rule sets the window), usually one."""
    if village_id is not None:
        load_village(session, scope, village_id)
    villages = {village_id} if village_id is not None else scope.village_ids
    rows = []
    for rule, county_villages in _by_county(session, villages):
        start, end = period_of(month, rule.visit_period_months)
        period = str(start) if start == end else f"{start}~{end}"
        stmt = (
            _helper_visits(rule, named=True)
            .where(*([Pairing.cadre_id == cadre_id] if cadre_id is not None else []))
            .order_by(Village.code, Household.number)
        )
        params = _helper_visit_params(month, rule, county_villages)
        for r in session.execute(filter_households(stmt, scope, Household.id, Household.village_id), params):
            rows.append(
                CoverageRow(
                    household_id=r.household_id,
                    household_number=r.number,
                    village_id=r.village_id,
                    village_name=r.village_name,
                    cadre_id=r.cadre_id,
                    cadre_name=r.cadre_name,
                    visits=r.visits,
                    period=period,
                    period_visits=r.period_visits,
                    visits_required=rule.visits_required,
                    contacts=r.contacts,
                    contacts_required=rule.contacts_per_month,
                    last_visit_on=r.last_visit_on,
                    met=bool(r.met),
                )
            )
    return rows


@dataclass
class VillageCoverage:
    """A village's paired households against the rule, over one or more months (household-months)."""

    paired: int = 0
    met: int = 0
    short: set[int] = field(default_factory=set)  # households short in some month

    @property
    def rate(self) -> float | None:
        return self.met / self.paired if self.paired else None


def village_coverage(session: Session, village_ids: list[int], months: Sequence[Month]) -> dict[int, VillageCoverage]:
    """Coverage counts for many villages (the monthly ratings compile, one town per call): one query per month,
    counted per village in SQL, with the ids of the households short of the rule."""
    out: dict[int, VillageCoverage] = defaultdict(VillageCoverage)
    for rule, county_villages in _by_county(session, village_ids):
        for month in months:
            rows = read_rows(session, _village_counts(rule), _helper_visit_params(month, rule, county_villages))
            for village_id, paired, met, short in rows:
                found = out[village_id]
                found.paired += paired
                found.met += met
                if short:
                    found.short.update(map(int, short.split(",")))
    return out


@cache
def _village_counts(rule: WorkSettings) -> Select:
    """Per village: paired households, how many met the rule, and the ids of the others (built once per rule)."""
    rows = _helper_visits(rule, named=False).subquery()
    return select(
        rows.c.village_id,
        func.count(),
        func.sum(case((rows.c.met, 1), else_=0)),
        func.aggregate_strings(case((rows.c.met, None), else_=cast(rows.c.household_id, String)), ","),
    ).group_by(rows.c.village_id)


_COUNTIES = select(Village.id, Town.county_id).join(Town).where(any_of(Village.id, "villages")).order_by(Village.id)


def _by_county(session: Session, village_ids: Collection[int]) -> list[tuple[WorkSettings, list[int]]]:
    """The villages grouped by county, each group with its county's visiting rule."""
    if not village_ids:
        return []
    grouped: dict[int, list[int]] = defaultdict(list)
    for village_id, county_id in read_rows(session, _COUNTIES, {"villages": list(village_ids)}):
        grouped[county_id].append(village_id)
    return [(settings_for_county(session, county_id), ids) for county_id, ids in sorted(grouped.items())]


def _helper_visit_params(month: Month, rule: WorkSettings, village_ids: list[int]) -> dict[str, Any]:
    return {
        "villages": village_ids,
        "window_first": period_of(month, rule.visit_period_months)[0].first,
        "first": month.first,
        "next_first": month.next_first,
    }


@cache
def _helper_visits(rule: WorkSettings, *, named: bool) -> Select:
    """One row per household of some villages (one county) paired during a month, with its helper at the
    month's end (a later pairing replaces an earlier one) and that helper's visits, counted in SQL: visits in the
    rule's window up to the month's end, visits plus contacts in the month. Built once per rule; the villages and
    the month are parameters (`_helper_visit_params`)."""
    first, next_first = bindparam("first", type_=Date), bindparam("next_first", type_=Date)
    is_visit = Visit.kind == VisitKind.visit
    in_month = Visit.local_date >= first
    counted = [
        func.sum(case((is_visit, 1), else_=0)).label("period_visits"),
        func.sum(case((in_month, 1), else_=0)).label("contacts"),
    ]
    if named:
        counted += [
            func.sum(case((and_(is_visit, in_month), 1), else_=0)).label("visits"),
            type_coerce(func.max(case((is_visit, Visit.local_date))), Date).label("last_visit_on"),
        ]
    # The villages' visits in the window, by their village index, grouped before the join.
    visits = (
        select(Visit.household_id, Visit.cadre_id, *counted)
        .where(
            any_of(Visit.village_id, "villages"),
            Visit.local_date >= bindparam("window_first", type_=Date),
            Visit.local_date < next_first,
        )
        .group_by(Visit.household_id, Visit.cadre_id)
        .subquery()
    )
    later = aliased(Pairing)
    period_visits = func.coalesce(visits.c.period_visits, 0)
    contacts = func.coalesce(visits.c.contacts, 0)
    columns = [
        Pairing.household_id,
        Pairing.village_id,
        period_visits.label("period_visits"),
        contacts.label("contacts"),
        and_(period_visits >= rule.visits_required, contacts >= rule.contacts_per_month).label("met"),
    ]
    if named:
        columns += [
            Pairing.cadre_id,
            Household.number,
            Village.name.label("village_name"),
            Cadre.name.label("cadre_name"),
            func.coalesce(visits.c.visits, 0).label("visits"),
            visits.c.last_visit_on,
        ]
    stmt = (
        select(*columns)
        .select_from(Pairing)
        .outerjoin(visits, and_(visits.c.household_id == Pairing.household_id, visits.c.cadre_id == Pairing.cadre_id))
        .where(
            any_of(Pairing.village_id, "villages"),
            _during(Pairing, first, next_first),
            ~exists().where(
                any_of(later.village_id, "villages"),  # the same household: the same village
                later.household_id == Pairing.household_id,
                _during(later, first, next_first),
                or_(later.start_on > Pairing.start_on, and_(later.start_on == Pairing.start_on, later.id > Pairing.id)),
            ),
        )
    )
    if named:
        stmt = (
            stmt.join(Household, Household.id == Pairing.household_id)
            .join(Village, Village.id == Pairing.village_id)
            .join(Cadre, Cadre.id == Pairing.cadre_id)
        )
    return stmt


def _during(pairing: type[Pairing], first: ColumnElement[date], next_first: ColumnElement[date]) -> ColumnElement[bool]:
    return and_(pairing.start_on < next_first, or_(pairing.end_on.is_(None), pairing.end_on >= first))
