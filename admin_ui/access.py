"""The admin blueprint and its one guard: every admin view needs a signed-in user with an admin role.

`admin_required` is the guard; `public` marks the few views that must work signed out (login).
A blueprint hook refuses any view carrying neither mark, so a forgotten decorator fails closed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, flash, g, redirect, request
from flask_login import current_user

from backend.auth.models import ADMIN_ROLES, ROLE_LABELS, Role
from backend.auth.scope import Scope, scope_for
from backend.db import db
from backend.errors import DomainError, Forbidden, InvalidRequest
from backend.extensions import login_manager
from backend.org.queries import scope_name
from backend.timeutil import to_local

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates", static_folder="static")

# The key of the server-side session's token in the signed session cookie (backend.auth.sessions).
SESSION_KEY = "admin_session"


# Scripts only from our own files (no inline handlers), never framed: clickjacking and injected scripts have
# nothing to work with. Inline style attributes stay allowed (templates set widths of bars and columns).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


@bp.after_request
def security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


F = TypeVar("F", bound=Callable[..., Any])

# Endpoints Flask adds for the blueprint itself (stylesheet etc.): public by nature.
_STATIC_ENDPOINTS = frozenset({"admin.static"})


@dataclass(frozen=True)
class AdminContext:
    """What the top bar shows and every view filters by, computed once per request."""

    scope: Scope
    role_label: str
    scope_name: str

    @property
    def can_manage(self) -> bool:
        """Town and county admins change the region tree and accounts (the forms show); a review panel reads."""
        return self.scope.role in (Role.town_admin, Role.county_admin)


# The top bar shows these areas; the bar under it shows the pages of the area you are in.
NAV_GROUPS: dict[str, str] = {
    "home": "首页",
    "org": "组织架构",
    "points": "村民积分",
    "shop": "积分超市",
    "cadre": "驻村工作",
    "surveys": "满意度测评",
    "ratings": "考核评星",
}


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: str
    group: str
    order: int
    # Other endpoints that highlight this item (a detail page under its list).
    also_active: tuple[str, ...] = ()

    def is_active(self, endpoint: str | None) -> bool:
        return endpoint == self.endpoint or endpoint in self.also_active


@dataclass(frozen=True)
class NavGroup:
    label: str
    items: list[NavItem]
    active: bool


NAV: list[NavItem] = []


def nav_item(endpoint: str, label: str, group: str, order: int, also_active: tuple[str, ...] = ()) -> None:
    """Each admin module adds its pages to an area of the top bar, so the bar needs no edit per area."""
    if group not in NAV_GROUPS:
        raise ValueError(f"{endpoint}: unknown nav group {group}")
    if any(item.endpoint == endpoint for item in NAV):
        raise ValueError(f"{endpoint} is in the admin nav twice")
    NAV.append(NavItem(endpoint, label, group, order, also_active))
    NAV.sort(key=lambda item: (list(NAV_GROUPS).index(item.group), item.order))


def nav_groups(endpoint: str | None) -> list[NavGroup]:
    groups = []
    for key, label in NAV_GROUPS.items():
        items = [item for item in NAV if item.group == key]
        if items:
            groups.append(NavGroup(label, items, any(item.is_active(endpoint) for item in items)))
    return groups


@bp.app_template_filter("localtime")
def localtime(moment: datetime | None) -> str:
    """Times are stored in UTC and shown as the county reads them (Beijing wall time, to the minute)."""
    return f"{to_local(moment):%Y-%m-%d %H:%M}" if moment else "—"


@bp.context_processor
def _inject_nav() -> dict[str, Any]:
    return {"admin_nav": nav_groups(request.endpoint)}


def public(view: F) -> F:
    view.admin_public = True  # type: ignore[attr-defined]
    return view


def admin_required(view: F) -> F:
    """Signed in AND reviewer/town_admin/county_admin; sets g.admin (scope, role label, scope name)."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if current_user.role not in ADMIN_ROLES or not current_user.is_active:
            raise Forbidden("只有管理员可以进入管理后台")
        g.admin = AdminContext(
            scope=scope_for(db.session, current_user),
            role_label=ROLE_LABELS[current_user.role],
            scope_name=scope_name(db.session, current_user),
        )
        return view(*args, **kwargs)

    guarded.admin_guarded = True  # type: ignore[attr-defined]
    return guarded  # type: ignore[return-value]


