"""The five preset schemes on hand-built inputs with known answers (pure functions, no database)."""

from __future__ import annotations

import copy

import pytest

from backend.errors import InvalidRequest
from backend.ratings.compile import previous_months
from backend.ratings.evaluate import Candidate, Entry, apply_quota, bottom_share, evaluate, rank, streak
from backend.ratings.presets import PRESETS
from backend.ratings.schemes import validate_definition

TEN = validate_definition(PRESETS["ziyang_ten_star"]["definition"])
HUNDRED = validate_definition(PRESETS["baoji_first_secretary"]["definition"])
THOUSAND = validate_definition(PRESETS["gaoyang_thousand_point"]["definition"])
PARTY = validate_definition(PRESETS["gaoyang_party_member"]["definition"])
RANKING = validate_definition(PRESETS["guangyuan_ranking"]["definition"])
NO_INPUTS: dict[str, float | None] = {}


def scored(prefix_scores: dict[str, float], stage: str = "self") -> dict[str, list[Entry]]:
    return {f"item:{code}": [Entry(stage, value)] for code, value in prefix_scores.items()}


def stars_with(**overrides: float) -> dict[str, list[Entry]]:
    scores = {f"S{n:02d}": 10.0 for n in range(1, 11)} | overrides
    return scored(scores)


def test_every_preset_is_a_valid_definition_with_its_named_parts() -> None:
    assert [i["title"] for i in TEN["indicators"]][:3] == ["守岗敬业", "业务能力", "工作成效"]
    assert len(TEN["indicators"]) == 10 and TEN["star_ratio"] == 0.8
    assert sum(i["max"] for i in HUNDRED["indicators"]) == 100
    assert sum(i["max"] for i in HUNDRED["indicators"] if i["group"].startswith("工作实绩")) == 60
    assert sum(i["max"] for i in THOUSAND["indicators"]) == 1000 and THOUSAND["period"] == "half_year"
    assert sorted(PARTY["categories"]) == list("ABCDEF")
    assert RANKING["ranking"]["red_flag_places"] == 1


def test_a_star_scored_exactly_at_80_percent_is_kept_and_just_below_is_lost() -> None:
    kept = evaluate("ten_star", TEN, NO_INPUTS, stars_with(S01=8.0))
    lost = evaluate("ten_star", TEN, NO_INPUTS, stars_with(S01=7.99))

    assert (kept.stars, kept.grade) == (10, "优秀")
    assert (lost.stars, lost.grade) == (9, "优秀")
    assert lost.indicators[0].lit is False and "低于标准分10的80%" in lost.indicators[0].lost_reason
    assert "lost_star" in lost.flags and "lost_star" not in kept.flags


@pytest.mark.parametrize(
    ("lost", "stars", "grade"),
    [(0, 10, "优秀"), (1, 9, "优秀"), (2, 8, "良好"), (3, 7, "良好"), (4, 6, "差"), (10, 0, "差")],
)
def test_star_grade_bands_at_their_edges(lost: int, stars: int, grade: str) -> None:
    result = evaluate("ten_star", TEN, NO_INPUTS, stars_with(**{f"S{n:02d}": 5.0 for n in range(1, lost + 1)}))
    assert (result.stars, result.grade) == (stars, grade)


def test_a_veto_loses_the_star_whatever_its_score() -> None:
    entries = stars_with() | {"veto:S01V1": [Entry("county", 1)]}
    result = evaluate("ten_star", TEN, NO_INPUTS, entries)

    assert result.stars == 9 and result.indicators[0].score == 10
    assert result.indicators[0].lost_reason == "触发否决项：无故脱岗、被县级以上通报"
    assert "veto" in result.flags


def test_points_vetoes_of_three_households_hit_the_stability_veto_and_two_do_not() -> None:
    three = evaluate("ten_star", TEN, {"points_vetoed_households": 3.0}, stars_with())
    two = evaluate("ten_star", TEN, {"points_vetoed_households": 2.0}, stars_with())
    assert (three.stars, two.stars) == (9, 10)
    assert three.indicators[7].vetoes == ["当月3户以上触发积分一票否决"]


