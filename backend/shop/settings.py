"""A village's supermarket settings as data: when it takes requests, how long approved goods wait."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.auth.scope import Scope, load_village
from backend.errors import InvalidRequest, NotFound
from backend.org.models import Town, Village
from backend.points.models import CapPeriod
from backend.shop.models import RedemptionWindow, ShopSetting, WindowCadence

DEFAULT_PICKUP_DAYS = 7
QUARTER_FIRST_MONTHS = frozenset({1, 4, 7, 10})
CADENCE_LABELS = {WindowCadence.monthly: "每月", WindowCadence.quarterly: "每季度首月"}
# Per-household limits count per period: 每月 / 每季度 / 每年.
PERIOD_LABELS = {CapPeriod.month: "每月", CapPeriod.quarter: "每季度", CapPeriod.year: "每年"}


def describe_window(window: RedemptionWindow) -> str:
    days = f"{window.first_day}日" if window.first_day == window.last_day else f"{window.first_day}–{window.last_day}日"
    return f"{CADENCE_LABELS[window.cadence]}{days}"


def windows_of(session: Session, village_id: int) -> list[RedemptionWindow]:
    return list(
        session.scalars(
            select(RedemptionWindow).where(RedemptionWindow.village_id == village_id).order_by(RedemptionWindow.id)
        )
    )


def window_covers(window: RedemptionWindow, on: date) -> bool:
    if window.cadence == WindowCadence.quarterly and on.month not in QUARTER_FIRST_MONTHS:
        return False
    return window.first_day <= on.day <= window.last_day


def redemption_open(session: Session, village_id: int, on: date) -> bool:
    """Open on a business day covered by one of the village's windows; a village without windows is closed."""
    return any(window_covers(window, on) for window in windows_of(session, village_id))


def add_window(
    session: Session, scope: Scope, village_id: int, cadence: WindowCadence, first_day: int, last_day: int
) -> RedemptionWindow:
    village = load_village(session, scope, village_id)
    if not 1 <= first_day <= last_day <= 31:
        raise InvalidRequest(errors={"first_day": ["日期范围应在 1–31 日之间，且开始不晚于结束"]})
    window = RedemptionWindow(village_id=village.id, cadence=cadence, first_day=first_day, last_day=last_day)
    session.add(window)
    session.flush()
    return window


def remove_window(session: Session, scope: Scope, window_id: int) -> None:
    window = session.get(RedemptionWindow, window_id)
    if window is None:
        raise NotFound("兑换时间不存在")
    load_village(session, scope, window.village_id)
    session.delete(window)
    session.flush()


def pickup_days(session: Session, village_id: int) -> int:
    """The village's own setting, else its county's, else 7 days."""
    county_id = select(Town.county_id).join(Village, Village.town_id == Town.id).where(Village.id == village_id)
    settings = {
        s.village_id is not None: s.pickup_days
        for s in session.scalars(
            select(ShopSetting).where(
                (ShopSetting.village_id == village_id) | (ShopSetting.county_id == county_id.scalar_subquery())
            )
        )
    }
    return settings.get(True, settings.get(False, DEFAULT_PICKUP_DAYS))


def set_pickup_days(session: Session, scope: Scope, village_id: int, days: int) -> ShopSetting:
    village = load_village(session, scope, village_id)
    if not 1 <= days <= 90:
        raise InvalidRequest(errors={"pickup_days": ["领取期限应在 1–90 天之间"]})
    setting = session.scalar(select(ShopSetting).where(ShopSetting.village_id == village.id))
    if setting is None:
        setting = ShopSetting(village_id=village.id, pickup_days=days)
        session.add(setting)
    setting.pickup_days = days
    session.flush()
    return setting
