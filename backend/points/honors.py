"""Honors within a village: monthly / quarterly / annual rankings and 星级文明户 star bands.

The score of a period is the net of what the panel decided in its months (earn, deduct, veto and
correction entries; base scores and shop movements do not count). Ties share a rank and the next rank
is skipped ("standard competition ranking": 60, 60, 50 → 1, 1, 3); within a tie the list is ordered by
household number. A household vetoed (一票否决) in any month of the period is listed without a rank and
gets no honor. Star bands (RuleBook.star_bands, thresholds as data) apply to annual scores.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace
from datetime import date

from sqlalchemy import Integer, Select, String, bindparam, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import Subquery

from backend.auth.scope import Scope, load_village
from backend.crypto import mask_name
from backend.errors import InvalidRequest
from backend.months import Month
from backend.org.models import Household, Resident
from backend.points.ledger import PointsSummary, household_summary
from backend.points.models import EntryKind, LedgerEntry
from backend.points.rules import active_rule_book
from backend.timeutil import today_local

SCORED_KINDS = (EntryKind.earn, EntryKind.deduct, EntryKind.veto, EntryKind.correction)
PERIOD_KINDS = ("month", "quarter", "year")
# How many places of a ranking are an honor.
HONORED_PLACES = 3
_PERIOD_KEY = {
    "month": re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$"),
    "quarter": re.compile(r"^(\d{4})-Q([1-4])$"),
    "year": re.compile(r"^(\d{4})$"),
}
STAR_LABELS = {1: "一星", 2: "二星", 3: "三星", 4: "四星", 5: "五星"}


@dataclass(frozen=True)
class Period:
    """A month, quarter or year a village ranks its households over: the business months first..last."""

    kind: str
    key: str  # 2026-10 / 2026-Q4 / 2026
    first_month: Month
    last_month: Month

    @property
    def months(self) -> tuple[str, ...]:
        """Its months as ledger entries name them."""
        return tuple(str(month) for month in self.first_month.through(self.last_month))

    @property
    def label(self) -> str:
        if self.kind == "month":
            return f"{self.first_month.year}年{self.first_month.month}月"
        if self.kind == "quarter":
            return f"{self.first_month.year}年第{self.key[-1]}季度"
        return f"{self.key}年度"

    @property
    def last_day(self) -> date:
        return self.last_month.last


def period(kind: str, key: str) -> Period:
    match = _PERIOD_KEY.get(kind, re.compile("^$")).match(key)
    if match is None:
        message = "期间格式应为 2026-10（月）、2026-Q4（季度）或 2026（年度）"
        raise InvalidRequest(message, errors={"period": [message]})
    year = int(match.group(1))
    if kind == "month":
        first, count = int(match.group(2)), 1
    elif kind == "quarter":
        first, count = (int(match.group(2)) - 1) * 3 + 1, 3
    else:
        first, count = 1, 12
    first_month = Month(year, first)
    return Period(kind, key, first_month, first_month.shift(count - 1))


def period_containing(kind: str, on: date) -> Period:
    key = {"month": str(Month.of(on)), "quarter": f"{on.year}-Q{(on.month - 1) // 3 + 1}", "year": str(on.year)}[kind]
    return period(kind, key)


def previous_period(kind: str, on: date) -> Period:
    return period_containing(kind, period_containing(kind, on).first_month.shift(-1).first)


@dataclass(frozen=True)
class RankRow:
    household_id: int
    household_number: str
    score: int
    vetoed: bool
    rank: int | None = None
    stars: int | None = None


def star_level(bands: list[dict[str, int]] | None, score: int) -> int | None:
    """The highest band whose threshold the score reaches (thresholds inclusive); a score ≤ 0 earns none."""
    levels = [band["stars"] for band in bands or [] if score >= band["min_points"] and score > 0]
    return max(levels) if levels else None


def _scores(village_id: int, per: Period) -> Subquery:
    """Per household of the village with scored entries in the period: score and number of vetoes."""
    return (
        select(
            LedgerEntry.household_id,
            func.sum(LedgerEntry.amount).label("score"),
            func.count(LedgerEntry.id).filter(LedgerEntry.kind == EntryKind.veto).label("vetoes"),
        )
        .where(
            LedgerEntry.village_id == village_id,
            LedgerEntry.month.in_(per.months),
            LedgerEntry.kind.in_(SCORED_KINDS),
        )
        .group_by(LedgerEntry.household_id)
        .subquery()
    )


def _bands(session: Session, village_id: int, per: Period) -> list[dict[str, int]] | None:
    return active_rule_book(session, village_id, per.last_day).star_bands if per.kind == "year" else None


def village_ranking(session: Session, village_id: int, per: Period) -> list[RankRow]:
    """Every household of the village with its score for the period: ranked ones first, vetoed last."""
    sums = _scores(village_id, per)
    rows = session.execute(
        select(Household.id, Household.number, sums.c.score, sums.c.vetoes)
        .outerjoin(sums, sums.c.household_id == Household.id)
        .where(Household.village_id == village_id)
    ).all()
    entries = [RankRow(hid, number, score or 0, bool(vetoes)) for hid, number, score, vetoes in rows]
    eligible = sorted((r for r in entries if not r.vetoed), key=lambda r: (-r.score, r.household_number))
    bands = _bands(session, village_id, per)
    ranked: list[RankRow] = []
    for position, row in enumerate(eligible, start=1):
        rank = ranked[-1].rank if ranked and ranked[-1].score == row.score else position
        ranked.append(replace(row, rank=rank, stars=star_level(bands, row.score)))
    return ranked + sorted((r for r in entries if r.vetoed), key=lambda r: r.household_number)


@functools.cache
def _places_statement(count: int) -> Select:
    """The query behind places_in_village for `count` periods, built once per count: bound parameters
    (village_id, household_id, first_<i>/last_<i> months) keep it constant, so SQLAlchemy's compiled
    cache key is memoized too. One CTE scans the village's scored entries of all periods once; its
    columns are each period's score and veto count per household (NULL score: nothing in that period)."""
    village_id, household_id = bindparam("village_id", type_=Integer), bindparam("household_id", type_=Integer)
    in_period = [
        LedgerEntry.month.between(bindparam(f"first_{i}", type_=String), bindparam(f"last_{i}", type_=String))
        for i in range(count)
    ]
    columns = []
    for i, condition in enumerate(in_period):
        columns.append(func.sum(LedgerEntry.amount).filter(condition).label(f"score_{i}"))
        columns.append(
            func.count(LedgerEntry.id).filter(condition, LedgerEntry.kind == EntryKind.veto).label(f"vetoes_{i}")
        )
    sums = (
        select(LedgerEntry.household_id, *columns)
        .where(LedgerEntry.village_id == village_id, LedgerEntry.kind.in_(SCORED_KINDS), or_(*in_period))
        .group_by(LedgerEntry.household_id)
        .cte("period_scores")
    )
    figures = []
    for i in range(count):
        score, vetoes = sums.c[f"score_{i}"], sums.c[f"vetoes_{i}"]
        own_score = func.coalesce(select(score).where(sums.c.household_id == household_id).scalar_subquery(), 0)
        figures += [
            own_score,
            func.coalesce(select(vetoes).where(sums.c.household_id == household_id).scalar_subquery(), 0),
            select(func.count()).select_from(sums).where(vetoes == 0, score > own_score).scalar_subquery(),
            select(func.count(score)).select_from(sums).scalar_subquery(),
        ]
    village_size = select(func.count(Household.id)).where(Household.village_id == village_id).scalar_subquery()
    return select(*figures, village_size)


