"""Admin read models of the supermarket: redemption queue, shelf and stock ledger, scoped and paged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.auth.scope import Scope, load_village
from backend.org.models import Household, Village
from backend.pagination import PER_PAGE, Page, page_bounds
from backend.photos.models import Photo
from backend.shop.models import Product, Redemption, RedemptionStatus, StockEntry
from backend.shop.redemptions import redemptions_query
from backend.shop.settings import PERIOD_LABELS, describe_window, pickup_days, window_covers, windows_of
from backend.shop.stock import load_product, product_photos, products_query, stock_entries_query

STATUS_LABELS = {
    RedemptionStatus.pending: "待审核",
    RedemptionStatus.approved: "待领取",
    RedemptionStatus.handed_over: "已领取",
    RedemptionStatus.rejected: "已驳回",
    RedemptionStatus.cancelled: "已取消",
    RedemptionStatus.expired: "逾期未领",
}
STOCK_KIND_LABELS = {
    "restock": "入库",
    "write_off": "报损",
    "hold": "兑换预留",
    "release": "退回",
    "hand_over": "领取出库",
}


@dataclass(frozen=True)
class RedemptionRow:
    id: int
    village_id: int
    village_name: str
    household_number: str
    product_name: str
    quantity: int
    unit: str
    points_held: int
    status: RedemptionStatus
    status_label: str
    created_at: datetime
    expires_at: datetime | None
    reject_reason: str | None


def redemption_page(
    session: Session,
    scope: Scope,
    *,
    village_id: int | None = None,
    status: RedemptionStatus | None = None,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> Page[RedemptionRow]:
    """The queue, oldest first, so requests are handled in the order villagers made them."""
    if village_id is not None:
        load_village(session, scope, village_id)
    base = redemptions_query(scope, status, village_id)
    total, page = page_bounds(session, base, page, per_page)
    stmt = (
        base.join(Household, Household.id == Redemption.household_id)
        .join(Village, Village.id == Redemption.village_id)
        .add_columns(Village.name, Household.number)
        .order_by(Redemption.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    items = [
        RedemptionRow(
            r.id,
            r.village_id,
            village_name,
            number,
            r.product.name,
            r.quantity,
            r.product.unit,
            r.points_held,
            r.status,
            STATUS_LABELS[r.status],
            r.created_at,
            r.expires_at,
            r.reject_reason,
        )
        for r, village_name, number in session.execute(stmt)
    ]
    return Page(items, page, per_page, total)


@dataclass(frozen=True)
class ProductRow:
    id: int
    village_name: str
    name: str
    unit: str
    points: int
    stock: int
    held: int
    limit_label: str
    is_active: bool
    cover: Photo | None


def _limit_label(product: Product) -> str:
    if product.per_household_limit is None:
        return "不限"
    return f"{PERIOD_LABELS[product.limit_period]}{product.per_household_limit}{product.unit}"


def product_page(
    session: Session, scope: Scope, *, village_id: int | None = None, page: int = 1, per_page: int = PER_PAGE
) -> Page[ProductRow]:
    if village_id is not None:
        load_village(session, scope, village_id)
    base = products_query(scope, village_id)
    total, page = page_bounds(session, base, page, per_page)
    stmt = (
        base.join(Village, Village.id == Product.village_id)
        .add_columns(Village.name)
        .order_by(Village.code, Product.is_active.desc(), Product.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    rows = session.execute(stmt).all()
    photos = product_photos(session, [p.id for p, _ in rows])
    items = [
        ProductRow(
            p.id,
            village_name,
            p.name,
            p.unit,
            p.points,
            p.stock,
            p.held,
            _limit_label(p),
            p.is_active,
            (photos.get(p.id) or [None])[0],
        )
        for p, village_name in rows
    ]
    return Page(items, page, per_page, total)


@dataclass(frozen=True)
class StockRow:
    at: datetime
    kind_label: str
    quantity: int
    held_delta: int
    stock_after: int
    redemption_id: int | None
    note: str


@dataclass(frozen=True)
class ProductView:
    product: Product
    village_name: str
    limit_label: str
    photos: list[Photo]
    ledger: Page[StockRow]


def product_view(
    session: Session, scope: Scope, product_id: int, *, page: int = 1, per_page: int = PER_PAGE
) -> ProductView:
    """A product and its stock ledger, newest entry first."""
    product = load_product(session, scope, product_id)
    base = stock_entries_query(product.id)
    total, page = page_bounds(session, base, page, per_page)
    entries = session.scalars(base.order_by(StockEntry.id.desc()).limit(per_page).offset((page - 1) * per_page))
    rows = [
        StockRow(
            e.created_at, STOCK_KIND_LABELS[e.kind], e.quantity, e.held_delta, e.stock_after, e.redemption_id, e.note
        )
        for e in entries
    ]
    village_name = session.scalar(select(Village.name).where(Village.id == product.village_id)) or ""
    photos = product_photos(session, [product.id]).get(product.id, [])
    return ProductView(product, village_name, _limit_label(product), photos, Page(rows, page, per_page, total))


@dataclass(frozen=True)
class WindowRow:
    id: int
    label: str


@dataclass(frozen=True)
class VillageShopSettings:
    village_id: int
    village_name: str
    windows: list[WindowRow]
    pickup_days: int
    open_today: bool


def village_settings(session: Session, scope: Scope, village_id: int, today: date) -> VillageShopSettings:
    village = load_village(session, scope, village_id)
    windows = windows_of(session, village.id)
    return VillageShopSettings(
        village.id,
        village.name,
        [WindowRow(w.id, describe_window(w)) for w in windows],
        pickup_days(session, village.id),
        any(window_covers(w, today) for w in windows),
    )
