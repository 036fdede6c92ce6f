"""Who may call each API route. Every view declares a policy; a test fails on a route without one.

The role check happens here; the scope check happens in the service through backend.auth.scope.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Response, current_app, g, make_response, request
from sqlalchemy.exc import IntegrityError

from backend import idempotency
from backend.auth.models import Role, User
from backend.auth.scope import Scope, scope_for
from backend.auth.service import user_for_token
from backend.db import db
from backend.errors import Conflict, Forbidden, InvalidRequest, Unauthenticated

ALL_ROLES = frozenset(Role)
ADMINS = frozenset({Role.reviewer, Role.town_admin, Role.county_admin})
POLICY_ATTR = "xz_policy"
PUBLIC = "public"


def bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated()
    return token.strip()


def allow(*roles: Role) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Authenticate the bearer token, require one of `roles`, and expose g.user and g.scope."""
    allowed = frozenset(roles)

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user: User = user_for_token(db.session, bearer_token())
            g.user = user
            if user.role not in allowed:
                raise Forbidden()
            g.scope = scope_for(db.session, user)
            return view(*args, **kwargs)

        setattr(wrapper, POLICY_ATTR, allowed)
        return wrapper

    return decorate


def body_arrives_slowly(view: Callable[..., Any]) -> Callable[..., Any]:
    """Under `allow`, for a body that may take minutes to arrive (a photo on a village uplink). On SQLite the
    POST's transaction, begun by authentication, holds the database's write lock: every other writer would wait
    for the upload. So there the session is closed before the body is read (what was loaded stays usable) and
    the view's statements begin anew. On PostgreSQL the transaction holds only its worker's own connection,
    and ending it costs the phone ~0.7 ms after its last byte (measured with bench/uploads.py)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if db.session.get_bind().dialect.name == "sqlite":
            db.session.close()
        return view(*args, **kwargs)

    return wrapper


def public(view: Callable[..., Any]) -> Callable[..., Any]:
    setattr(view, POLICY_ATTR, PUBLIC)
    return view


def current_scope() -> Scope:
    return g.scope


def current_user() -> User:
    return g.user


def policy_of(endpoint: str) -> frozenset[Role] | str | None:
    return getattr(current_app.view_functions[endpoint], POLICY_ATTR, None)


IDEMPOTENCY_HEADER = "Idempotency-Key"


def _replay(stored: idempotency.StoredResponse) -> Response:
    response = Response(stored.body, status=stored.status, mimetype="application/json")
    response.headers["Idempotent-Replayed"] = "true"
    return response


def idempotent(view: Callable[..., Any]) -> Callable[..., Any]:
    """Honour `Idempotency-Key`: a replay gets the first answer; the same key with another body is a 409.

    Goes below `allow` (needs the user) and above the schema decorators (stores the final response).
    """

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
        if not key:
            return view(*args, **kwargs)
        if len(key) > 80:
            raise InvalidRequest(errors={IDEMPOTENCY_HEADER: ["幂等键过长"]})
        user_id = g.user.id
        fingerprint = idempotency.request_fingerprint(request.method, request.path, request.get_data())
        stored = idempotency.find(db.session, user_id, key, fingerprint)
        if stored is not None:
            return _replay(stored)
        try:
            record = idempotency.claim_key(db.session, user_id, key, fingerprint)
        except IntegrityError:
            # A concurrent request with the same key committed first: answer as it did.
            db.session.rollback()
            stored = idempotency.find(db.session, user_id, key, fingerprint)
            if stored is None:
                raise Conflict("相同的请求正在处理中，请稍后重试") from None
            return _replay(stored)
        response = make_response(view(*args, **kwargs))
        if response.status_code < 400:
            idempotency.remember(db.session, record, response.status_code, response.get_data(as_text=True))
        return response

    return wrapper
