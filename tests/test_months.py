"""The business month: its key "YYYY-MM", its days, its neighbours, and which month it is now in Beijing."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import time_machine

from backend.errors import InvalidRequest
from backend.months import Month


def test_a_month_is_parsed_from_its_key_and_printed_back_as_it() -> None:
    assert Month.parse("2026-05") == Month(2026, 5)
    assert str(Month(2026, 5)) == "2026-05"


@pytest.mark.parametrize("text", ["2026-5", "2026-13", "2026-00", "0000-01", "2026/05", " 2026-05", "2026-05-01", ""])
def test_anything_but_a_month_key_is_a_bad_request_naming_the_month(text: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        Month.parse(text)
    assert caught.value.errors == {"month": ["月份应写成 2026-05 这样的年-月"]}


def test_an_empty_key_is_the_default_when_one_is_given() -> None:
    assert Month.parse(None, default=Month(2026, 1)) == Month(2026, 1)
    assert Month.parse("", default=Month(2026, 1)) == Month(2026, 1)
    with pytest.raises(InvalidRequest):
        Month.parse("2026-13", default=Month(2026, 1))


def test_days_of_a_month() -> None:
    february = Month.of(date(2028, 2, 17))
    assert (february.first, february.last, february.days) == (date(2028, 2, 1), date(2028, 2, 29), 29)
    assert february.next_first == date(2028, 3, 1)
    assert Month(2026, 12).next_first == date(2027, 1, 1)


def test_months_shift_and_run_across_year_ends_in_order() -> None:
    assert Month(2026, 1).shift(-1) == Month(2025, 12)
    assert Month(2025, 12).shift(1) == Month(2026, 1)
    assert Month(2025, 11) < Month(2026, 1)
    assert [str(m) for m in Month(2025, 11).through(Month(2026, 2))] == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert Month(2026, 2).through(Month(2026, 1)) == []


def test_the_current_month_is_the_one_in_beijing() -> None:
    with time_machine.travel(datetime(2026, 5, 31, 16, 30, tzinfo=UTC), tick=False):  # 2026-06-01 00:30 in Beijing
        assert Month.current() == Month(2026, 6)
