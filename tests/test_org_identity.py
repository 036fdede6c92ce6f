"""ID numbers and phones are judged exactly as python-stdnum and phonenumbers judge them, although the import's
speed made their slow parts cached (backend/org/identity.py)."""

from __future__ import annotations

from datetime import date

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from backend.errors import InvalidRequest
from backend.org.identity import make_id_number, normalize_id_number, normalize_phone


def by_library_id(value: str) -> str | None:
    try:
        return ric.validate(value)
    except (ValidationError, KeyError):  # stdnum raises KeyError for a city's code, which is no birthplace
        return None


def by_library_phone(value: str) -> str | None:
    try:
        parsed = phonenumbers.parse(value, "CN")
    except phonenumbers.NumberParseException:
        return None
    mobile = phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.MOBILE
    return str(parsed.national_number) if phonenumbers.is_valid_number(parsed) and mobile else None


def ours(normalize, value: str) -> str | None:  # type: ignore[no-untyped-def]
    try:
        return normalize(value)
    except InvalidRequest:
        return None


REGIONS = st.sampled_from(["612323", "110101", "440300", "510100", "999999", "000000", "612322", "612399"])


@st.composite
def id_numbers(draw: st.DrawFn) -> str:
    body = draw(REGIONS) + f"{draw(st.integers(1890, 2030)):04d}{draw(st.integers(0, 13)):02d}"
    body += f"{draw(st.integers(0, 32)):02d}{draw(st.integers(0, 999)):03d}"
    check = draw(st.one_of(st.just(ric.calc_check_digit(body + "0")), st.sampled_from("0123456789Xx")))
    spaced = draw(st.booleans())
    return f" {body[:6]} {body[6:]}{check}" if spaced else body + check


@settings(max_examples=400, deadline=None)
@given(id_numbers())
def test_an_id_number_is_valid_exactly_when_stdnum_says_so(value: str) -> None:
    assert ours(normalize_id_number, value) == by_library_id(value)


@settings(max_examples=400, deadline=None)
@given(st.from_regex(r"1[0-9]{10}", fullmatch=True) | st.from_regex(r"(\+86 ?)?1[3-9]\d ?\d{4} ?\d{4}", fullmatch=True))
def test_a_phone_is_a_mobile_number_exactly_when_phonenumbers_says_so(value: str) -> None:
    assert ours(normalize_phone, value) == by_library_phone(value)


@pytest.mark.parametrize("bad", ["", "1234", "12012345678", "abc"])
def test_a_bad_phone_is_refused(bad: str) -> None:
    with pytest.raises(InvalidRequest):
        normalize_phone(bad)


def test_a_city_s_code_is_no_birthplace_and_is_refused_not_a_server_error() -> None:
    with pytest.raises(InvalidRequest):  # stdnum itself fails on it with a KeyError
        normalize_id_number(make_id_number("612399", date(1980, 1, 1), 1))


def test_a_made_up_id_number_is_valid_and_one_wrong_digit_is_not() -> None:
    good = make_id_number("612323", date(1990, 5, 1), 7)
    assert normalize_id_number(good.lower()) == good
    with pytest.raises(InvalidRequest):
        normalize_id_number(good[:-1] + ("0" if good[-1] != "0" else "1"))


def test_the_lookup_hash_is_hmac_sha256_under_the_lookup_key(app) -> None:  # type: ignore[no-untyped-def]
    import hashlib
    import hmac

    from backend.crypto import keyring, lookup_hash

    for value in ("61232319900101001X", "张三", "", "x" * 100):
        expected = hmac.new(keyring._mac_key, value.strip().upper().encode(), hashlib.sha256).hexdigest()
        assert lookup_hash(value) == expected