def test_a_provided_input_scores_automatically_and_a_rater_entry_overrides_it() -> None:
    auto = evaluate("ten_star", TEN, {"points_activity_rate": 0.85}, stars_with())
    entries = stars_with() | {"item:S03": [Entry("self", 9), Entry("town", 7, "项目未落地")]}
    adjusted = evaluate("ten_star", TEN, {"points_activity_rate": 0.85}, entries)
    unrated = evaluate("ten_star", TEN, NO_INPUTS, {})

    assert (auto.indicators[2].score, auto.indicators[2].origin) == (10, "self")
    no_entry = {k: v for k, v in stars_with().items() if k != "item:S03"}
    from_input = evaluate("ten_star", TEN, {"points_activity_rate": 0.85}, no_entry).indicators[2]
    assert (from_input.score, from_input.origin, from_input.input_value) == (8.5, "auto", 0.85)
    assert (adjusted.indicators[2].score, adjusted.indicators[2].origin) == (7, "town")
    assert adjusted.indicators[2].reason == "项目未落地" and adjusted.stars == 9
    assert (unrated.stars, unrated.indicators[0].origin) == (0, "none")


WORK_FULL = {"W01": 10, "W02": 5, "W03": 15, "W04": 5, "W05": 5, "W06": 10, "W07": 10}


def hundred(zeroed: tuple[str, ...] = (), mass: float = 20, evaluation: float = 10) -> dict:
    work = {code: 0 if code in zeroed else points for code, points in WORK_FULL.items()}
    return scored(work | {"M01": mass, "D01": 10, "E01": evaluation}, stage="manual")


@pytest.mark.parametrize(
    ("zeroed", "mass", "evaluation", "score", "grade"),
    [
        ((), 20, 10, 100, "优秀"),
        ((), 20, 0, 90, "优秀"),
        ((), 19.99, 0, 89.99, "称职"),
        (("W01", "W06"), 20, 0, 70, "称职"),
        (("W01", "W06"), 19.99, 0, 69.99, "基本称职"),
        (("W01", "W06", "W07"), 20, 0, 60, "基本称职"),
        (("W01", "W06", "W07"), 19.99, 0, 59.99, "不称职"),
    ],
)
def test_first_secretary_grade_bands_at_their_edges(
    zeroed: tuple[str, ...], mass: float, evaluation: float, score: float, grade: str
) -> None:
    result = evaluate("hundred_point", HUNDRED, NO_INPUTS, hundred(zeroed, mass, evaluation))
    assert (result.score, result.grade) == (score, grade)


def test_first_secretary_veto_is_incompetent_whatever_the_score() -> None:
    result = evaluate("hundred_point", HUNDRED, NO_INPUTS, hundred() | {"veto:D01V1": [Entry("manual", 1)]})
    assert (result.score, result.grade) == (100, "不称职")


def test_excellent_is_capped_at_20_percent_and_a_tie_at_the_cut_line_falls_back_together() -> None:
    quota = HUNDRED["quota"]
    others = [Candidate(f"x{n}", 80, "称职") for n in range(6)]
    # 10 secretaries → at most 2 excellent. 95 is in; the two 93s tie on every tie-break: both fall back,
    # and 91 below them falls back too.
    tied = [
        Candidate("a", 95, "优秀", (20, 10)),
        Candidate("b", 93, "优秀", (18, 9)),
        Candidate("c", 93, "优秀", (18, 9)),
        Candidate("d", 91, "优秀", (20, 10)),
    ]
    assert apply_quota(tied + others, quota) == {"b": "称职", "c": "称职", "d": "称职"}
    # The mass evaluation score breaks the tie: b is in, c and d are out.
    broken = [
        Candidate("a", 95, "优秀", (20, 10)),
        Candidate("b", 93, "优秀", (19, 9)),
        Candidate("c", 93, "优秀", (18, 9)),
        Candidate("d", 91, "优秀", (20, 10)),
    ]
    assert apply_quota(broken + others, quota) == {"c": "称职", "d": "称职"}
    # Four secretaries: 20% of 4 is 0.8 → nobody may be excellent.
    assert apply_quota(broken, quota) == {k: "称职" for k in "abcd"}


