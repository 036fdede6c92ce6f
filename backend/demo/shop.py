"""Demo 积分超市 for every village of the demo county: donated goods on the shelf, requests open all
month, and the demo villagers' redemptions in each state (pending, approved with a code, handed over)."""

from __future__ import annotations

import random
from io import BytesIO

from flask import current_app
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.auth.models import Role, User
from backend.auth.scope import Scope
from backend.errors import DomainError
from backend.org.models import County, Household, Town, Village
from backend.photos.images import find_font
from backend.shop import redemptions, stock
from backend.shop.models import Product, RedemptionWindow, ShopSetting, WindowCadence

SEED = 20240603
# (name, unit, points, per-household limit per month)
GOODS = (
    ("洗衣粉（1kg）", "袋", 15, 2),
    ("食用油（5L）", "桶", 60, 1),
    ("大米（10斤）", "袋", 40, 1),
    ("毛巾", "条", 8, None),
    ("牙膏", "支", 10, None),
    ("香皂", "块", 5, None),
    ("酱油", "瓶", 12, 2),
    ("挂面（2斤）", "把", 10, None),
    ("保温杯", "个", 50, 1),
)
# Package colours for the shelf pictures: detergent blue, oil gold, rice white...
_PACKAGES = ((40, 110, 200), (215, 160, 40), (235, 230, 215), (200, 60, 60), (60, 150, 90), (120, 80, 160))
DONORS = ("爱心人士捐赠", "县农业农村局帮扶单位捐赠", "本村企业捐赠", "村集体经济采购", "在外乡贤捐赠")


def seed_shop(session: Session, county: County) -> int:
    """Stock each village's supermarket and place the demo villagers' redemptions; returns how many."""
    rng = random.Random(SEED)
    session.add(ShopSetting(county_id=county.id, pickup_days=7))
    villages = session.scalars(
        select(Village).join(Town, Town.id == Village.town_id).where(Town.county_id == county.id).order_by(Village.code)
    ).all()
    placed = 0
    for number, village in enumerate(villages):
        session.add(RedemptionWindow(village_id=village.id, cadence=WindowCadence.monthly, first_day=1, last_day=31))
        keeper = session.scalar(select(User).where(User.role == Role.reviewer, User.village_id == village.id))
        if keeper is None:
            continue
        staff = Scope(keeper.id, Role.reviewer, frozenset({village.id}))
        products = []
        font_path = find_font(current_app.config.get("PHOTO_LABEL_FONT"))
        for name, unit, points, limit in rng.sample(GOODS, k=rng.randint(6, len(GOODS))):
            product = stock.create_product(
                session, staff, village_id=village.id, name=name, unit=unit, points=points, per_household_limit=limit
            )
            for _ in range(rng.randint(1, 2)):
                stock.restock(session, staff, keeper.id, product.id, rng.randint(10, 40), rng.choice(DONORS))
            if number == 0:  # the first village's keeper photographed the shelf (photos cost processing time)
                stock.add_product_photo(session, staff, keeper, product.id, _shelf_picture(rng, name, font_path))
            products.append(product)
        placed += _demo_redemptions(session, rng, village, staff, keeper, products)
    return placed


def _shelf_picture(rng: random.Random, name: str, font_path: str | None) -> bytes:
    """A small drawn package with the product's name, uploaded through the real photo pipeline."""
    image = Image.new("RGB", (360, 360), (245, 243, 238))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((70, 50, 290, 320), radius=18, fill=rng.choice(_PACKAGES), outline=(90, 90, 90), width=3)
    if font_path:
        font = ImageFont.truetype(font_path, 30)
        text = name.split("（")[0]
        width = draw.textlength(text, font=font)
        draw.rectangle((80, 160, 280, 215), fill=(255, 255, 255))
        draw.text(((360 - width) / 2, 168), text, font=font, fill=(40, 40, 40))
    buffer = BytesIO()
    image.save(buffer, "JPEG", quality=82)
    return buffer.getvalue()


def _demo_redemptions(
    session: Session,
    rng: random.Random,
    village: Village,
    staff: Scope,
    keeper: User,
    products: list[Product],
) -> int:
    """First demo villager: one collected, one approved and waiting; second: one collected, one pending."""
    villagers = session.scalars(
        select(User)
        .join(Household, Household.id == User.household_id)
        .where(User.role == Role.villager, Household.village_id == village.id)
        .order_by(User.username)
    ).all()
    affordable = [p for p in products if p.points <= 40]
    placed = 0
    for index, villager in enumerate(villagers[:2]):
        own = Scope(villager.id, Role.villager, frozenset({village.id}), villager.household_id)
        first, second = rng.sample(affordable, k=2)
        try:
            with session.begin_nested():
                collected = redemptions.request_redemption(session, own, villager, first.id, 1)
                redemptions.approve_redemption(session, staff, keeper, collected.id)
                redemptions.hand_over(session, staff, keeper, collected.id, collected.pickup_code or "")
                waiting = redemptions.request_redemption(session, own, villager, second.id, 1)
                if index == 0:
                    redemptions.approve_redemption(session, staff, keeper, waiting.id)
        except DomainError:
            continue  # e.g. a household another demo seeder vetoed this month: it simply has no redemptions
        placed += 2
    return placed
