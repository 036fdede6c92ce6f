"""Admin login, logout and the dashboard."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, flash, g, make_response, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from admin_ui.access import SESSION_KEY, admin_required, bp, current_scope, nav_item, public
from backend.auth import admin_login, sessions
from backend.auth.models import ADMIN_ROLES
from backend.db import db
from backend.extensions import limiter
from backend.org.queries import dashboard_counts

__all__ = ["bp"]


class LoginForm(FlaskForm):
    username = StringField("用户名", validators=[DataRequired(message="请输入用户名"), Length(max=64)])
    password = PasswordField("密码", validators=[DataRequired(message="请输入密码"), Length(max=200)])


def _safe_next(target: str | None) -> str | None:
    """Only a path inside the admin area: never another host (open redirect)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/admin") or target.startswith("//"):
        return None
    return target


def _address() -> str:
    return (request.remote_addr or "")[:64]


def _not_signed_in(response: Response) -> bool:
    """Only attempts that failed count against an address: a county office behind one address signs in freely."""
    return response.status_code != 302


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(lambda: current_app.config["ADMIN_LOGIN_RATE_LIMIT"], methods=["POST"], deduct_when=_not_signed_in)
def login() -> str | Response:
    if current_user.is_authenticated and current_user.role in ADMIN_ROLES:
        return redirect(url_for("admin.dashboard"))
    form = LoginForm()
    if form.validate_on_submit():
        outcome = admin_login.authenticate_admin(
            db.session, form.username.data or "", form.password.data or "", address=_address()
        )
        if outcome.user is not None:
            login_user(outcome.user)
            session[SESSION_KEY] = sessions.start_admin_session(db.session, outcome.user)
            return redirect(_safe_next(request.args.get("next")) or url_for("admin.dashboard"))
        flash(outcome.error or "登录失败", "error")
        if outcome.retry_after is not None:
            throttled = make_response(render_template("login.html", form=form), 429)
            throttled.headers["Retry-After"] = str(outcome.retry_after)
            return throttled
        # A 200 response: the request boundary commits the failure that drives the back-off.
    return render_template("login.html", form=form)


@bp.post("/logout")
@public
@login_required
def logout() -> Response:
    sessions.end_admin_session(db.session, current_user, session.pop(SESSION_KEY, None), address=_address())
    logout_user()
    flash("已退出登录", "info")
    return redirect(url_for("admin.login"))


nav_item("admin.dashboard", "首页", "home", 0)


@bp.get("/")
@admin_required
def dashboard() -> str:
    return render_template("dashboard.html", counts=dashboard_counts(db.session, current_scope()), admin=g.admin)