def places_in_village(session: Session, household: Household, periods: list[Period]) -> list[RankRow]:
    """One household's rows of village_ranking for several periods (without stars), in one query and
    without building the rankings (the phone's home screen): its rank is 1 + the number of eligible
    households with a strictly higher score."""
    params: dict[str, object] = {"village_id": household.village_id, "household_id": household.id}
    for i, per in enumerate(periods):
        params[f"first_{i}"], params[f"last_{i}"] = str(per.first_month), str(per.last_month)
    *figures, village_size = session.execute(_places_statement(len(periods)), params).one()
    rows = []
    for i in range(len(periods)):
        score, vetoes, ahead, scored = figures[4 * i : 4 * i + 4]
        row = RankRow(household.id, household.number, score, bool(vetoes))
        if not vetoes:
            if score < 0:  # households without any scored entry stand at 0, ahead of a negative score
                ahead += village_size - scored
            row = replace(row, rank=ahead + 1)
        rows.append(row)
    return rows


def _with_stars(session: Session, household: Household, per: Period, row: RankRow) -> RankRow:
    # No star without a rank or without net points in the year: spares the rule-book lookup on most home screens.
    if row.rank is None or row.score <= 0:
        return row
    return replace(row, stars=star_level(_bands(session, household.village_id, per), row.score))


def place_in_village(session: Session, household: Household, per: Period, *, with_stars: bool = True) -> RankRow:
    """One household's row of village_ranking (see places_in_village)."""
    row = places_in_village(session, household, [per])[0]
    return _with_stars(session, household, per, row) if with_stars else row


@dataclass(frozen=True)
class Honor:
    kind: str  # rank | star
    period: str
    title: str
    rank: int | None = None
    stars: int | None = None


def household_honors(session: Session, household: Household, completed: list[tuple[Period, RankRow]]) -> list[Honor]:
    """Honors from the household's rows of the last completed month, quarter and year: a top place, and the
    year's star band."""
    honors: list[Honor] = []
    for per, place in completed:
        row = _with_stars(session, household, per, place)
        if row.rank is None:
            continue
        if row.rank <= HONORED_PLACES and row.score > 0:
            honors.append(Honor("rank", per.key, f"{per.label}积分全村第{row.rank}名", rank=row.rank))
        if row.stars:
            honors.append(
                Honor("star", per.key, f"{per.label}{STAR_LABELS.get(row.stars, '')}级文明户", stars=row.stars)
            )
    return honors


def summary_with_honors(session: Session, household_id: int) -> PointsSummary:
    """The home screen: balance and month from the ledger, plus the household's place in this year's village
    ranking so far (None while vetoed this year) and its honors; all four places in one query."""
    summary = household_summary(session, household_id)
    household = session.get_one(Household, household_id)
    today = today_local()
    completed = [previous_period(kind, today) for kind in PERIOD_KINDS]
    this_year, *places = places_in_village(session, household, [period_containing("year", today), *completed])
    return replace(
        summary,
        rank_in_village=this_year.rank,
        honors=household_honors(session, household, list(zip(completed, places, strict=True))),
    )


@dataclass(frozen=True)
class NamedRankRow:
    row: RankRow
    masked_name: str


def named_ranking(session: Session, scope: Scope, village_id: int, per: Period) -> list[NamedRankRow]:
    """The ranking as the admin page and its export show it: heads' names masked."""
    load_village(session, scope, village_id)
    rows = village_ranking(session, village_id, per)
    heads = dict(
        session.execute(
            select(Resident.household_id, Resident.name)
            .join(Household, Household.id == Resident.household_id)
            .where(Household.village_id == village_id, Resident.is_head.is_(True))
        ).all()
    )
    return [NamedRankRow(row, mask_name(heads.get(row.household_id))) for row in rows]
