"""What the phone's busiest requests cost in queries, and that the one-query lookups behind them answer
exactly what the slower ones did (issue 3's benchmark: bench/points_read.py, bench/shop_redemptions.py)."""

from __future__ import annotations

from datetime import date, timedelta

from backend.org.models import County, Household, Town, Village
from backend.points.honors import PERIOD_KINDS, period_containing, places_in_village, previous_period, village_ranking
from backend.points.rules import active_rule_book, create_rule_book
from tests.admin_helpers import count_queries
from tests.factories_points import LAST_DAY_OF_PREV, TODAY, record_and_approve


def is_query(statement: str, context) -> bool:  # type: ignore[no-untyped-def]
    """Transaction control left out."""
    return not statement.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE", "COMMIT", "ROLLBACK"))


def test_a_village_uses_its_own_book_in_force_else_its_towns_else_its_countys(database, world) -> None:
    tomorrow = TODAY + timedelta(days=1)
    with database() as s:
        v1, v2, v3 = (s.get_one(Village, world.ids[v]) for v in ("V1", "V2", "V3"))
        county_book = active_rule_book(s, v1.id, TODAY)
        town = s.get_one(Town, v1.town_id)
        town_book = create_rule_book(s, town, title="镇规", effective_from=date(2021, 1, 1), base_score=80, items=[])
        village_book = create_rule_book(s, v1, title="村规", effective_from=date(2022, 1, 1), base_score=70, items=[])
        newer = create_rule_book(s, v1, title="村规二版", effective_from=TODAY, base_score=75, items=[])
        create_rule_book(s, v1, title="村规三版（明日起）", effective_from=tomorrow, base_score=76, items=[])
        later_county = create_rule_book(
            s, s.get_one(County, county_book.county_id), title="县规新版", effective_from=TODAY, base_score=90, items=[]
        )
        s.flush()
        assert active_rule_book(s, v1.id, TODAY).id == newer.id  # own book, newest in force, not tomorrow's
        assert active_rule_book(s, v1.id, date(2022, 6, 1)).id == village_book.id
        assert active_rule_book(s, v1.id, date(2021, 6, 1)).id == town_book.id  # before its own book began
        assert active_rule_book(s, v2.id, TODAY).id == town_book.id  # same town, no book of its own
        assert active_rule_book(s, v3.id, TODAY).id == later_county.id  # another town: the county's newest
        assert active_rule_book(s, v3.id, date(2021, 6, 1)).id == county_book.id
        assert [i.code for i in active_rule_book(s, v3.id, date(2021, 6, 1)).items] == [
            i.code for i in county_book.items
        ]


def test_the_home_screens_places_for_four_periods_equal_the_full_rankings(database, world) -> None:
    last_year = TODAY.year - 1
    with database() as s:
        record_and_approve(s, world, "H2", "N01", LAST_DAY_OF_PREV)  # 002: −3, below households without entries
        record_and_approve(s, world, "H6", "P10", LAST_DAY_OF_PREV)  # 003: +5
        record_and_approve(s, world, "H1", "P19", TODAY)  # 001: +10 this month
        record_and_approve(s, world, "H2", "P09", date(last_year, 3, 1))
        record_and_approve(s, world, "H6", "V01", date(last_year, 5, 1))  # vetoed last year: no place
        periods = [period_containing("year", TODAY), *(previous_period(kind, TODAY) for kind in PERIOD_KINDS)]
        for household_key in ("H1", "H2", "H6"):
            household = s.get_one(Household, world.ids[household_key])
            places = places_in_village(s, household, periods)
            for per, place in zip(periods, places, strict=True):
                full = {r.household_id: r for r in village_ranking(s, household.village_id, per)}
                assert place.rank == full[household.id].rank, (household_key, per.key)
                assert (place.score, place.vetoed) == (full[household.id].score, full[household.id].vetoed)


def test_the_ledger_page_costs_the_same_queries_for_two_entries_as_for_twenty(app, api, database, world) -> None:
    villager = api("villager")
    with database() as s:
        record_and_approve(s, world, "H1", "P10", TODAY)
    with count_queries(app, keep=is_query) as few:
        assert len(villager.get("/points/ledger?limit=20").get_json()["items"]) == 2  # base score + one claim
    with database() as s:
        for days_ago in range(18):
            record_and_approve(s, world, "H1", "P10", TODAY - timedelta(days=days_ago + 1))
    with count_queries(app, keep=is_query) as many:
        assert len(villager.get("/points/ledger?limit=20").get_json()["items"]) == 20
    assert len(many) == len(few) == 2  # token + user + household; entries joined to their rule items


def test_the_home_screen_takes_four_queries_whatever_the_honors(app, api, database, world) -> None:
    with database() as s:
        record_and_approve(s, world, "H1", "P09", LAST_DAY_OF_PREV)
    with count_queries(app, keep=is_query) as statements:
        summary = api("villager").get("/points/summary").get_json()
    assert summary["honors"] and summary["rank_in_village"] is not None
    # token + user + household; account; this month's sums; every place of this year and the completed periods
    assert len(statements) == 4
