"""Cadre work as automatic inputs of the monthly ratings: attendance (在岗率), visit coverage (走访覆盖率) and
problem closure (问题销号率), with the definitions of the records pages (checkins, visits, problems).

Batch providers: one call per town gets every village (or cadre) of it. A village answers for its resident
work team's attendance and for the coverage and closure of the village; a cadre (first secretary) for their
own attendance and for the village they are posted to. A period of several months (half year) adds the
months up: days on post over required days, household-months meeting the rule over household-months.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.org.models import Cadre
from backend.ratings.providers import SOURCE_LIMIT, InputValue, Period, SourceRef, Subject, provide_many
from backend.records.checkins import Attendance, attendance_of, attendance_rate, team_attendance
from backend.records.problems import closure
from backend.records.visits import village_coverage


def _village_ids(subjects: list[Subject]) -> list[int]:
    return sorted({s.village_id for s in subjects})


def _ids(values: list[int]) -> str:
    return ",".join(map(str, values))


def _attendance_value(attendances: list[Attendance], label: str) -> InputValue | None:
    rate = attendance_rate(attendances)
    if rate is None:
        return None
    cadres = _ids(sorted({a.cadre_id for a in attendances}))
    required = sum(a.required for a in attendances)
    return InputValue(
        round(rate, 4),
        [
            SourceRef(
                "checkin",
                query=f"checkin cadre∈{{{cadres}}} {label} in_fence days on post, of {required} days required",
                count=sum(a.days_on_post for a in attendances),
            ),
            SourceRef(
                "leave_request",
                query=f"leave_request cadre∈{{{cadres}}} {label} approved leave days",
                count=sum(a.leave_days for a in attendances),
            ),
        ],
    )


@provide_many("attendance_rate")
def attendance_input(session: Session, subjects: list[Subject], period: Period) -> dict[Subject, InputValue]:
    """A village: its work team's days on post; a cadre: their own. Required days less approved leave."""
    villages = _village_ids([s for s in subjects if s.type == "village"])
    cadre_ids = sorted({s.id for s in subjects if s.type == "cadre"})
    teams: dict[int, list[Attendance]] = defaultdict(list)
    own: dict[int, list[Attendance]] = defaultdict(list)
    counties: dict[int, int] = {}
    for month in period.months:
        known: dict[int, Attendance] = {}
        if villages:
            for village_id, team in team_attendance(session, villages, month).items():
                teams[village_id] += team
                known.update((a.cadre_id, a) for a in team)
        # A first secretary is on the team of their village: computed above, unless posted elsewhere.
        rest = [cadre_id for cadre_id in cadre_ids if cadre_id not in known]
        if rest:
            missing = [cadre_id for cadre_id in rest if cadre_id not in counties]
            if missing:  # read once, not again for each month of a longer period
                counties.update(
                    session.execute(select(Cadre.id, Cadre.county_id).where(Cadre.id.in_(missing))).tuples().all()
                )
            known.update((a.cadre_id, a) for a in attendance_of(session, [(c, counties[c]) for c in rest], month))
        for cadre_id in cadre_ids:
            own[cadre_id].append(known[cadre_id])
    out = {}
    for subject in subjects:
        found = teams.get(subject.village_id, []) if subject.type == "village" else own.get(subject.id, [])
        value = _attendance_value(found, period.label) if subject.type in ("village", "cadre") else None
        if value is not None:
            out[subject] = value
    return out


@provide_many("visit_coverage_rate")
def coverage_input(session: Session, subjects: list[Subject], period: Period) -> dict[Subject, InputValue]:
    """Paired households whose helper met the county's visit rule, over the paired households of the village."""
    values = {}
    for village_id, found in village_coverage(session, _village_ids(subjects), period.months).items():
        if found.rate is None:
            continue
        short = sorted(found.short)
        values[village_id] = InputValue(
            round(found.rate, 4),
            [
                SourceRef(
                    "pairing",
                    query=f"paired households village={village_id} {period.label}, "
                    f"{found.met} met the county's visit rule",
                    count=found.paired,
                ),
                SourceRef(
                    "household",
                    tuple(short[:SOURCE_LIMIT]),
                    f"households short of visits village={village_id} {period.label}",
                    len(short),
                ),
            ],
        )
    return {s: values[s.village_id] for s in subjects if s.village_id in values}


@provide_many("problem_closure_rate")
def closure_input(session: Session, subjects: list[Subject], period: Period) -> dict[Subject, InputValue]:
    """Problems of the village due in the period that were closed (销号) by their deadline."""
    villages = _village_ids(subjects)
    values = {}
    for village_id, found in closure(session, villages, period.start, period.end).items():
        if found.rate is None:
            continue
        values[village_id] = InputValue(
            round(found.rate, 4),
            [
                SourceRef(
                    "problem",
                    tuple(found.due[:SOURCE_LIMIT]),
                    f"problem village={village_id} deadline∈{period.label}, {len(found.on_time)} closed on time",
                    len(found.due),
                ),
                SourceRef(
                    "problem",
                    tuple(found.late[:SOURCE_LIMIT]),
                    f"problem village={village_id} deadline∈{period.label} not closed by the deadline",
                    len(found.late),
                ),
            ],
        )
    return {s: values[s.village_id] for s in subjects if s.village_id in values}
