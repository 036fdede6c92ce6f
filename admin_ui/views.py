"""Admin login, logout and the dashboard."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from flask import current_app, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from admin_ui.access import admin_required, bp, current_scope, nav_item, public
from backend.auth import service
from backend.auth.models import ADMIN_ROLES
from backend.db import db
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


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> str | Response:
    if current_user.is_authenticated and current_user.role in ADMIN_ROLES:
        return redirect(url_for("admin.dashboard"))
    form = LoginForm()
    if form.validate_on_submit():
        outcome = service.authenticate_admin(
            db.session,
            form.username.data or "",
            form.password.data or "",
            max_failed=current_app.config["ADMIN_MAX_FAILED_LOGINS"],
            lockout=timedelta(minutes=current_app.config["ADMIN_LOCKOUT_MINUTES"]),
        )
        if outcome.user is not None:
            login_user(outcome.user)
            return redirect(_safe_next(request.args.get("next")) or url_for("admin.dashboard"))
        # A 200 response: the request boundary commits the failure count that drives the lockout.
        flash(outcome.error or "登录失败", "error")
    return render_template("login.html", form=form)


@bp.post("/logout")
@public
@login_required
def logout() -> Response:
    logout_user()
    flash("已退出登录", "info")
    return redirect(url_for("admin.login"))


nav_item("admin.dashboard", "首页", "home", 0)


@bp.get("/")
@admin_required
def dashboard() -> str:
    return render_template("dashboard.html", counts=dashboard_counts(db.session, current_scope()), admin=g.admin)
