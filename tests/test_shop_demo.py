"""The demo county's supermarkets: stocked by donors, open, with redemptions in every state."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.org.models import Village
from backend.photos.models import Photo
from backend.points.ledger import balance_mismatches
from backend.shop.models import Product, Redemption, StockEntry
from backend.shop.settings import redemption_open
from backend.shop.stock import stock_mismatches
from backend.timeutil import today_local


def test_every_demo_village_has_an_open_stocked_supermarket_with_redemptions(session: Session, demo_county) -> None:  # type: ignore[no-untyped-def]
    villages = session.scalars(select(Village.id)).all()
    assert len(villages) == 12
    assert all(redemption_open(session, v, today_local()) for v in villages)
    stocked = session.execute(
        select(Product.village_id, func.count(Product.id)).where(Product.stock > 0).group_by(Product.village_id)
    ).all()
    assert len(stocked) == 12 and min(count for _, count in stocked) >= 6
    notes = set(session.scalars(select(StockEntry.note).where(StockEntry.kind == "restock")))
    assert "爱心人士捐赠" in notes
    states = Counter(session.scalars(select(Redemption.status)))
    assert states == {"handed_over": 24, "approved": 12, "pending": 12}
    first_village = min(villages, key=lambda v: session.get_one(Village, v).code)
    photographed = session.scalars(select(Photo.owner_id).where(Photo.owner_type == "product")).all()
    shelf = session.scalars(select(Product.id).where(Product.village_id == first_village)).all()
    assert sorted(photographed) == sorted(shelf)
    assert balance_mismatches(session) == []
    assert stock_mismatches(session) == []
