"""Survey satisfaction (群众满意率) as an automatic input of the monthly ratings: the frozen results of the
period's surveys (its month or its quarter), of the village work team for a village, of the cadre for a cadre."""

from __future__ import annotations

from sqlalchemy.orm import Session

from backend.ratings.providers import InputValue, Period, SourceRef, Subject, provide_many
from backend.surveys.results import FrozenSatisfaction, frozen_satisfaction, period_labels


def _value(found: FrozenSatisfaction | None, labels: list[str]) -> InputValue | None:
    if found is None or found.figures.rate is None:
        return None
    figures = found.figures
    return InputValue(
        round(figures.rate, 4),
        [
            SourceRef(
                "survey_result",
                tuple(found.survey_ids),
                f"frozen survey results period∈{{{','.join(labels)}}}: "
                f"{figures.satisfied} satisfied of {figures.scored} scored answers",
                figures.scored,
            )
        ],
    )


@provide_many("survey_satisfaction_rate")
def satisfaction_input(session: Session, subjects: list[Subject], period: Period) -> dict[Subject, InputValue]:
    labels = period_labels(period.start, period.end)
    teams, cadres = frozen_satisfaction(
        session,
        labels,
        village_ids={s.village_id for s in subjects if s.type == "village"},
        cadre_ids={s.id for s in subjects if s.type == "cadre"},
    )
    out = {}
    for subject in subjects:
        found = teams.get(subject.id) if subject.type == "village" else cadres.get(subject.id)
        value = _value(found, labels) if subject.type in ("village", "cadre") else None
        if value is not None:
            out[subject] = value
    return out
