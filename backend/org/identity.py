"""Validation of resident ID numbers and mobile phone numbers before they are stored."""

from __future__ import annotations

from datetime import date

import phonenumbers
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from backend.errors import InvalidRequest


def normalize_id_number(value: str) -> str:
    try:
        return ric.validate(value)
    except ValidationError as exc:
        raise InvalidRequest(errors={"id_number": ["身份证号码无效"]}) from exc


def normalize_phone(value: str) -> str:
    try:
        parsed = phonenumbers.parse(value, "CN")
    except phonenumbers.NumberParseException as exc:
        raise InvalidRequest(errors={"phone": ["手机号码无效"]}) from exc
    if (
        not phonenumbers.is_valid_number(parsed)
        or phonenumbers.number_type(parsed) != phonenumbers.PhoneNumberType.MOBILE
    ):
        raise InvalidRequest(errors={"phone": ["手机号码无效"]})
    return str(parsed.national_number)


def make_id_number(region: str, birth: date, sequence: int) -> str:
    """A checksum-valid 18-digit number for demo and test people (never real ones)."""
    body = f"{region}{birth:%Y%m%d}{sequence % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")
