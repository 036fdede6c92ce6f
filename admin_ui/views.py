"""Admin login and dashboard."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from backend.auth import service
from backend.auth.scope import scope_for
from backend.db import db
from backend.org.dashboard import dashboard_counts

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates", static_folder="static")


class LoginForm(FlaskForm):
    username = StringField("用户名", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("密码", validators=[DataRequired(), Length(max=200)])


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response:
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
            return redirect(url_for("admin.dashboard"))
        flash(outcome.error or "登录失败", "error")
    return render_template("login.html", form=form)


@bp.post("/logout")
@login_required
def logout() -> Response:
    logout_user()
    return redirect(url_for("admin.login"))


@bp.get("/")
@login_required
def dashboard() -> str:
    scope = scope_for(db.session, current_user)
    return render_template("dashboard.html", counts=dashboard_counts(db.session, scope))
