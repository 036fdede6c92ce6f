"""A county starts on an empty database with one command: `flask create-county` makes the county, its first
county admin (who can sign in at once) and its preset configuration, and records both in the audit log."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from backend.audit.models import AuditEntry
from backend.db import db
from backend.org.models import County
from backend.points.models import RuleBook
from backend.ratings.models import RatingScheme
from backend.surveys.models import SurveyTemplate
from tests.admin_helpers import html, post_login

PASSWORD = "a long county password"


def create_county(app: Flask, *args: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(
        args=["create-county", "--name", "紫阳县", "--code", "610924", "--admin", "ziyang_admin", *args],
        input=f"{password}\n{password}\n",
    )


def test_a_new_county_starts_with_one_command_and_its_admin_signs_in(app: Flask, client) -> None:  # type: ignore[no-untyped-def]
    result = create_county(app)
    assert result.exit_code == 0, result.output
    assert "created 紫阳县 (610924" in result.output
    with app.app_context():
        county_id = db.session.scalar(select(County.id).where(County.code == "610924"))
        assert db.session.scalar(select(func.count()).select_from(RuleBook).where(RuleBook.county_id == county_id)) == 1
        assert db.session.scalar(select(func.count()).where(RatingScheme.county_id == county_id)) >= 3
        assert db.session.scalar(select(func.count()).where(SurveyTemplate.county_id == county_id)) == 2
        logged = db.session.execute(select(AuditEntry.action, AuditEntry.county_id).order_by(AuditEntry.id)).all()
        assert logged == [("county.create", county_id), ("user.create", county_id)]
    assert post_login(client, "ziyang_admin", PASSWORD).status_code == 302
    page = html(client.get("/admin/audit"))
    assert "新建县 紫阳县（610924）" in page and "新建县管理员账号 ziyang_admin" in page


def test_creating_the_same_county_twice_or_with_bad_input_changes_nothing(app: Flask) -> None:
    assert create_county(app).exit_code == 0
    again = create_county(app)
    assert again.exit_code == 1 and "代码为 610924 的县已存在" in again.output
    short = app.test_cli_runner().invoke(
        args=["create-county", "--name", "岚皋县", "--code", "610925", "--admin", "langao_admin"],
        input="short\nshort\n",
    )
    assert short.exit_code == 1 and "密码至少 10 位" in short.output
    bad_code = app.test_cli_runner().invoke(
        args=["create-county", "--name", "岚皋县", "--code", "6109", "--admin", "langao_admin"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert bad_code.exit_code == 1 and "县级行政区划代码为6位数字" in bad_code.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(County)) == 1
        assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == 2
