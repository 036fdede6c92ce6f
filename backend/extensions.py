"""Flask extensions created unbound; create_app binds them."""

from __future__ import annotations

from flask import g, request
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect


def _rate_limit_key() -> str:
    """Per signed-in user where known (phones share carrier NAT addresses), else per address."""
    user = getattr(g, "user", None)
    return f"user:{user.id}" if user is not None else f"ip:{request.remote_addr}"


csrf = CSRFProtect()
limiter = Limiter(key_func=_rate_limit_key, default_limits=[])
login_manager = LoginManager()
