"""Helpers for admin UI tests in any area: CSRF-aware posting, page text, query counting.

The fixtures that sign in (`database`, `with_password`, `admin`) live in conftest.py.
"""

from __future__ import annotations

import html as html_lib
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from admin_ui.access import SESSION_KEY
from backend.auth.models import User
from backend.auth.sessions import start_admin_session
from backend.db import db

PASSWORD = "correct horse battery"
CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def html(response) -> str:  # type: ignore[no-untyped-def]
    return response.get_data(as_text=True)


def chart_options(page: str) -> list[dict]:
    """The ECharts options of the charts on a page (the `chart` macro's data-chart attributes)."""
    return [json.loads(html_lib.unescape(raw)) for raw in re.findall(r'data-chart="([^"]*)"', page)]


def csrf_token(client: FlaskClient, path: str = "/admin/login") -> str:
    """The CSRF token of the form on `path` (any admin page carries one in its meta tag/forms)."""
    page = html(client.get(path))
    match = CSRF_INPUT.search(page) or re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert match, f"{path} carries a CSRF token"
    return match.group(1)


def session_csrf_token(client: FlaskClient, path: str = "/admin/") -> str:
    """The client's CSRF token, read from a page once: Flask-WTF keeps one per session, as a browser tab does."""
    token = getattr(client, "xz_csrf_token", None) or csrf_token(client, path)
    client.xz_csrf_token = token  # type: ignore[attr-defined]
    return token


def post_form(client: FlaskClient, path: str, data: dict[str, object], *, token_from: str = "/admin/"):  # type: ignore[no-untyped-def]
    """Submit an admin form the way a browser does: with the session's CSRF token."""
    return client.post(path, data={**data, "csrf_token": session_csrf_token(client, token_from)})


def post_login(client: FlaskClient, username: str, password: str, next_url: str | None = None):  # type: ignore[no-untyped-def]
    token = session_csrf_token(client, "/admin/login")
    url = "/admin/login" + (f"?next={next_url}" if next_url else "")
    return client.post(url, data={"username": username, "password": password, "csrf_token": token})


def hold_session_of(app: Flask, client: FlaskClient, user_id: int) -> None:
    """Give the browser a live server-side session of any user, one the login form would refuse too (a cadre):
    what a signed cookie would carry, without the form."""
    with app.app_context():
        token = start_admin_session(db.session, db.session.get(User, user_id))
        db.session.commit()
    with client.session_transaction() as sess:
        sess["_user_id"] = str(user_id)
        sess[SESSION_KEY] = token


@contextmanager
def count_queries(app: Flask, keep: Callable[[str, Any], bool] | None = None) -> Iterator[list[str]]:
    """The SQL statements the app sends while the block runs, those `keep(statement, execution context)` accepts."""
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if keep is None or keep(statement, context):
            statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)
