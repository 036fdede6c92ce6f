"""Resident ID numbers and phones are checked before they are stored: the ID check agrees with python-stdnum's
own `ric.validate` on every number, valid or not, while caching its slow region lookup."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from backend.errors import InvalidRequest
from backend.org.identity import make_id_number, normalize_id_number, normalize_phone

REGIONS = ["612322", "610102", "110101", "999999", "000000", "612399", "510722"]


def stdnum_says(number: str) -> str | None:
    try:
        return ric.validate(number)
    except (ValidationError, KeyError):  # stdnum raises KeyError for a city's code, which is no birthplace
        return None


def ours_says(number: str) -> str | None:
    try:
        return normalize_id_number(number)
    except InvalidRequest:
        return None


@settings(max_examples=300)
@given(
    region=st.sampled_from(REGIONS),
    birth=st.dates(min_value=date(1900, 1, 1), max_value=date(2030, 12, 31)),
    sequence=st.integers(0, 999),
    corrupt=st.sampled_from(["none", "check", "digit", "short", "letter", "spaces", "lowercase_x"]),
)
def test_the_id_number_check_agrees_with_stdnum_on_valid_and_broken_numbers(
    region: str, birth: date, sequence: int, corrupt: str
) -> None:
    number = make_id_number(region, birth, sequence)
    number = {
        "none": number,
        "check": number[:-1] + str((int(number[-1]) + 1) % 10 if number[-1] != "X" else 0),
        "digit": number[:7] + str((int(number[7]) + 5) % 10) + number[8:],
        "short": number[:-2],
        "letter": number[:3] + "A" + number[4:],
        "spaces": f" {number[:6]} {number[6:]} ",
        "lowercase_x": number.lower(),
    }[corrupt]
    assert ours_says(number) == stdnum_says(number)


def test_a_bad_id_number_or_phone_is_refused_with_a_chinese_message() -> None:
    with pytest.raises(InvalidRequest) as refused:
        normalize_id_number("612322196805010010")
    assert refused.value.errors == {"id_number": ["身份证号码无效"]}
    with pytest.raises(InvalidRequest) as refused:
        normalize_phone("12345")
    assert refused.value.errors == {"phone": ["手机号码无效"]}
    assert normalize_phone("+86 139 0000 0001") == "13900000001"
    with pytest.raises(InvalidRequest):  # a city's code, not a county's: stdnum itself fails with a KeyError
        normalize_id_number(make_id_number("612399", date(1980, 1, 1), 1))
