"""Shop data on top of tests.factories' world: a stocked 青石村 supermarket open all month, and H1's
redemptions in each state the review routes act on. Built through the services, so ledgers add up."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from backend.auth.models import Role, User
from backend.auth.scope import Scope
from backend.shop import redemptions, stock
from backend.shop.models import Redemption, RedemptionWindow, WindowCadence
from tests.factories import World

PICKUP_CODE = "135790"


def staff_scope(world: World, *village_keys: str) -> Scope:
    return Scope(world.ids["user:reviewer"], Role.reviewer, frozenset(world.ids[v] for v in village_keys))


def villager_scope(world: World, household_key: str, village_key: str, user_key: str = "villager") -> Scope:
    return Scope(
        world.ids[f"user:{user_key}"],
        Role.villager,
        frozenset({world.ids[village_key]}),
        world.ids[household_key],
    )


def add_product(
    session: Session, world: World, name: str, points: int, units: int, village: str = "V1", **extra: object
) -> int:
    scope = staff_scope(world, village)
    product = stock.create_product(session, scope, village_id=world.ids[village], name=name, points=points, **extra)
    if units:
        stock.restock(session, scope, world.ids["user:reviewer"], product.id, units, "爱心人士捐赠")
    return product.id


def open_all_month(session: Session, world: World, *villages: str) -> None:
    for village in villages:
        session.add(
            RedemptionWindow(village_id=world.ids[village], cadence=WindowCadence.monthly, first_day=1, last_day=31)
        )
    session.flush()


def stock_shop(session: Session, world: World) -> World:
    """Every village open all month; world.ids gains product:rice (30 points, 10 donated bags in V1)."""
    open_all_month(session, world, "V1", "V2", "V3", "V4")
    world.ids["product:rice"] = add_product(session, world, "大米（10斤）", 30, 10, unit="袋")
    return world


def add_shop(session: Session, world: World) -> World:
    """stock_shop plus H1's redemption:pending and redemption:approved (pickup code PICKUP_CODE)."""
    stock_shop(session, world)
    villager = session.get_one(User, world.ids["user:villager"])
    reviewer = session.get_one(User, world.ids["user:reviewer"])
    scope = villager_scope(world, "H1", "V1")
    pending = redemptions.request_redemption(session, scope, villager, world.ids["product:rice"], 1)
    approved = redemptions.request_redemption(session, scope, villager, world.ids["product:rice"], 1)
    redemptions.approve_redemption(session, staff_scope(world, "V1"), reviewer, approved.id)
    session.execute(update(Redemption).where(Redemption.id == approved.id).values(pickup_code=PICKUP_CODE))
    world.ids["redemption:pending"] = pending.id
    world.ids["redemption:approved"] = approved.id
    return world
