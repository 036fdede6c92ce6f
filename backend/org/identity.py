"""Validation of resident ID numbers and mobile phone numbers before they are stored.

Both are checked by their libraries (python-stdnum, phonenumbers), with the slow parts cached: an import checks
350,000 ID numbers and 200,000 phones, and stdnum's region lookup (a search of its region database, ~0.3 ms) and
phonenumbers' parse (~0.1 ms) were most of its dry run (bench/import_county.py)."""

from __future__ import annotations

from datetime import date
from functools import cache

import phonenumbers
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from backend.errors import InvalidRequest


def normalize_id_number(value: str) -> str:
    """`ric.validate`'s checks (length, digits, check digit, birth date, a region code in use in the birth year),
    its region lookup cached per region and year."""
    number = value.upper() if len(value) == 18 and value.isascii() and value[:17].isdigit() else ric.compact(value)
    if len(number) != 18 or not (number[:17].isascii() and number[:17].isdigit()):
        raise _bad_id_number()
    try:
        if number[-1] != ric.calc_check_digit(number):
            raise _bad_id_number()
        birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError as exc:
        raise _bad_id_number() from exc
    if not _region_in_use(number[:6], birth.year):
        raise _bad_id_number()
    return number


def _bad_id_number() -> InvalidRequest:
    return InvalidRequest(errors={"id_number": ["身份证号码无效"]})


@cache
def _region_in_use(region: str, year: int) -> bool:
    try:
        ric.get_birth_place(f"{region}{year:04d}0101000X")
    except (ValidationError, KeyError):  # a city's or province's code (no county in it) raises KeyError
        return False
    return True


def normalize_phone(value: str) -> str:
    """A Chinese mobile number as its 11 digits. The usual form (11 ASCII digits) is judged by its first six
    digits, cached: libphonenumber's Chinese mobile ranges are set by the first five at most (checked against
    the full parse for every five-digit prefix)."""
    if len(value) == 11 and value.isascii() and value.isdigit():
        if _mobile_prefix(value[:6]):
            return value
        raise _bad_phone()
    try:
        parsed = phonenumbers.parse(value, "CN")
    except phonenumbers.NumberParseException as exc:
        raise _bad_phone() from exc
    if not _is_mobile(parsed):
        raise _bad_phone()
    return str(parsed.national_number)


def _bad_phone() -> InvalidRequest:
    return InvalidRequest(errors={"phone": ["手机号码无效"]})


def _is_mobile(parsed: phonenumbers.PhoneNumber) -> bool:
    return (
        phonenumbers.is_valid_number(parsed) and phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.MOBILE
    )


@cache
def _mobile_prefix(prefix: str) -> bool:
    return _is_mobile(phonenumbers.parse(prefix + "00000", "CN"))


def optional_id_number(value: str) -> str | None:
    """A form's ID number: blank is none, anything else must be valid (a final x is read as X)."""
    raw = value.strip().upper()
    return normalize_id_number(raw) if raw else None


def make_id_number(region: str, birth: date, sequence: int) -> str:
    """A checksum-valid 18-digit number for demo and test people (never real ones)."""
    body = f"{region}{birth:%Y%m%d}{sequence % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")
