"""Ratings fixtures: presets installed for both world counties, and rater entries by hand."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.ratings.models import EntryStage, RatingEntry, RatingResult, SchemeKind
from backend.ratings.schemes import install_presets
from tests.factories import World

SINCE = date(2020, 1, 1)


def install_world_schemes(session: Session, world: World, since: date = SINCE) -> None:
    for county in ("C1", "C2"):
        install_presets(session, world.ids[county], since)


def enter(
    session: Session,
    subject_id: int,
    month: str,
    values: dict[str, float],
    stage: str = "self",
    subject_type: str = "village",
    reason: str = "",
) -> None:
    """Rater entries: {"item:S01": 9, "veto:S01V1": 1, ...} for one subject and period."""
    for key, value in values.items():
        session.add(
            RatingEntry(
                subject_type=subject_type,
                subject_id=subject_id,
                period=month,
                key=key,
                stage=EntryStage(stage),
                value=value,
                reason=reason,
            )
        )
    session.flush()


def star_scores(lost: int = 0, low: float = 5.0, satisfaction: float = 10.0) -> dict[str, float]:
    """Ten star scores: the first `lost` stars at `low` (lost), the rest full; S09 群众满意 as given."""
    scores = {f"item:S{n:02d}": (low if n <= lost else 10.0) for n in range(1, 11)}
    if lost < 9:
        scores["item:S09"] = satisfaction
    return scores


def rate_c1(session: Session, world: World, month: str) -> None:
    """C1's month to compile: schemes, a full-star village, one that loses stars and satisfaction, a vetoed one."""
    install_world_schemes(session, world)
    enter(session, world.ids["V1"], month, star_scores(lost=0))
    enter(session, world.ids["V2"], month, star_scores(lost=3, satisfaction=6.0))
    enter(session, world.ids["V3"], month, star_scores(lost=5) | {"veto:S08V1": 1.0})


def results(session: Session, kind: SchemeKind, period: str) -> dict[int, RatingResult]:
    return {
        r.subject_id: r
        for r in session.scalars(select(RatingResult).where(RatingResult.kind == kind, RatingResult.period == period))
    }


def snapshot(session: Session) -> list[tuple]:
    """Every compiled row without run bookkeeping (ids of runs, timestamps): equal for equal outcomes."""
    rows = session.scalars(
        select(RatingResult).order_by(
            RatingResult.kind, RatingResult.subject_type, RatingResult.subject_id, RatingResult.period
        )
    )
    return [
        (
            r.kind,
            r.subject_type,
            r.subject_id,
            r.period,
            r.scheme_id,
            r.score,
            r.stars,
            r.grade,
            r.rank,
            sorted(r.flags),
            r.detail,
        )
        for r in rows
    ]
