"""Shared schema pieces: strict base schema, cursor pagination, masked personal fields."""

from __future__ import annotations

import base64
import functools
from typing import Any

from marshmallow import RAISE, Schema, fields, validate
from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

from backend.crypto import mask_id_number, mask_name, mask_phone
from backend.errors import InvalidRequest


class ApiSchema(Schema):
    class Meta:
        unknown = RAISE


class ListArgs(ApiSchema):
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = fields.String(load_default=None)


def _encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(str(last_id).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except ValueError as exc:
        raise InvalidRequest(errors={"cursor": ["无效的分页游标"]}) from exc


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
