"""Pure evaluation: a scheme definition + inputs + rater entries → scores, stars, grade, flags. No I/O here.

The definition is the validated JSON of a RatingScheme (see schemes.py for its shape). Inputs are
{key: value or None}; None means no provider is wired (or it had no data), so the indicator falls
back to the rater's entry. Entries are {key: [Entry(stage, value, reason)]}, the latest stage wins
(county over town over self-assessment over a plain manual entry).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from math import floor
from typing import Any

STAGE_ORDER = {"manual": 0, "self": 1, "town": 2, "county": 3}
EPSILON = 1e-9


@dataclass(frozen=True)
class Entry:
    stage: str
    value: float
    reason: str = ""


@dataclass
class IndicatorScore:
    code: str
    title: str
    max: float
    score: float
    origin: str  # "auto" (from its input) | a stage ("self", "town", "county", "manual") | "none" (not rated)
    input: str | None = None
    input_value: float | None = None
    reason: str = ""
    vetoes: list[str] = field(default_factory=list)  # titles of veto items that hit
    lit: bool | None = None  # ten-star only: the star is kept
    lost_reason: str = ""


@dataclass
class Evaluation:
    score: float
    grade: str
    indicators: list[IndicatorScore]
    stars: int | None = None
    flags: list[str] = field(default_factory=list)
    bonus: float = 0.0
    deduction: float = 0.0


def latest(entries: Mapping[str, Sequence[Entry]], key: str) -> Entry | None:
    found = entries.get(key) or []
    return max(found, key=lambda e: STAGE_ORDER[e.stage]) if found else None


def grade_for(bands: Sequence[Mapping[str, Any]], value: float) -> str:
    """Bands are [{"min": 9, "label": "优秀"}, ...] from the highest down; the first one reached wins."""
    for band in bands:
        if value >= band["min"] - EPSILON:
            return band["label"]
    return bands[-1]["label"]


def _indicator(
    ind: Mapping[str, Any], inputs: Mapping[str, float | None], entries: Mapping[str, Sequence[Entry]]
) -> IndicatorScore:
    key = ind.get("input")
    raw = inputs.get(key) if key else None
    entered = latest(entries, f"item:{ind['code']}")
    top = float(ind["max"])
    if entered is not None:
        score, origin, reason = min(max(entered.value, 0.0), top), entered.stage, entered.reason
    elif raw is not None:
        score, origin, reason = round(top * min(max(raw, 0.0), 1.0), 2), "auto", ""
    else:
        score, origin, reason = 0.0, "none", ""
    hits = []
    for veto in ind.get("vetoes", []):
        hit = latest(entries, f"veto:{veto['code']}")
        by_input = veto.get("input") and inputs.get(veto["input"]) is not None
        if (hit is not None and hit.value >= 1) or (by_input and inputs[veto["input"]] >= veto.get("min", 1)):
            hits.append(veto["title"])
    return IndicatorScore(ind["code"], ind["title"], top, round(score, 2), origin, key, raw, reason, hits)


def _counted(
    items: Sequence[Mapping[str, Any]], prefix: str, entries: Mapping[str, Sequence[Entry]], category: str | None
) -> float:
    """Bonus or deduction points: times entered × points, each item capped at its "max" if it has one."""
    total = 0.0
    for item in items:
        if category and item.get("categories") and category not in item["categories"]:
            continue
        entered = latest(entries, f"{prefix}:{item['code']}")
        if entered is None:
            continue
        points = entered.value * item["points"]
        total += min(points, item["max"]) if item.get("max") is not None else points
    return total


def evaluate(
    kind: str,
    definition: Mapping[str, Any],
    inputs: Mapping[str, float | None],
    entries: Mapping[str, Sequence[Entry]],
    category: str | None = None,
) -> Evaluation:
    indicators = [_indicator(ind, inputs, entries) for ind in definition.get("indicators", [])]
    bonus = _counted(definition.get("bonuses", []), "bonus", entries, category)
    deduction = _counted(definition.get("deductions", []), "deduct", entries, category)
    score = round(definition.get("base", 0) + sum(i.score for i in indicators) + bonus - deduction, 2)
    flags: list[str] = []
    vetoed = any(i.vetoes for i in indicators)
    if vetoed:
        flags.append("veto")
    bands = definition["grades"]
    stars = None
    if kind == "ten_star":
        ratio = definition["star_ratio"]
        for ind in indicators:
            below = ind.score < ratio * ind.max - EPSILON
            ind.lit = not below and not ind.vetoes
            if ind.vetoes:
                ind.lost_reason = "触发否决项：" + "、".join(ind.vetoes)
            elif below:
                ind.lost_reason = f"得分{ind.score:g}低于标准分{ind.max:g}的{ratio:.0%}"
        stars = sum(1 for i in indicators if i.lit)
        grade = grade_for(bands, stars)
        if stars < len(indicators):
            flags.append("lost_star")
    else:
        grade = bands[-1]["label"] if vetoed else grade_for(bands, score)
    if kind == "ranking":
        rules = definition.get("ranking", {})
        major = latest(entries, "major_problem")
        by_input = any(
            inputs.get(rule["input"]) is not None and inputs[rule["input"]] >= rule["min"]
            for rule in rules.get("yellow_card_inputs", [])
        )
        if (major is not None and major.value >= 1) or by_input or vetoed:
            flags.append("yellow_card")
    return Evaluation(score, grade, indicators, stars, flags, round(bonus, 2), round(deduction, 2))


@dataclass(frozen=True)
class Candidate:
    key: Any
    score: float
    grade: str
    tie_break: tuple[float, ...] = ()


def apply_quota(candidates: Sequence[Candidate], quota: Mapping[str, Any]) -> dict[Any, str]:
    """Cap a grade at a share of all candidates (宝鸡: 优秀 ≤ 20% of a county's first secretaries).

    Order: score, then the tie-break indicator scores in the order the scheme lists them. A group
    still tied at the cut line would overflow the cap if admitted, so the whole group falls to the
    fallback grade: the cap is never exceeded and equal work is never split by chance.
    Returns the candidates whose grade changes: {key: fallback grade}.
    """
    cap = floor(len(candidates) * quota["share"] + EPSILON)
    eligible = sorted(
        (c for c in candidates if c.grade == quota["grade"]), key=lambda c: (c.score, c.tie_break), reverse=True
    )
    admitted = 0
    demoted: dict[Any, str] = {}
    index = 0
    while index < len(eligible):
        head = (eligible[index].score, eligible[index].tie_break)
        group = [c for c in eligible[index:] if (c.score, c.tie_break) == head]
        if admitted + len(group) <= cap and not demoted:
            admitted += len(group)
        else:  # the cap is reached: this group and everyone below it fall back
            demoted.update({c.key: quota["fallback"] for c in group})
        index += len(group)
    return demoted


def rank(scored: Sequence[tuple[Any, float, str]]) -> dict[Any, int]:
    """Competition ranking (1, 2, 2, 4) by score descending; ties keep the same rank. Items: (key, score, sort_name)."""
    ordered = sorted(scored, key=lambda s: (-s[1], s[2]))
    ranks: dict[Any, int] = {}
    for position, (key, score, _name) in enumerate(ordered, start=1):
        previous = ordered[position - 2] if position > 1 else None
        ranks[key] = ranks[previous[0]] if previous and abs(previous[1] - score) < EPSILON else position
    return ranks


def bottom_share(ranks: Mapping[Any, int], share: float) -> set[Any]:
    """The last `share` of a ranking (at least one when there are ten or more), by rank."""
    count = floor(len(ranks) * share + EPSILON)
    if count == 0:
        return set()
    ordered = sorted(ranks.items(), key=lambda kv: kv[1], reverse=True)
    cut = ordered[count - 1][1]
    return {key for key, r in ranks.items() if r >= cut}


def streak(values: Sequence[float | None], test: Callable[[float], bool], length: int) -> bool:
    """True if the last `length` values (oldest first) all exist and pass `test`."""
    tail = values[-length:]
    return len(tail) == length and all(v is not None and test(v) for v in tail)
