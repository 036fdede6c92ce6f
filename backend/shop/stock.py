"""Products and their stock ledger: every change is an appended entry; the cached figures move with it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, insert, select, update
from sqlalchemy.orm import Session

from backend.auth.models import User
from backend.auth.scope import Scope, filter_villages, load_village
from backend.errors import InvalidRequest, NotFound, NotInScope, OutOfStock
from backend.ledger_check import ledger_mismatches
from backend.photos.models import Photo
from backend.photos.service import accept_upload, attach_photos, photo_urls, photos_of
from backend.points.models import CapPeriod
from backend.shop.models import Product, StockEntry, StockKind
from backend.timeutil import now_utc


def post_stock(
    session: Session,
    *,
    product_id: int,
    village_id: int,
    kind: StockKind,
    quantity: int,
    actor_id: int | None,
    note: str = "",
    held_delta: int = 0,
    redemption_id: int | None = None,
) -> StockEntry:
    """Move the cached stock with a guarded UPDATE (never below zero), then append the entry.

    Two requests for the last unit both run the UPDATE; the database lets one match and the other
    finds no row, which is `out_of_stock` — no read-then-write window to oversell in.
    """
    stock_after = session.execute(
        update(Product)
        .where(Product.id == product_id, Product.stock + quantity >= 0, Product.held + held_delta >= 0)
        .values(stock=Product.stock + quantity, held=Product.held + held_delta, updated_at=now_utc())
        .returning(Product.stock)
        .execution_options(synchronize_session=False)
    ).scalar()
    if stock_after is None:
        raise OutOfStock()
    # RETURNING the entity: the caller gets the loaded entry without a second SELECT.
    return session.scalars(
        insert(StockEntry)
        .values(
            product_id=product_id,
            village_id=village_id,
            kind=kind,
            quantity=quantity,
            held_delta=held_delta,
            stock_after=stock_after,
            redemption_id=redemption_id,
            note=note,
            actor_id=actor_id,
            created_at=now_utc(),
        )
        .returning(StockEntry)
    ).one()


@dataclass(frozen=True)
class StockMismatch:
    product_id: int
    cached_stock: int
    ledger_stock: int
    cached_held: int
    ledger_held: int


def stock_mismatches(session: Session) -> list[StockMismatch]:
    """Every product's cached stock and held units must equal the sums of its stock entries."""
    figures = [(Product.stock, StockEntry.quantity), (Product.held, StockEntry.held_delta)]
    rows = ledger_mismatches(session, Product.id, StockEntry.product_id, figures)
    return [StockMismatch(*row) for row in rows]


def _validate(points: int, per_household_limit: int | None) -> None:
    errors = {}
    if points < 1:
        errors["points"] = ["兑换积分必须大于 0"]
    if per_household_limit is not None and per_household_limit < 1:
        errors["per_household_limit"] = ["每户限兑数量必须大于 0"]
    if errors:
        raise InvalidRequest(errors=errors)


def create_product(
    session: Session,
    scope: Scope,
    *,
    village_id: int,
    name: str,
    points: int,
    unit: str = "件",
    description: str = "",
    per_household_limit: int | None = None,
    limit_period: CapPeriod = CapPeriod.month,
) -> Product:
    """A new product starts with no stock: stock only arrives as a restock entry that says from whom."""
    village = load_village(session, scope, village_id)
    _validate(points, per_household_limit)
    product = Product(
        village_id=village.id,
        name=name,
        unit=unit,
        description=description,
        points=points,
        stock=0,
        held=0,
        per_household_limit=per_household_limit,
        limit_period=limit_period,
        is_active=True,
    )
    session.add(product)
    session.flush()
    return product


def load_product(session: Session, scope: Scope, product_id: int) -> Product:
    product = session.get(Product, product_id)
    if product is None:
        raise NotFound("商品不存在")
    if not scope.covers_village(product.village_id):
        raise NotInScope()
    return product


def update_product(
    session: Session,
    scope: Scope,
    product_id: int,
    *,
    name: str,
    points: int,
    unit: str,
    description: str,
    per_household_limit: int | None,
    limit_period: CapPeriod,
    is_active: bool,
) -> Product:
    """Edit the shelf label. A new price applies to new requests; pending ones keep theirs."""
    product = load_product(session, scope, product_id)
    _validate(points, per_household_limit)
    product.name, product.points, product.unit, product.description = name, points, unit, description
    product.per_household_limit, product.limit_period, product.is_active = per_household_limit, limit_period, is_active
    product.updated_at = now_utc()
    session.flush()
    return product


