"""Rankings within a village, 星级文明户 bands, and what a one-vote veto (一票否决) takes away."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from backend.org.models import Household
from backend.points.honors import (
    period,
    period_containing,
    place_in_village,
    previous_period,
    star_level,
    village_ranking,
)
from backend.points.ledger import redemption_blocked_by_veto
from backend.points.models import RuleBook
from tests.factories_points import LAST_DAY_OF_PREV, PREV_MONTH, TODAY, record_and_approve

BANDS = [{"stars": 5, "min_points": 60}, {"stars": 4, "min_points": 40}, {"stars": 3, "min_points": 20}]


@pytest.mark.parametrize(
    ("score", "stars"),
    [(19, None), (20, 3), (39, 3), (40, 4), (59, 4), (60, 5), (500, 5), (-5, None)],
)
def test_star_bands_start_exactly_at_their_threshold(score: int, stars: int | None) -> None:
    assert star_level(BANDS, score) == stars


def test_no_bands_configured_means_no_stars() -> None:
    assert star_level(None, 100) is None
    assert star_level([], 100) is None


def test_periods_cover_their_months() -> None:
    assert period("quarter", "2026-Q4").months == ("2026-10", "2026-11", "2026-12")
    assert len(period("year", "2026").months) == 12
    assert period_containing("month", date(2026, 3, 31)).key == "2026-03"
    assert previous_period("quarter", date(2026, 1, 15)).key == "2025-Q4"
    assert previous_period("year", date(2026, 1, 15)).label == "2025年度"


def test_ties_share_a_rank_and_the_next_rank_is_skipped(database, world) -> None:
    day = LAST_DAY_OF_PREV
    with database() as s:
        record_and_approve(s, world, "H2", "P09", day)  # 002: +10
        record_and_approve(s, world, "H6", "P19", day)  # 003: +10
        record_and_approve(s, world, "H1", "P10", day)  # 001: +5
        rows = village_ranking(s, world.ids["V1"], period("month", PREV_MONTH))
    assert [(r.household_number, r.score, r.rank) for r in rows] == [("002", 10, 1), ("003", 10, 1), ("001", 5, 3)]


def test_a_vetoed_household_gets_no_rank_no_honor_and_may_not_redeem_that_month(api, database, world) -> None:
    with database() as s:
        record_and_approve(s, world, "H1", "P19", LAST_DAY_OF_PREV)  # +10: top of last month…
        record_and_approve(s, world, "H1", "V01", LAST_DAY_OF_PREV - timedelta(days=1))  # …but vetoed
        record_and_approve(s, world, "H2", "P10", LAST_DAY_OF_PREV)
        rows = village_ranking(s, world.ids["V1"], period("month", PREV_MONTH))
        assert [(r.household_number, r.rank, r.vetoed) for r in rows] == [
            ("002", 1, False),
            ("003", 2, False),
            ("001", None, True),
        ]
        assert redemption_blocked_by_veto(s, world.ids["H1"], LAST_DAY_OF_PREV)
        assert not redemption_blocked_by_veto(s, world.ids["H1"], TODAY)  # a new month
        assert not redemption_blocked_by_veto(s, world.ids["H2"], LAST_DAY_OF_PREV)
    assert api("villager").get("/points/summary").json["honors"] == []
    neighbour = api("villager_neighbour").get("/points/summary").json
    monthly = [h for h in neighbour["honors"] if h["period"] == PREV_MONTH]
    assert [(h["kind"], h["rank"]) for h in monthly] == [("rank", 1)]
    assert "第1名" in monthly[0]["title"]


def test_a_county_may_let_vetoed_households_redeem(database, world) -> None:
    with database() as s:
        record_and_approve(s, world, "H1", "V02", TODAY)
        for book in s.query(RuleBook):
            book.veto_blocks_redemption = False
        s.flush()
        assert not redemption_blocked_by_veto(s, world.ids["H1"], TODAY)


def test_summary_ranks_the_household_in_this_years_village_ranking(api, database, world) -> None:
    this_year = date(TODAY.year, 1, 1)
    with database() as s:
        record_and_approve(s, world, "H2", "P09", max(this_year, TODAY - timedelta(days=1)))
    assert api("villager_neighbour").get("/points/summary").json["rank_in_village"] == 1
    assert api("villager").get("/points/summary").json["rank_in_village"] == 2  # H1 and H6 tie at 0
    assert api("villager").get("/points/summary").json["vetoed_this_month"] is False


def test_annual_ranking_gives_star_bands_from_the_rule_book(database, world) -> None:
    last_year = TODAY.year - 1
    with database() as s:
        for book in s.query(RuleBook):
            book.star_bands = [{"stars": 3, "min_points": 10}, {"stars": 2, "min_points": 5}]
        s.flush()
        record_and_approve(s, world, "H2", "P09", date(last_year, 3, 1))  # exactly 10 → 3 stars
        record_and_approve(s, world, "H6", "P10", date(last_year, 3, 1))  # exactly 5 → 2 stars
        rows = {r.household_number: r for r in village_ranking(s, world.ids["V1"], period("year", str(last_year)))}
        monthly = village_ranking(s, world.ids["V1"], period("month", f"{last_year}-03"))
    assert (rows["002"].stars, rows["003"].stars, rows["001"].stars) == (3, 2, None)
    assert all(r.stars is None for r in monthly)  # bands are annual


def test_one_households_place_equals_its_row_in_the_full_ranking(database, world) -> None:
    day = LAST_DAY_OF_PREV
    with database() as s:
        record_and_approve(s, world, "H2", "N01", day)  # 002: −3, below the households without entries
        record_and_approve(s, world, "H6", "P10", day)  # 003: +5
        for kind in ("month", "year"):
            per = period_containing(kind, day)
            full = {r.household_id: r for r in village_ranking(s, world.ids["V1"], per)}
            for household_id, row in full.items():
                assert place_in_village(s, s.get_one(Household, household_id), per) == row
        assert [full[world.ids[h]].rank for h in ("H6", "H1", "H2")] == [1, 2, 3]  # H1 has no entries: 0