def test_thousand_point_adds_capped_bonuses_and_subtracts_deductions() -> None:
    items = {i["code"]: i["max"] for i in THOUSAND["indicators"]}  # full marks: 1000
    entries = scored(items, "manual") | {
        "bonus:B01": [Entry("manual", 4)],  # 4 × 20 = 80, capped at 60
        "deduct:X01": [Entry("manual", 2)],  # 2 × 30 = 60
    }
    result = evaluate("thousand_point", THOUSAND, NO_INPUTS, entries)
    assert (result.bonus, result.deduction, result.score, result.grade) == (60, 60, 1000, "优秀")
    low = evaluate("thousand_point", THOUSAND, NO_INPUTS, scored({"Q01": 200, "Q02": 200, "Q03": 150, "L01": 50}))
    assert (low.score, low.grade) == (600, "合格")


def test_party_member_items_apply_only_to_their_categories() -> None:
    entries = {"bonus:B01": [Entry("manual", 1)], "bonus:B03": [Entry("manual", 3)], "deduct:X04": [Entry("manual", 1)]}
    village_secretary = evaluate("party_member", PARTY, NO_INPUTS, entries, category="A")
    moved_out = evaluate("party_member", PARTY, NO_INPUTS, entries, category="D")

    assert (village_secretary.score, village_secretary.grade) == (111, "优秀")  # 100 + 5 + 6, X04 is D only
    assert (moved_out.score, moved_out.grade) == (103, "合格")  # 100 + 6 − 3, B01 is not for D


def test_ranking_ties_share_a_place_and_a_major_problem_gets_a_yellow_card() -> None:
    assert rank([("a", 90, "001"), ("b", 95, "002"), ("c", 90, "003"), ("d", 80, "004")]) == {
        "b": 1,
        "a": 2,
        "c": 2,
        "d": 4,
    }
    full = {"points_vetoed_households": 0.0}
    entries = scored({f"R0{n}": 20 for n in range(1, 6)}, "manual")
    clean = evaluate("ranking", RANKING, full, entries)
    carded = evaluate("ranking", RANKING, {"points_vetoed_households": 3.0}, entries)
    reported = evaluate("ranking", RANKING, full, entries | {"major_problem": [Entry("manual", 1)]})
    assert (clean.score, clean.grade, clean.flags) == (100, "先进", [])
    assert "yellow_card" in carded.flags and "yellow_card" in reported.flags


def test_bottom_ten_percent_of_an_annual_ranking() -> None:
    ranks = rank([(n, float(n), f"{n:03d}") for n in range(1, 21)])  # 20 units: 1 is last
    assert bottom_share(ranks, 0.1) == {1, 2}
    assert bottom_share(rank([(n, float(n), "") for n in range(1, 10)]), 0.1) == set()


def test_streaks_count_across_the_year_boundary() -> None:
    assert previous_months("2026-01", 2) == ["2025-12", "2026-01"]
    assert previous_months("2026-03", 3) == ["2026-01", "2026-02", "2026-03"]
    assert streak([9, 6, 5], lambda s: s <= 6, 2)
    assert not streak([6, 7], lambda s: s <= 6, 2)
    assert not streak([None, 5], lambda s: s <= 6, 2)
    assert not streak([5], lambda s: s <= 6, 2)


def test_a_definition_with_bad_bands_or_duplicate_codes_is_refused_on_save() -> None:
    bad = copy.deepcopy(PRESETS["ziyang_ten_star"]["definition"])
    bad["grades"] = [{"min": 0, "label": "差"}, {"min": 9, "label": "优秀"}]
    with pytest.raises(InvalidRequest) as refused:
        validate_definition(bad)
    assert "grades" in refused.value.errors["definition"]
    dup = copy.deepcopy(PRESETS["ziyang_ten_star"]["definition"])
    dup["indicators"][1]["code"] = "S01"
    with pytest.raises(InvalidRequest):
        validate_definition(dup)
    unknown = copy.deepcopy(PRESETS["ziyang_ten_star"]["definition"])
    unknown["indicators"][0]["input"] = "made_up_rate"
    with pytest.raises(InvalidRequest):
        validate_definition(unknown)
