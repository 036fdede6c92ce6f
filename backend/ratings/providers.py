"""Input providers: where a scheme's automatic inputs come from.

A scheme indicator names an input key (e.g. "attendance_rate"). At compile time the key is looked up
in `PROVIDERS`; a provider is a function

    provider(session, subject: Subject, period: Period) -> InputValue | None

returning the value (a rate in 0..1, or a count for keys ending in "_households"/"_count") and the
records it was computed from (`SourceRef`: a table and ids, or a query description with a count), so
every score can show its records. Returning None means "no data for this subject and period".

A key registered with no provider (`None`) is *not available*: the indicator falls back to the
rater's manual entry, and the UI says so. Each area's inputs live in a module of backend/ratings/inputs/
(points: activity and vetoes; records: attendance, coverage, closure; surveys: satisfaction), which reads
that area's records and registers its providers:

    from backend.ratings.providers import InputValue, SourceRef, provide

    @provide("attendance_rate")
    def attendance_rate(session, subject, period):
        ...aggregate check-ins of subject.village_id between period.start and period.end...
        return InputValue(days_on_post / days_required, [SourceRef("checkin", query="...", count=n)])

and is named in INPUT_MODULES. This registry imports none of them, and no domain at all: they are
loaded on first use (`load_inputs`), so the areas below ratings never import ratings.

For a county of hundreds of villages, register the batch form instead (one query per town):

    @provide_many("attendance_rate")
    def attendance_rate(session, subjects, period) -> dict[Subject, InputValue]: ...

`provide_many` registers the single-subject form too. The compile prefetches every village input of a
town through `gather_many`; cadre and party-member inputs go through the single-subject form.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any

from sqlalchemy.orm import Session

from backend.months import Month


@dataclass(frozen=True)
class Period:
    """What ratings are compiled for: a business month "2026-05" or a half year "2026-H1", as its months."""

    label: str
    months: tuple[Month, ...]

    @classmethod
    def month(cls, label: str) -> Period:
        month = Month.parse(label)
        return cls(str(month), (month,))

    @classmethod
    def half_year(cls, label: str) -> Period:
        first = Month(int(label[:4]), 1 if label[5:] == "H1" else 7)
        return cls(label, tuple(first.through(first.shift(5))))

    @property
    def start(self) -> date:
        """The first day, inclusive (local date)."""
        return self.months[0].first

    @property
    def end(self) -> date:
        """The last day, inclusive (local date)."""
        return self.months[-1].last

    def month_keys(self) -> list[str]:
        """The months as ledger entries and results name them."""
        return [str(month) for month in self.months]


@dataclass(frozen=True)
class Subject:
    """What is rated: a village (its committee/work team), a cadre (first secretary), or a party member."""

    type: str  # "village" | "cadre" | "party_member"
    id: int
    village_id: int


@dataclass(frozen=True)
class SourceRef:
    type: str  # table or record kind, e.g. "ledger_entry", "rating_entry"
    ids: tuple[int, ...] = ()
    query: str = ""  # when the source is an aggregate: what was counted
    count: int | None = None


@dataclass(frozen=True)
class InputValue:
    value: float
    sources: list[SourceRef] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        # Built by hand: dataclasses.asdict deep-copies and was a tenth of a large county's compile.
        return {
            "value": self.value,
            "sources": [{"type": s.type, "ids": list(s.ids), "query": s.query, "count": s.count} for s in self.sources],
        }


Provider = Callable[[Session, Subject, Period], InputValue | None]

# Every input key a scheme may name. None = registered but not wired (rater enters it by hand); the
# modules of INPUT_MODULES fill them in when loaded.
PROVIDERS: dict[str, Provider | None] = {
    "attendance_rate": None,  # inputs/records.py: check-ins and leave (在岗率)
    "visit_coverage_rate": None,  # inputs/records.py: visits to paired households (走访覆盖率)
    "problem_closure_rate": None,  # inputs/records.py: problem ledger (问题销号率)
    "survey_satisfaction_rate": None,  # inputs/surveys.py: frozen results (群众满意率)
    "points_activity_rate": None,  # inputs/points.py: households that earned points (积分参与率)
    "points_vetoed_households": None,  # inputs/points.py: one-vote vetoes (一票否决)
}
INPUT_MODULES = ("backend.ratings.inputs.points", "backend.ratings.inputs.records", "backend.ratings.inputs.surveys")

INPUT_LABELS = {
    "attendance_rate": "在岗率（考勤打卡）",
    "visit_coverage_rate": "走访覆盖率",
    "problem_closure_rate": "问题销号率",
    "survey_satisfaction_rate": "群众满意率（问卷）",
    "points_activity_rate": "积分参与率",
    "points_vetoed_households": "积分一票否决户数",
}

SOURCE_LIMIT = 50  # ids listed per source; the query description covers the rest


def provide(key: str) -> Callable[[Provider], Provider]:
    def register(func: Provider) -> Provider:
        if PROVIDERS.get(key) is not None:
            raise ValueError(f"input provider {key} registered twice")
        PROVIDERS[key] = func
        return func

    return register


@cache
def load_inputs() -> None:
    """Import the input modules once; each registers its providers as it loads."""
    for name in INPUT_MODULES:
        importlib.import_module(name)


def available(key: str) -> bool:
    load_inputs()
    return PROVIDERS.get(key) is not None


def gather(session: Session, keys: set[str], subject: Subject, period: Period) -> dict[str, dict[str, Any]]:
    """Every input the scheme needs, as JSON for the result: {"value", "sources"} or {"available": False}."""
    load_inputs()
    out: dict[str, dict[str, Any]] = {}
    for key in sorted(keys):
        provider = PROVIDERS.get(key)
        value = provider(session, subject, period) if provider else None
        out[key] = {"available": False} if value is None else {"available": True, **value.to_json()}
    return out


ManyProvider = Callable[[Session, list[Subject], Period], dict[Subject, InputValue]]

# Optional batch forms: one query for all the villages of a town instead of one per village. The compile
# uses them when present; `provide_many` also registers the single-subject form derived from it.
MANY: dict[str, ManyProvider] = {}


def provide_many(key: str) -> Callable[[ManyProvider], ManyProvider]:
    def register(func: ManyProvider) -> ManyProvider:
        MANY[key] = func
        provide(key)(lambda session, subject, period: func(session, [subject], period).get(subject))
        return func

    return register


def gather_many(
    session: Session, keys: set[str], subjects: list[Subject], period: Period
) -> dict[Subject, dict[str, dict[str, Any]]]:
    """`gather` for many subjects at once: batch providers run once, the others once per subject."""
    load_inputs()
    out: dict[Subject, dict[str, dict[str, Any]]] = {subject: {} for subject in subjects}
    for key in sorted(keys):
        if key in MANY:
            values = MANY[key](session, subjects, period)
            for subject in subjects:
                value = values.get(subject)
                out[subject][key] = {"available": False} if value is None else {"available": True, **value.to_json()}
        else:
            for subject in subjects:
                out[subject].update(gather(session, {key}, subject, period))
    return out
