"""Shared schema pieces: strict Chinese-speaking base schema, cursor pagination, masked personal fields."""

from __future__ import annotations

import base64
import copy
import functools
from typing import Any, ClassVar

from marshmallow import RAISE, Schema, fields, validate
from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

from backend.crypto import mask_id_number, mask_name, mask_phone
from backend.errors import InvalidRequest

# marshmallow's own messages in the phone's words, per field class (the nearest class in the MRO wins).
FIELD_MESSAGES: dict[type[fields.Field], dict[str, str]] = {
    fields.Field: {"required": "请填写此项", "null": "不能为空", "validator_failed": "填写的内容不符合要求"},
    fields.String: {"invalid": "应为文字", "invalid_utf8": "文字编码有误"},
    fields.Number: {"invalid": "应为数字", "too_large": "数字过大"},
    fields.Integer: {"invalid": "应为整数"},
    fields.Float: {"special": "应为有效的数字"},
    fields.Boolean: {"invalid": "应为“是”或“否”"},
    fields.Date: {"invalid": "日期应写成 2026-05-01 这样的年-月-日"},
    fields.DateTime: {"invalid": "时间格式不正确", "invalid_awareness": "时间须带时区"},
    fields.List: {"invalid": "应为一组值"},
    fields.Nested: {"type": "格式不正确"},
    fields.Enum: {"unknown": "不是可选的值"},
}
VALIDATOR_MESSAGES: dict[type[validate.Validator], str] = {
    validate.OneOf: "不是可选的值",
    validate.Regexp: "格式不正确",
}
OTHERWISE = "填写的内容不符合要求"


INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


class Int(fields.Integer):
    """A whole number an integer column can hold: 2.5 is refused, not cut to 2, and so is 2³¹ or more
    (the database would answer with an error, not a row)."""

    def _validated(self, value: Any) -> int:
        if isinstance(value, float) and not value.is_integer():
            raise self.make_error("invalid")
        number = super()._validated(value)
        if not INT32_MIN <= number <= INT32_MAX:
            raise self.make_error("too_large")
        return number


class ApiSchema(Schema):
    """Refuses unknown fields, and speaks Chinese: every validation message that reaches a phone is
    marshmallow's default translated here, or one the schema's author wrote (in Chinese)."""

    class Meta:
        unknown = RAISE

    error_messages: ClassVar[dict[str, str]] = {"unknown": "不支持该字段", "type": "请求内容应为一组字段"}

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        _in_chinese(field_obj)


def _in_chinese(field: fields.Field) -> None:
    """Replace the field's English defaults (and its validators', and its inner fields') with Chinese.
    Assigns copies: marshmallow shares a field's messages and validators between schema instances."""
    english: dict[str, str] = {}
    for cls in reversed(type(field).__mro__):
        english.update(getattr(cls, "default_error_messages", {}))
    field.error_messages = {
        key: _field_message(type(field), key) if message == english.get(key) else message
        for key, message in field.error_messages.items()
    }
    field.validators = [_validator_in_chinese(validator, field) for validator in field.validators]
    # List.inner, Enum.field (the String an enum name is read with), Dict's key and value fields.
    for name in ("inner", "field", "key_field", "value_field"):
        inner = getattr(field, name, None)
        if isinstance(inner, fields.Field):
            inner = copy.copy(inner)
            _in_chinese(inner)
            setattr(field, name, inner)


def _field_message(cls: type[fields.Field], key: str) -> str:
    return next((FIELD_MESSAGES[c][key] for c in cls.__mro__ if key in FIELD_MESSAGES.get(c, {})), OTHERWISE)


def _validator_in_chinese(validator: Any, field: fields.Field) -> Any:
    if not isinstance(validator, validate.Validator) or validator.error not in (
        None,
        getattr(validator, "default_message", None),
    ):
        return validator  # a plain function, or a message the author wrote
    translated = copy.copy(validator)
    if isinstance(validator, validate.Length):
        translated.error = _length_message(validator, "项" if isinstance(field, fields.List) else "个字")
    elif isinstance(validator, validate.Range):
        translated.error = _range_message(validator)
    else:
        translated.error = next(
            (message for cls, message in VALIDATOR_MESSAGES.items() if isinstance(validator, cls)), OTHERWISE
        )
    return translated


def _length_message(length: validate.Length, unit: str) -> str:
    if length.equal is not None:
        return f"应为 {length.equal} {unit}"
    low = "不能为空" if length.min == 1 else f"至少 {length.min} {unit}" if length.min else ""
    high = f"最多 {length.max} {unit}" if length.max is not None else ""
    return "，".join(part for part in (low, high) if part)


def _range_message(bounds: validate.Range) -> str:
    if bounds.min is not None and bounds.max is not None and bounds.min_inclusive and bounds.max_inclusive:
        return f"应在 {bounds.min} 到 {bounds.max} 之间"
    low = "" if bounds.min is None else f"{'不小于' if bounds.min_inclusive else '大于'} {bounds.min}"
    high = "" if bounds.max is None else f"{'不大于' if bounds.max_inclusive else '小于'} {bounds.max}"
    return "应" + "，且".join(part for part in (low, high) if part)


class ListArgs(ApiSchema):
    limit = Int(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = fields.String(load_default=None)


def _encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(str(last_id).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        last_id = int(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except ValueError:
        last_id = None
    if last_id is None or not 0 <= last_id <= INT32_MAX:
        raise InvalidRequest(errors={"cursor": ["无效的分页游标"]})
    return last_id


def page(
    session: Session,
    stmt: Select,
    id_column: InstrumentedAttribute[int],
    args: dict[str, Any],
    *,
    newest_first: bool = False,
) -> dict:
    """Keyset pagination by id: stable under inserts, cheap on big tables, opaque to the phone."""
    limit = args["limit"]
    if args.get("cursor"):
        last = _decode_cursor(args["cursor"])
        stmt = stmt.where(id_column < last if newest_first else id_column > last)
    order = id_column.desc() if newest_first else id_column
    rows = list(session.scalars(stmt.order_by(order).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": rows, "next_cursor": _encode_cursor(rows[-1].id) if more and rows else None}


@functools.cache
def Page(item_schema: type[Schema]) -> type[Schema]:  # noqa: N802  (a schema factory reads like a class)
    return type(
        f"{item_schema.__name__.removesuffix('Schema')}PageSchema",
        (Schema,),
        {"items": fields.List(fields.Nested(item_schema)), "next_cursor": fields.String(allow_none=True)},
    )


class MaskedName(fields.Field):
    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str:
        return mask_name(value)


class MaskedPhone(fields.Field):
    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str:
        return mask_phone(value)


class MaskedIdNumber(fields.Field):
    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str:
        return mask_id_number(value)
