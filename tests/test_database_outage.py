"""While PostgreSQL restarts, every request answers 503 "try again" (the API's envelope, the admin's page), with
Retry-After, never a 500 or the server's own bare error: found by the soak test (bench/soak.py, issue 16)."""

from __future__ import annotations

import socket
from collections.abc import Callable

import psycopg
import pytest
from flask import Flask
from sqlalchemy.exc import OperationalError

from backend.db import db


@pytest.fixture
def app_without_database(make_app: Callable[..., Flask]) -> Flask:
    """The app pointed at a PostgreSQL port nobody listens on: a database server that is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return make_app(SQLALCHEMY_DATABASE_URI=f"postgresql://postgres@127.0.0.1:{port}/xz", WTF_CSRF_ENABLED=False)


def test_api_request_while_the_database_is_down_answers_503_envelope_with_retry_after(
    app_without_database: Flask,
) -> None:
    response = app_without_database.test_client().get("/api/mp/v1/me", headers={"Authorization": "Bearer abc"})

    assert response.status_code == 503
    assert response.json == {"code": "service_unavailable", "message": "服务暂时不可用，请稍后重试"}
    assert response.headers["Retry-After"] == "5"


def test_admin_sign_in_while_the_database_is_down_answers_a_503_page_in_chinese(app_without_database: Flask) -> None:
    response = app_without_database.test_client().post(
        "/admin/login", data={"username": "county_admin", "password": "whatever-password"}
    )

    assert response.status_code == 503
    assert "服务暂时不可用，请稍后重试" in response.get_data(as_text=True)
    assert "Retry-After" in response.headers  # the sign-in limiter's own figure on this route


def test_a_write_whose_commit_loses_the_database_answers_503_so_the_phone_retries_it(
    app: Flask, api, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    def connection_lost() -> None:
        raise OperationalError("COMMIT", {}, psycopg.OperationalError("server closed the connection unexpectedly"))

    monkeypatch.setattr(db.session, "commit", connection_lost)
    response = api("villager").post("/notifications/read", json={})

    assert response.status_code == 503
    assert response.json["code"] == "service_unavailable"
