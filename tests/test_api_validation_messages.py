"""Whatever a phone sends wrong, the messages in `errors` are Chinese: no marshmallow English leaks out."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from flask import Flask

from backend.auth.models import Role
from backend.timeutil import today_local
from miniprogram_api.policy import PUBLIC, policy_of
from tests.factories import NOTICE_MONTH, World

BASE = "/api/mp/v1"
CJK = re.compile(r"[\u4e00-\u9fff]")
ASCII_WORD = re.compile(r"[A-Za-z]{3,}")


def messages_of(errors: Any) -> Iterator[str]:
    """Every message in an `errors` tree (fields, list indexes, nested fields)."""
    if isinstance(errors, str):
        yield errors
    elif isinstance(errors, dict):
        for value in errors.values():
            yield from messages_of(value)
    elif isinstance(errors, list):
        for value in errors:
            yield from messages_of(value)


def assert_chinese(response, field: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 422, response.json
    assert response.json["code"] == "invalid_request"
    messages = response.json["errors"][field]
    assert messages, response.json
    for message in messages:
        assert CJK.search(message), message
        assert not ASCII_WORD.search(message), message


def test_a_missing_required_field_is_named_in_chinese(api, world) -> None:
    assert_chinese(api(None).post("/auth/login", json={}), "code")


def test_a_bad_date_is_explained_in_chinese(api, world) -> None:
    response = api("cadre").post("/leaves", json={"start_on": "2026-02-30", "end_on": "明天", "reason": "家中有事"})
    assert_chinese(response, "start_on")
    assert_chinese(response, "end_on")


def test_a_bad_integer_is_explained_in_chinese(api, world) -> None:
    body = {"rule_item_id": "三", "occurred_on": today_local().isoformat()}
    assert_chinese(api("villager").post("/claims", json=body), "rule_item_id")


def test_an_unknown_field_is_refused_in_chinese(api, world) -> None:
    assert_chinese(api(None).post("/auth/login", json={"code": "dev:t_villager", "role": "county_admin"}), "role")


def test_a_value_not_among_the_choices_is_refused_in_chinese(api, world) -> None:
    body = {"date": today_local().isoformat(), "category": "party", "content": "开会", "place": "村委会"}
    assert_chinese(api("cadre").post("/daily-records", json=body), "category")
    assert_chinese(api("villager").get("/claims?status=lost"), "status")
    assert_chinese(api("county_admin").get("/households?flag=rich"), "flag")


def test_an_over_long_string_is_refused_in_chinese(api, world) -> None:
    response = api(None).post("/auth/login", json={"code": "x" * 129})
    assert_chinese(response, "code")
    assert "128" in response.json["errors"]["code"][0]


def test_numbers_out_of_range_and_lists_too_long_are_refused_in_chinese(api, world) -> None:
    assert_chinese(api("county_admin").get("/households?limit=0"), "limit")
    assert_chinese(api("cadre").post("/checkins", json={"lat": 91, "lng": 107.33, "accuracy": 20}), "lat")
    answers = [{"question_id": 1, "value": "满意"}] * 51
    response = api("villager").post(f"/surveys/{world.ids['survey']}/responses", json={"answers": answers})
    assert_chinese(response, "answers")


def test_a_message_the_schema_author_wrote_is_kept(api, world) -> None:
    response = api("reviewer").post("/review/redemptions/999999/hand-over", json={"pickup_code": "12ab"})
    assert response.json["errors"]["pickup_code"] == ["取货码为 6 位数字"]


def test_a_body_that_is_not_json_gets_a_chinese_message_and_no_english_errors(client) -> None:
    response = client.post(f"{BASE}/auth/login", data="{not json", content_type="application/json")
    assert response.status_code == 422
    assert response.json["message"] == "请求体不是有效的 JSON"
    assert "errors" not in response.json


# The sweep: every operation of the OpenAPI document, sent nothing, wrong types, and wrong values.


def _resolve(spec: dict, schema: dict) -> dict:
    if "$ref" in schema:
        return spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def wrong_type(schema: dict) -> Any:
    return {"string": 12345, "array": "abc", "object": "abc"}.get(schema.get("type", ""), "abc")


def wrong_value(spec: dict, schema: dict) -> Any:
    """Of the right type, but out of bounds, not among the choices, not a date, or with wrong items."""
    schema = _resolve(spec, schema)
    kind, form = schema.get("type"), schema.get("format")
    if schema.get("enum"):
        return "no_such_choice"
    if kind == "string":
        return {"date": "2026-02-30", "date-time": "昨天"}.get(form or "", "长" * 5000)
    if kind == "integer":
        return -(10**9)
    if kind == "number":
        return 1e9
    if kind == "array":
        return [wrong_value(spec, schema.get("items", {}))]
    if kind == "object":
        return {"zzz_unknown": 1}
    return None


def bodies(spec: dict, operation: dict) -> list[dict]:
    content = operation.get("requestBody", {}).get("content", {})
    schema = _resolve(spec, next(iter(content.values()))["schema"]) if content else {}
    form = {p["name"]: p["schema"] for p in operation.get("parameters", []) if p["in"] == "formData"}
    properties = schema.get("properties", {}) | form
    return [
        {},
        {name: wrong_type(prop) for name, prop in properties.items()},
        {name: wrong_value(spec, prop) for name, prop in properties.items()} | {"zzz_unknown": 1},
    ]


def path_with(spec_path: str, parameters: list[dict]) -> str:
    """The operation's path with its path parameters filled in: an id that names nothing, or a month."""
    path = spec_path.removeprefix(BASE)
    for parameter in parameters:
        if parameter["in"] == "path":
            value = "999999" if parameter["schema"].get("type") == "integer" else NOTICE_MONTH
            path = path.replace(f"{{{parameter['name']}}}", value)
    return path


