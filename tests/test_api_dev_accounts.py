"""The H5 app's dev sign-in screen: the demo county's logins, only while dev login is on."""

from __future__ import annotations

from backend.auth.models import ROLE_LABELS, Role

URL = "/api/mp/v1/auth/dev-accounts"


def test_the_dev_sign_in_screen_offers_a_few_demo_logins_of_each_role_villagers_first(client, demo_county) -> None:
    response = client.get(URL)
    assert response.status_code == 200
    items = response.json["items"]
    assert 5 <= len(items) <= 30
    roles = [item["role"] for item in items]
    assert roles == sorted(roles, key=[role.value for role in Role].index)
    assert set(roles) == {role.value for role in Role}
    for item in items:
        assert item["role_label"] == ROLE_LABELS[Role(item["role"])]
        assert (item["village"] is None) == (item["role"] in {"town_admin", "county_admin"}), item
    assert all("*" in item["name"] for item in items if item["role"] == "cadre")
    assert all(item["village"].endswith("村") for item in items if item["village"])


def test_each_offered_login_signs_in_as_its_role(client, demo_county) -> None:
    first_of_role = {item["role"]: item for item in reversed(client.get(URL).json["items"])}
    for role, item in first_of_role.items():
        response = client.post("/api/mp/v1/auth/login", json={"code": f"dev:{item['username']}"})
        assert response.status_code == 200, response.json
        assert response.json["user"]["role"] == role


def test_without_the_demo_county_the_list_is_empty(client) -> None:
    assert client.get(URL).json == {"items": []}


def test_with_dev_login_off_the_list_is_not_found(app, client) -> None:
    app.config["DEV_LOGIN_ENABLED"] = False
    try:
        response = client.get(URL)
    finally:
        app.config["DEV_LOGIN_ENABLED"] = True
    assert response.status_code == 404
    assert response.json["code"] == "not_found"
