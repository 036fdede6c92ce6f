"""Bad input gets the one error envelope with a clear code, never a 500, and changes nothing."""

from __future__ import annotations

import json

import pytest

from tests.admin_helpers import post_form


def assert_envelope(response, status: int, code: str) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    body = response.json
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    return body


def test_malformed_json_is_invalid_request(client) -> None:
    response = client.post("/api/mp/v1/auth/login", data="{not json", content_type="application/json")
    assert_envelope(response, 422, "invalid_request")


def test_wrong_types_name_the_field(client) -> None:
    body = assert_envelope(client.post("/api/mp/v1/auth/login", json={"code": 123}), 422, "invalid_request")
    assert "code" in body["errors"]


def test_missing_required_field_names_the_field(client) -> None:
    body = assert_envelope(client.post("/api/mp/v1/auth/login", json={}), 422, "invalid_request")
    assert "code" in body["errors"]


def test_unknown_fields_are_refused(client) -> None:
    response = client.post("/api/mp/v1/auth/login", json={"code": "dev:x", "role": "county_admin"})
    body = assert_envelope(response, 422, "invalid_request")
    assert "role" in body["errors"]


def test_a_json_array_instead_of_an_object_is_refused(client) -> None:
    assert_envelope(client.post("/api/mp/v1/auth/login", json=["dev:x"]), 422, "invalid_request")


@pytest.mark.parametrize("size", [70 * 1024, 20 * 1024 * 1024])
def test_huge_bodies_get_payload_too_large(client, size: int) -> None:
    payload = '{"code": "' + "a" * size + '"}'
    response = client.post("/api/mp/v1/auth/login", data=payload, content_type="application/json")
    assert_envelope(response, 413, "payload_too_large")


@pytest.mark.parametrize("query", ["limit=abc", "limit=0", "limit=1000", "cursor=%%%", "flag=rich"])
def test_bad_list_parameters_are_invalid_request(api, world, query: str) -> None:
    assert_envelope(api("county_admin").get(f"/households?{query}"), 422, "invalid_request")


def test_cursor_pagination_walks_every_household_once(api, world) -> None:
    phone = api("county_admin")
    seen: list[int] = []
    url = "/households?limit=2"
    while url:
        body = phone.get(url).json
        seen += [item["id"] for item in body["items"]]
        url = f"/households?limit=2&cursor={body['next_cursor']}" if body["next_cursor"] else ""
    assert len(seen) == len(set(seen)) == 5


def test_unknown_api_path_is_not_found_json(client) -> None:
    assert_envelope(client.get("/api/mp/v1/no-such-thing"), 404, "not_found")


def test_wrong_method_is_method_not_allowed_json(client) -> None:
    assert_envelope(client.get("/api/mp/v1/auth/login"), 405, "method_not_allowed")


def test_unknown_household_is_not_found(api, world) -> None:
    assert_envelope(api("county_admin").get("/households/999999"), 404, "not_found")


def test_admin_pages_answer_html_errors_not_json(client) -> None:
    response = client.get("/admin/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "页面不存在" in response.get_data(as_text=True)


# --- text no table can hold, ids no column can hold, documents no parser should recurse into -------------


@pytest.mark.parametrize("code", ["abc\u0000def", "x\udfffy", "\ud800"])
def test_a_nul_or_a_lone_surrogate_in_a_body_is_invalid_request_before_any_database_work(client, code) -> None:
    body = '{"code": ' + json.dumps(code) + "}"  # json.dumps escapes both as \\uXXXX, as a hostile phone would
    response = client.post("/api/mp/v1/auth/login", data=body, content_type="application/json")
    assert_envelope(response, 422, "invalid_request")


def test_a_nul_in_a_json_key_or_deep_inside_is_refused(api, world) -> None:
    nested = {"answers": [{"question_id": 1, "value": "好\u0000"}]}
    assert_envelope(api("villager").post(f"/surveys/{world.ids['survey']}/responses", nested), 422, "invalid_request")
    keyed = {"reason\u0000": "x"}
    response = api("reviewer").post(f"/review/claims/{world.ids['claim']}/reject", keyed)
    assert_envelope(response, 422, "invalid_request")


@pytest.mark.parametrize("query", ["q=%00", "q=1%00%00", "flag=poor%00"])
def test_a_nul_or_broken_text_in_the_query_string_is_invalid_request(api, world, query: str) -> None:
    assert_envelope(api("county_admin").get(f"/households?{query}"), 422, "invalid_request")


@pytest.mark.parametrize("disposition", ['form-data; filename="a.jpg"', "form-data"])
def test_an_upload_with_a_part_that_has_no_name_is_invalid_request(api, world, disposition: str) -> None:
    """werkzeug keys a nameless multipart part None, which neither the input guard nor an error body can hold."""
    body = f"--b\r\nContent-Disposition: {disposition}\r\n\r\nx\r\n--b--\r\n"
    response = api("villager").post("/uploads", data=body, content_type="multipart/form-data; boundary=b")
    assert_envelope(response, 422, "invalid_request")


def test_five_thousand_nested_brackets_are_invalid_request(client) -> None:
    body = "[" * 5000 + "]" * 5000
    assert_envelope(
        client.post("/api/mp/v1/auth/login", data=body, content_type="application/json"), 422, "invalid_request"
    )


@pytest.mark.parametrize(
    "path", ["/households/2147483648", "/households/99999999999999999999999", "/review/claims/4294967296/approve"]
)
def test_an_id_beyond_an_integer_column_is_not_found(api, world, path: str) -> None:
    phone = api("county_admin")
    response = phone.get(path) if path.startswith("/households") else phone.post(path)
    assert_envelope(response, 404, "not_found")


def test_the_largest_integer_id_is_still_an_ordinary_not_found(api, world) -> None:
    assert_envelope(api("county_admin").get("/households/2147483647"), 404, "not_found")


def test_a_nul_in_an_admin_form_or_query_is_refused_with_a_page_not_a_500(admin, world) -> None:
    browser = admin("reviewer")
    assert browser.get("/admin/households?q=%00").status_code == 422
    refused = post_form(browser, f"/admin/points/claims/{world.ids['claim']}/reject", {"reason": "照片\u0000不清晰"})
    assert refused.status_code == 422 and "无法识别的字符" in refused.get_data(as_text=True)


@pytest.mark.parametrize("product_id", [2**31, 10**30, -(2**31) - 1])
def test_an_integer_no_column_holds_is_invalid_request(api, world, product_id: int) -> None:
    body = assert_envelope(
        api("villager").post("/shop/redemptions", {"product_id": product_id, "quantity": 1}), 422, "invalid_request"
    )
    assert "product_id" in body["errors"]


def test_a_fraction_is_refused_not_cut_to_a_whole_number(api, world) -> None:
    body = assert_envelope(
        api("villager").post("/shop/redemptions", {"product_id": 1, "quantity": 2.5}), 422, "invalid_request"
    )
    assert "quantity" in body["errors"]


@pytest.mark.parametrize("query", ["village_id=2147483648", "cursor=" + "OTk5OTk5OTk5OTk5"])
def test_a_query_id_or_cursor_beyond_an_integer_column_is_invalid_request(api, world, query: str) -> None:
    assert_envelope(api("county_admin").get(f"/households?{query}"), 422, "invalid_request")


@pytest.mark.parametrize("month", ["9999-12", "1999-12", "2100-01"])
def test_a_month_outside_this_century_is_invalid_request(api, world, month: str) -> None:
    assert_envelope(api("cadre").get(f"/visits/coverage?month={month}"), 422, "invalid_request")