def operations(app: Flask, spec: dict, method: str) -> Iterator[tuple[str, dict, str | None]]:
    """(path, operation, a role its policy allows or None for a public route) for each operation."""
    urls = app.url_map.bind("localhost")
    for spec_path, item in spec["paths"].items():
        if method not in item:
            continue
        operation = item[method]
        path = path_with(spec_path, item.get("parameters", []) + operation.get("parameters", []))
        endpoint, _ = urls.match(f"{BASE}{path}", method=method.upper())
        with app.app_context():
            policy = policy_of(endpoint)
        role = None if policy == PUBLIC else next(r.value for r in Role if r in policy)
        yield path, operation, role


def assert_no_english(response, what: str) -> int:  # type: ignore[no-untyped-def]
    """The number of messages checked."""
    assert response.status_code < 500, (what, response.status_code)
    if response.status_code != 422:
        return 0
    found = list(messages_of(response.json.get("errors", {})))
    english = [m for m in found if ASCII_WORD.search(m) or not CJK.search(m)]
    assert english == [], (what, english)
    return len(found)


def test_no_post_operation_answers_bad_bodies_in_english(app: Flask, api, world: World) -> None:
    spec = app.test_client().get(f"{BASE}/openapi.json").get_json()
    checked = 0
    for path, operation, role in operations(app, spec, "post"):
        if "requestBody" not in operation:
            continue  # nothing to parse (and POST /auth/logout would end the villager's session)
        multipart = "multipart/form-data" in operation["requestBody"]["content"]
        for body in bodies(spec, operation):
            if multipart:
                form = {name: str(value) for name, value in body.items()}
                response = api(role).post(path, json=None, data=form, content_type="multipart/form-data")
            else:
                response = api(role).post(path, json=body)
            checked += assert_no_english(response, f"POST {path} {body}")
    assert checked > 100, checked


def test_no_list_answers_bad_query_parameters_in_english(app: Flask, api, world: World) -> None:
    spec = app.test_client().get(f"{BASE}/openapi.json").get_json()
    checked = 0
    for path, operation, role in operations(app, spec, "get"):
        query = {p["name"]: p["schema"] for p in operation.get("parameters", []) if p["in"] == "query"}
        for values in (
            {name: wrong_type(schema) for name, schema in query.items()},
            {name: wrong_value(spec, schema) for name, schema in query.items()},
        ):
            values["zzz_unknown"] = 1
            response = api(role).get(path, query_string={k: v for k, v in values.items() if v is not None})
            checked += assert_no_english(response, f"GET {path} {values}")
    assert checked > 40, checked