# A sanity cap on one stock entry: a village shop's delivery is sacks and boxes, never millions of units.
MAX_UNITS_PER_ENTRY = 10_000


def restock(session: Session, scope: Scope, actor_id: int, product_id: int, quantity: int, note: str) -> StockEntry:
    """Goods arrive: bought by the village or donated (the note names the donor, e.g. 爱心人士捐赠)."""
    product = load_product(session, scope, product_id)
    if not 1 <= quantity <= MAX_UNITS_PER_ENTRY:
        raise InvalidRequest(errors={"quantity": [f"入库数量应在 1 到 {MAX_UNITS_PER_ENTRY} 之间"]})
    return post_stock(
        session,
        product_id=product.id,
        village_id=product.village_id,
        kind=StockKind.restock,
        quantity=quantity,
        actor_id=actor_id,
        note=note,
    )


def write_off(session: Session, scope: Scope, actor_id: int, product_id: int, quantity: int, note: str) -> StockEntry:
    """Spoiled or damaged goods leave the available stock; units held for villagers are not touched."""
    product = load_product(session, scope, product_id)
    if not 1 <= quantity <= MAX_UNITS_PER_ENTRY:
        raise InvalidRequest(errors={"quantity": [f"报损数量应在 1 到 {MAX_UNITS_PER_ENTRY} 之间"]})
    if not note.strip():
        raise InvalidRequest(errors={"note": ["请填写报损原因"]})
    return post_stock(
        session,
        product_id=product.id,
        village_id=product.village_id,
        kind=StockKind.write_off,
        quantity=-quantity,
        actor_id=actor_id,
        note=note,
    )


def products_query(scope: Scope, village_id: int | None = None, *, active_only: bool = False) -> Select[tuple[Product]]:
    stmt = filter_villages(select(Product), scope, Product.village_id)
    if village_id is not None:
        stmt = stmt.where(Product.village_id == village_id)
    if active_only:
        stmt = stmt.where(Product.is_active.is_(True))
    return stmt


def shelf_query(scope: Scope, village_id: int | None) -> Select[tuple[Product]]:
    """What a village's supermarket offers now. Villagers see their own village; staff covering
    several villages must name one."""
    if village_id is None:
        if len(scope.village_ids) != 1:
            raise InvalidRequest(errors={"village_id": ["请指定村"]})
        village_id = next(iter(scope.village_ids))
    if not scope.covers_village(village_id):
        raise NotInScope()
    return products_query(scope, village_id, active_only=True)


PRODUCT_MAX_PHOTOS = 3


def add_product_photo(session: Session, scope: Scope, user: User, product_id: int, data: bytes) -> Photo:
    """A shelf photo of the product (the first one is its cover), visible to the product's village."""
    product = load_product(session, scope, product_id)
    photo = accept_upload(session, user=user, scope=scope, data=data)
    attach_photos(
        session,
        actor=scope,
        photo_ids=[photo.id],
        owner_type="product",
        owner_id=product.id,
        max_count=PRODUCT_MAX_PHOTOS,
        village_id=product.village_id,
    )
    return photo


def product_photos(session: Session, product_ids: list[int]) -> dict[int, list[Photo]]:
    return photos_of(session, "product", product_ids)


@dataclass(frozen=True)
class ShelfItem:
    """What the phone lists: the product and signed URLs of its cover photo (None until one is ready)."""

    id: int
    name: str
    unit: str
    description: str
    points: int
    stock: int
    per_household_limit: int | None
    limit_period: str
    image_url: str | None
    thumb_url: str | None


def shelf_items(session: Session, viewer: Scope, products: list[Product]) -> list[ShelfItem]:
    """Products with their cover photo URLs, one photo query for the whole page."""
    covers = product_photos(session, [p.id for p in products])
    items = []
    for p in products:
        urls = photo_urls(covers[p.id][0], viewer) if covers.get(p.id) else {}
        items.append(
            ShelfItem(
                p.id,
                p.name,
                p.unit,
                p.description,
                p.points,
                p.stock,
                p.per_household_limit,
                p.limit_period.value,
                urls.get("display_url"),
                urls.get("thumb_url"),
            )
        )
    return items


def stock_entries_query(product_id: int) -> Select[tuple[StockEntry]]:
    return select(StockEntry).where(StockEntry.product_id == product_id)
