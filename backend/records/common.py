"""Pieces every part of cadre work shares: county settings, the acting cadre, capture times, GPS."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, event, select
from sqlalchemy.orm import Session, SessionTransaction

from backend.auth.models import Role, User
from backend.auth.scope import Scope, active_posting_filter, load_village
from backend.db import read_rows
from backend.errors import Forbidden, InvalidRequest
from backend.org.models import Cadre, Posting, Town, Village
from backend.records.models import CadreWorkSettings, Capture
from backend.timeutil import now_utc, to_local, today_local

EARTH_RADIUS_M = 6_371_000


@dataclass(frozen=True)
class WorkSettings:
    required_days: int = 20
    visits_required: int = 2
    visit_period_months: int = 1
    contacts_per_month: int = 0
    accuracy_cap_m: int = 100
    problem_deadline_days: int = 15
    checkin_photo_required: bool = False


DEFAULT_SETTINGS = WorkSettings()
# The two published visiting rules, as data a county can adopt (domain.md).
ZIYANG_VISITS = {"visits_required": 2, "visit_period_months": 1, "contacts_per_month": 0}
GUANGYUAN_VISITS = {"visits_required": 1, "visit_period_months": 2, "contacts_per_month": 1}


_SETTINGS_KEY = "xz_work_settings"
_COUNTY_SETTINGS = select(*(CadreWorkSettings.__table__.c[f.name] for f in fields(WorkSettings))).where(
    CadreWorkSettings.county_id == bindparam("county")
)


def settings_for_county(session: Session, county_id: int) -> WorkSettings:
    """Read once per transaction: a compile asks for every town and provider, and a county without its own row
    (the defaults) is not in the identity map to answer from."""
    cache: dict[int, WorkSettings] = session.info.setdefault(_SETTINGS_KEY, {})
    if county_id not in cache:
        row = read_rows(session, _COUNTY_SETTINGS, {"county": county_id}).first()
        cache[county_id] = DEFAULT_SETTINGS if row is None else WorkSettings(**row._mapping)
    return cache[county_id]


@event.listens_for(Session, "after_transaction_end")
def _forget_settings(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_SETTINGS_KEY, None)


VISIT_RULES = {"ziyang": ZIYANG_VISITS, "guangyuan": GUANGYUAN_VISITS}
VISIT_RULE_LABELS = {
    "ziyang": "紫阳做法：每户每月走访 2 次",
    "guangyuan": "广元做法：每户每月联系 1 次，每两个月走访 1 次",
    "custom": "自定义",
}
VISIT_PERIODS = (1, 2, 3, 6, 12)


def visit_rule_of(settings: WorkSettings) -> str:
    """Which published rule these numbers are, else "custom"."""
    numbers = {k: getattr(settings, k) for k in ZIYANG_VISITS}
    return next((name for name, rule in VISIT_RULES.items() if rule == numbers), "custom")


def save_settings(session: Session, county_id: int, settings: WorkSettings) -> WorkSettings:
    """A county admin's numbers for cadre work. Checked here with the messages an admin reads; the table's
    constraints say the same."""
    errors: dict[str, list[str]] = {}
    if not 0 <= settings.required_days <= 31:
        errors["required_days"] = ["每月到岗天数应在 0–31 天之间"]
    if not 0 <= settings.visits_required <= 31:
        errors["visits_required"] = ["走访次数应在 0–31 次之间"]
    if settings.visit_period_months not in VISIT_PERIODS:
        errors["visit_period_months"] = ["走访周期应为 1、2、3、6 或 12 个月"]
    if not 0 <= settings.contacts_per_month <= 31:
        errors["contacts_per_month"] = ["每月联系次数应在 0–31 次之间"]
    if not 0 <= settings.accuracy_cap_m <= 1000:
        errors["accuracy_cap_m"] = ["定位精度上限应在 0–1000 米之间"]
    if not 1 <= settings.problem_deadline_days <= 365:
        errors["problem_deadline_days"] = ["问题办理期限应在 1–365 天之间"]
    if errors:
        raise InvalidRequest("设置有误，未保存", errors=errors)
    row = session.get(CadreWorkSettings, county_id) or CadreWorkSettings(county_id=county_id)
    for name, value in vars(settings).items():
        setattr(row, name, value)
    session.add(row)
    session.flush()
    session.info.pop(_SETTINGS_KEY, None)
    return settings


def settings_for_village(session: Session, village_id: int) -> WorkSettings:
    county_id = session.scalar(select(Town.county_id).join(Village).where(Village.id == village_id))
    return settings_for_county(session, county_id) if county_id is not None else DEFAULT_SETTINGS


def acting_cadre(user: User) -> Cadre:
    """The cadre behind a cadre login; every write of cadre work is done by one."""
    if user.role != Role.cadre or user.cadre is None:
        raise Forbidden("只有驻村干部可以记录驻村工作")
    return user.cadre


def posted_village_ids(session: Session, cadre_id: int, on: date | None = None) -> list[int]:
    on = on or today_local()
    return list(
        session.scalars(
            select(Posting.village_id)
            .where(Posting.cadre_id == cadre_id, active_posting_filter(on))
            .distinct()
            .order_by(Posting.village_id)
        )
    )


def record_village(
    session: Session, scope: Scope, cadre: Cadre, village_id: int | None, household_villages: set[int]
) -> int:
    """The village a record belongs to: the one named, else its households' one, else the cadre's only posting."""
    if village_id is not None:
        return load_village(session, scope, village_id).id
    if len(household_villages) == 1:
        return next(iter(household_villages))
    posted = posted_village_ids(session, cadre.id)
    if len(posted) == 1:
        return posted[0]
    if not posted:
        raise Forbidden("当前没有驻村任务")
    raise InvalidRequest(errors={"village_id": ["您在多个村驻村，请指定村"]})


# A phone's clock may run a little fast: a capture time up to this far past the server's is taken as now.
CLOCK_SKEW = timedelta(minutes=5)


def capture(captured_at: datetime | None) -> Capture:
    """The moment of a piece of cadre work, from the capture time the phone sent with it (absent: now).

    Refused with a 422 naming `captured_at`: a time in the future beyond CLOCK_SKEW (the phone's clock is
    wrong: every business day would be too), and one older than CAPTURE_MAX_AGE_DAYS (an outbox bridges days
    without signal; it is not a way to fill last month's attendance in afterwards). Replays of an item already
    received never get here: the Idempotency-Key answers them first, however old they are.
    """
    received = now_utc()
    if captured_at is None:
        return Capture(received)
    captured = captured_at.astimezone(UTC)
    if captured > received + CLOCK_SKEW:
        raise InvalidRequest(
            "采集时间晚于当前时间",
            errors={"captured_at": ["采集时间晚于服务器时间，请把手机的日期和时间设为自动后重新提交"]},
        )
    max_age = current_app.config["CAPTURE_MAX_AGE_DAYS"]
    if received - captured > timedelta(days=max_age):
        raise InvalidRequest(
            f"采集已超过 {max_age} 天，不能再上传",
            errors={
                "captured_at": [
                    f"离线记录须在采集后 {max_age} 天内上传；这条采集于 {to_local(captured):%Y-%m-%d %H:%M}，"
                    "已不能补传，请联系乡镇管理员"
                ]
            },
        )
    return Capture(received, captured)


def encode_location(lat: float | None, lng: float | None) -> str | None:
    """GPS goes into an encrypted column as "lat,lng" (6 decimals ≈ 0.1 m)."""
    if lat is None or lng is None:
        if (lat is None) != (lng is None):
            raise InvalidRequest(errors={"lat": ["经纬度须同时提供"]})
        return None
    return f"{lat:.6f},{lng:.6f}"


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance (haversine): metres are what a fence radius is given in."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def in_fence(distance: float, accuracy: float, radius_m: int, accuracy_cap_m: int) -> bool:
    """Inside if the fix could be inside: distance − min(accuracy, cap) ≤ radius.

    The phone's accuracy is the radius of its uncertainty; crediting it avoids refusing a cadre
    standing at the edge under a poor mountain fix, and capping it stops a useless 5 km fix from
    counting as on post.
    """
    return distance - min(max(accuracy, 0.0), accuracy_cap_m) <= radius_m
