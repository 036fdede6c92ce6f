"""Honors within a village: monthly / quarterly / annual rankings and 星级文明户 star bands.

The score of a period is the net of what the panel decided in its months (earn, deduct, veto and
correction entries; base scores and shop movements do not count). Ties share a rank and the next rank
is skipped ("standard competition ranking": 60, 60, 50 → 1, 1, 3); within a tie the list is ordered by
household number. A household vetoed (一票否决) in any month of the period is listed without a rank and
gets no honor. Star bands (RuleBook.star_bands, thresholds as data) apply to annual scores.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import Subquery

from backend.auth.scope import Scope, load_village
from backend.crypto import mask_name
from backend.errors import InvalidRequest
from backend.org.models import Household, Resident
from backend.points.ledger import PointsSummary, household_summary, month_of, month_start, next_month
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
    kind: str
    key: str  # 2026-10 / 2026-Q4 / 2026
    months: tuple[str, ...]

    @property
    def label(self) -> str:
        if self.kind == "month":
            return f"{self.key[:4]}年{int(self.key[5:])}月"
        if self.kind == "quarter":
            return f"{self.key[:4]}年第{self.key[-1]}季度"
        return f"{self.key}年度"

    @property
    def last_day(self) -> date:
        return month_start(next_month(self.months[-1])) - timedelta(days=1)


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
    months = [f"{year:04d}-{first:02d}"]
    while len(months) < count:
        months.append(next_month(months[-1]))
    return Period(kind, key, tuple(months))


def period_containing(kind: str, on: date) -> Period:
    key = {"month": month_of(on), "quarter": f"{on.year}-Q{(on.month - 1) // 3 + 1}", "year": str(on.year)}[kind]
    return period(kind, key)


def previous_period(kind: str, on: date) -> Period:
    return period_containing(kind, month_start(period_containing(kind, on).months[0]) - timedelta(days=1))


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


def place_in_village(session: Session, household: Household, per: Period, *, with_stars: bool = True) -> RankRow:
    """One household's row of village_ranking without building the whole ranking (the phone's home screen),
    in one query: its rank is 1 + the number of eligible households with a strictly higher score."""
    sums = _scores(household.village_id, per)
    own_score = func.coalesce(select(sums.c.score).where(sums.c.household_id == household.id).scalar_subquery(), 0)
    own_vetoes = func.coalesce(select(sums.c.vetoes).where(sums.c.household_id == household.id).scalar_subquery(), 0)
    score, vetoes, ahead, scored, village_size = session.execute(
        select(
            own_score,
            own_vetoes,
            select(func.count())
            .select_from(sums)
            .where(sums.c.vetoes == 0, sums.c.score > own_score)
            .scalar_subquery(),
            select(func.count()).select_from(sums).scalar_subquery(),
            select(func.count(Household.id)).where(Household.village_id == household.village_id).scalar_subquery(),
        )
    ).one()
    row = RankRow(household.id, household.number, score, bool(vetoes))
    if vetoes:
        return row
    if score < 0:  # households without any scored entry stand at 0, ahead of a negative score
        ahead += village_size - scored
    # No star without net points in the year: spares the rule-book lookup on most home screens.
    stars = star_level(_bands(session, household.village_id, per), score) if with_stars and score > 0 else None
    return replace(row, rank=ahead + 1, stars=stars)


@dataclass(frozen=True)
class Honor:
    kind: str  # rank | star
    period: str
    title: str
    rank: int | None = None
    stars: int | None = None


def household_honors(session: Session, household: Household, today: date) -> list[Honor]:
    """Honors from the last completed month, quarter and year: a top place, and the year's star band."""
    honors: list[Honor] = []
    for kind in PERIOD_KINDS:
        per = previous_period(kind, today)
        row = place_in_village(session, household, per)
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
    ranking so far (None while vetoed this year) and its honors."""
    summary = household_summary(session, household_id)
    household = session.get_one(Household, household_id)
    today = today_local()
    return replace(
        summary,
        rank_in_village=place_in_village(session, household, period_containing("year", today), with_stars=False).rank,
        honors=household_honors(session, household, today),
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
