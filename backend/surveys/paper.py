"""Reading a pile of paper questionnaires typed (or pasted from Excel) as text, one sheet per line.

Each line holds the answers in question order, separated by tabs (as Excel pastes them) or, when
the line has no tab, by commas. A choice may be written as the option's text or its number
(1 = the first option); several choices are separated by 、 or ;. An empty field skips an
optional question. Validation against the questions happens in service.enter_paper_responses.
"""

from __future__ import annotations

import re
from typing import Any

from backend.errors import InvalidAnswer
from backend.surveys.models import QuestionKind, SurveyQuestion

_MULTI_SPLIT = re.compile(r"[、;；]")
_COMMA_SPLIT = re.compile(r"[,，]")


def _number(raw: str) -> int | None:
    """A number typed on a sheet: ASCII digits, few enough for an answer ("²" passes str.isdigit, int() refuses
    it; int() refuses 5000 digits too). Anything else stays text, which validation then refuses."""
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 9 else None


def _choice(question: SurveyQuestion, raw: str) -> str:
    number = _number(raw)
    if number is not None and 1 <= number <= len(question.options):
        return question.options[number - 1]
    return raw


def _field(question: SurveyQuestion, raw: str) -> Any:
    raw = raw.strip()
    if not raw:
        return None
    if question.kind == QuestionKind.rating:
        number = _number(raw)
        return raw if number is None else number
    if question.kind == QuestionKind.single_choice:
        return _choice(question, raw)
    if question.kind == QuestionKind.multiple_choice:
        return [_choice(question, part.strip()) for part in _MULTI_SPLIT.split(raw) if part.strip()]
    return raw


def parse_sheets(questions: list[SurveyQuestion], text: str) -> list[list[dict[str, Any]]]:
    sheets = []
    for line in (line for line in text.splitlines() if line.strip()):
        fields = line.split("\t") if "\t" in line else _COMMA_SPLIT.split(line)
        # A text answer at the end may itself contain commas: keep the rest of the line together.
        if len(fields) > len(questions) and questions and questions[-1].kind == QuestionKind.text:
            fields = [*fields[: len(questions) - 1], "，".join(fields[len(questions) - 1 :])]
        if len(fields) > len(questions):
            raise InvalidAnswer(
                errors={f"第{len(sheets) + 1}份": [f"有{len(fields)}项答案，问卷只有{len(questions)}题"]}
            )
        sheets.append(
            [
                {"question_id": question.id, "value": _field(question, raw)}
                for question, raw in zip(questions, fields, strict=False)
            ]
        )
    return sheets
