"""Who may call each API route. Every view declares a policy; a test fails on a route without one.

The role check happens here; the scope check happens in the service through backend.auth.scope.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import current_app, g, request

from backend.auth.models import Role, User
from backend.auth.scope import Scope, scope_for
from backend.auth.service import user_for_token
from backend.db import db
from backend.errors import Forbidden, Unauthenticated

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


def public(view: Callable[..., Any]) -> Callable[..., Any]:
    setattr(view, POLICY_ATTR, PUBLIC)
    return view


def current_scope() -> Scope:
    return g.scope


def current_user() -> User:
    return g.user


def policy_of(endpoint: str) -> frozenset[Role] | str | None:
    return getattr(current_app.view_functions[endpoint], POLICY_ATTR, None)