@bp.before_request
def _refuse_unguarded_views() -> None:
    if request.endpoint is None or request.endpoint in _STATIC_ENDPOINTS:
        return
    view = current_app.view_functions.get(request.endpoint)
    if not (getattr(view, "admin_guarded", False) or getattr(view, "admin_public", False)):
        raise Forbidden("该页面未配置访问控制")


def current_scope() -> Scope:
    return g.admin.scope


# --- Query-string parsing shared by the list pages ---


def page_arg() -> int:
    try:
        return max(1, min(int(request.args.get("page", "1")), 100_000))
    except ValueError:
        return 1


def text_arg(name: str, max_length: int = 40) -> str | None:
    value = (request.args.get(name) or "").strip()
    return value[:max_length] or None


# Integer columns hold 32 bits: a larger number is refused here, not by the database.
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def ascii_int(raw: str) -> int | None:
    """The whole number written in ASCII digits (and a sign); None for anything else. int() alone also reads
    other scripts' digits ("٣", "１２") as numbers, which no form of ours offers."""
    try:
        return int(raw) if raw.isascii() else None
    except ValueError:
        return None


def int_arg(name: str) -> int | None:
    """A positive id from the query string; anything else (text, out of range) is no filter."""
    value = ascii_int(request.args.get(name) or "")
    return value if value is not None and 0 < value <= INT32_MAX else None


def choice_arg(name: str, choices: Any) -> str | None:
    value = request.args.get(name) or None
    return value if value in choices else None


def form_ids(name: str, *, most: int = 100) -> list[int]:
    """The ticked ids of a list form (checkboxes of one name), in order; anything not an id is dropped."""
    ids = {int(v) for v in request.form.getlist(name) if v.isascii() and v.isdigit() and 0 < int(v) <= INT32_MAX}
    return sorted(ids)[:most]


def form_return_path(name: str, under: str) -> str | None:
    """The page a form asks to go back to (its list, filters and page kept), if it is one of ours under `under`:
    never another site (an open redirect), nor anything a Location header cannot carry (a newline is a 500)."""
    target = request.form.get(name) or ""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//") or not parts.path.startswith(under):
        return None
    return target if target.isascii() and target.isprintable() else None


def form_date(name: str) -> date | None:
    """A YYYY-MM-DD date from a posted form field; blank is None."""
    raw = (request.form.get(name) or "").strip()
    if not raw:
        return None
    try:
        if raw.isascii() and len(raw) == 10:
            return date.fromisoformat(raw)
    except ValueError:
        pass
    raise InvalidRequest(f"“{name}”应为日期", errors={name: ["日期应写成 2026-05-01 这样的年-月-日"]})


def form_int(name: str, *, required: bool = False) -> int | None:
    """A whole number (ASCII digits) from a posted form field; blank is None unless required. Business ranges
    are the services' call."""
    raw = (request.form.get(name) or "").strip()
    if not raw:
        if required:
            raise InvalidRequest(f"“{name}”必须填写", errors={name: ["请填写"]})
        return None
    value = ascii_int(raw)
    if value is None:
        raise InvalidRequest(f"“{name}”须为整数", errors={name: ["请填写整数"]})
    if not INT32_MIN <= value <= INT32_MAX:
        raise InvalidRequest(f"“{name}”超出范围", errors={name: ["数值超出范围"]})
    return value


def form_float(name: str) -> float | None:
    """A finite decimal number (ASCII) from a posted form field, such as a latitude; blank is None."""
    raw = (request.form.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = float(raw) if raw.isascii() and len(raw) <= 30 else None
    except ValueError:
        value = None
    if value is None or value != value or value in (float("inf"), float("-inf")):
        raise InvalidRequest(f"“{name}”须为数字", errors={name: ["请填写数字，如 33.15"]})
    return value


def form_text(name: str, max_length: int = 200) -> str:
    """A posted text field, trimmed and cut to `max_length`: the services judge what it says."""
    return (request.form.get(name) or "").strip()[:max_length]


def act(action: Callable[[], Any], success: str, back: str, then: Callable[[Any], str] | None = None) -> Response:
    """Run one service call for a form post: flash the outcome, undo everything on a refusal. Goes back to
    `back`, or after a success to `then` of what the call returned (the page of a new row)."""
    try:
        result = action()
    except DomainError as error:
        db.session.rollback()
        detail = "；".join(f"{messages[0]}" for messages in (error.errors or {}).values())
        flash(f"{error.message}{'：' + detail if detail else ''}", "error")
        return redirect(back)
    flash(success, "ok")
    return redirect(then(result) if then else back)
