"""A new county on an empty database: the county, its first county admin, and the county's starting
configuration (the points rule book, the assessment schemes and the survey templates, from the published
presets the county then edits as its own). Towns, villages, households and cadres come after, from the
admin pages or an Excel import."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.audit.service import Place, record
from backend.auth.account_admin import add_admin
from backend.auth.models import Role
from backend.errors import Conflict, InvalidRequest
from backend.months import Month
from backend.org.models import County
from backend.points.rules import install_preset as install_rule_book
from backend.ratings.schemes import install_presets as install_schemes
from backend.surveys.templates import PRESETS as SURVEY_PRESETS
from backend.surveys.templates import install_preset as install_survey_template

RULE_BOOK_PRESET = "gaoyang"


def start_county(session: Session, *, name: str, code: str, admin_username: str, admin_password: str) -> County:
    """Flushes only. Refuses a county code or username already taken, so a second run changes nothing."""
    name, code = name.strip(), code.strip()
    if not re.fullmatch(r"\d{6}", code):
        raise InvalidRequest(errors={"code": ["县级行政区划代码为6位数字"]})
    if not 1 <= len(name) <= 40:
        raise InvalidRequest(errors={"name": ["请填写县名（不超过40字）"]})
    if session.scalar(select(County.id).where(County.code == code)) is not None:
        raise Conflict(f"代码为 {code} 的县已存在")
    county = County(name=name, code=code)
    session.add(county)
    session.flush()
    admin = add_admin(session, admin_username, admin_password, Role.county_admin, {"county_id": county.id})
    first_month = Month.current().first
    install_rule_book(session, county, RULE_BOOK_PRESET, effective_from=first_month, actor_id=admin.id)
    install_schemes(session, county.id, first_month, actor_id=admin.id)
    for preset in SURVEY_PRESETS:
        install_survey_template(session, county.id, preset, actor_id=admin.id)
    place = Place(county_id=county.id)
    summary = f"新建县 {name}（{code}），安装积分、考核、测评预设"
    record(session, None, "county.create", "county", county.id, summary, place)
    record(session, None, "user.create", "user", admin.id, f"新建县管理员账号 {admin.username}", place)
    return county
