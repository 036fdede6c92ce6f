"""Server-rendered admin pages at /admin: session login, CSRF on every form, Chinese UI."""

from __future__ import annotations

import contextlib

from flask import Flask, Response, make_response, redirect, render_template, session, url_for
from markupsafe import escape
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from admin_ui.access import SESSION_KEY, security_headers
from backend.auth.models import User
from backend.auth.sessions import admin_for_session
from backend.db import db
from backend.errors import DomainError, InternalError
from backend.extensions import login_manager

# The error page without the layout (whose menu needs the database).
BARE_ERROR_PAGE = (
    '<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>出错了</title><h1>{status}</h1><p>{message}</p>'
)


def render_admin_error(error: DomainError | HTTPException) -> Response:
    if isinstance(error, HTTPException):
        status = error.code or 500
        message = {
            404: "页面不存在",
            403: "没有权限访问此页面",
            405: "不支持该请求方法",
            413: "提交的内容过大",
            429: "操作过于频繁，请稍后再试",
        }.get(status, error.description or "请求无法完成")
        if status == 400 and "CSRF" in (error.description or ""):
            message = "页面已过期，请刷新后重新提交"
    else:
        status, message = error.status, error.message
    if isinstance(error, InternalError):
        message = "服务器内部错误，请稍后重试"
    try:
        page = render_template("error.html", status=status, message=message)
    except SQLAlchemyError:  # the page's menu reads the signed-in user: not while the database is away
        with contextlib.suppress(SQLAlchemyError):
            db.session.rollback()
        page = BARE_ERROR_PAGE.format(status=status, message=escape(message))
    return security_headers(make_response(page, status))


def init_admin(app: Flask) -> None:
    # Each module adds its routes (and top-bar entries) to the one blueprint.
    from admin_ui import (  # noqa: F401
        accounts,
        audit,
        binding,
        honors,
        imports,
        notice,
        org,
        org_cadres,
        org_households,
        org_regions,
        photos,
        points,
        ratings,
        records,
        shop,
        surveys,
        views,
    )
    from admin_ui.access import bp

    login_manager.login_view = "admin.login"
    login_manager.login_message = "请先登录"

    @login_manager.user_loader
    def _load_user(user_id: str) -> User | None:
        # The signed cookie alone is not enough: its session must still be live on the server.
        return admin_for_session(db.session, int(user_id), session.get(SESSION_KEY))

    app.register_blueprint(bp)

    @app.get("/")
    def _root() -> Response:
        return redirect(url_for("admin.dashboard"))
