"""Input no table can hold is refused at the door, with the one error envelope, before any view sees it:
ids in a path beyond a 32-bit integer column (no route matches: 404), text with a NUL character (PostgreSQL
refuses it) or a lone UTF-16 surrogate (not UTF-8), in the path, the query string, a form or a JSON body
(422), a multipart part without a name (422), and JSON nested deeper than any document of ours (422, where
Python's parser would overflow)."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, request
from werkzeug.routing import IntegerConverter, Map

from backend.errors import InvalidRequest

INT32_MAX = 2**31 - 1
MAX_JSON_DEPTH = 32


class Int32Converter(IntegerConverter):
    """`<int:…>` in a route: at most 2³¹ − 1, the largest id an integer column holds."""

    def __init__(
        self, url_map: Map, fixed_digits: int = 0, min: int | None = None, max: int | None = INT32_MAX
    ) -> None:
        super().__init__(url_map, fixed_digits=fixed_digits, min=min, max=max)


def storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _refuse() -> InvalidRequest:
    return InvalidRequest("请求中含有无法识别的字符，请检查后重新填写")


def check_json_document(document: Any) -> None:
    """Walks the parsed body without recursion: every key and string storable, nesting within MAX_JSON_DEPTH."""
    pending: list[tuple[Any, int]] = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            if not storable(value):
                raise _refuse()
        elif isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise InvalidRequest("请求内容层级过深")
            items = value.items() if isinstance(value, dict) else ((None, item) for item in value)
            for key, item in items:
                if key is not None and not storable(key):
                    raise _refuse()
                pending.append((item, depth + 1))


def parse_json_text(text: str) -> Any:
    """JSON typed into a form (a scheme's definition), held to the same rules as a request body."""
    try:
        document = json.loads(text)
    except RecursionError:
        raise InvalidRequest("内容层级过深") from None
    except ValueError as exc:
        raise InvalidRequest("不是有效的 JSON") from exc
    check_json_document(document)
    return document


def check_request_input() -> None:
    texts = [str(v) for v in (request.view_args or {}).values()]
    texts += [v for _key, values in request.args.lists() for v in values] + list(request.args)
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        if None in request.form:
            # A multipart part with no name: werkzeug keys it None, which no view reads and no JSON holds.
            raise InvalidRequest("表单中有未命名的字段")
        texts += [v for _key, values in request.form.lists() for v in values] + list(request.form)
    if not all(storable(text) for text in texts):
        raise _refuse()
    if request.is_json and request.content_length:
        try:
            document = json.loads(request.get_data(cache=True))
        except RecursionError:
            raise InvalidRequest("请求内容层级过深") from None
        except ValueError:
            return  # not JSON at all: the view's parser answers that in its own words
        check_json_document(document)


def install_int32_ids(app: Flask) -> None:
    """Call before any route is added: the converter applies to the routes registered after it."""
    app.url_map.converters["int"] = Int32Converter
