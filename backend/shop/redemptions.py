"""Redemptions: request (hold points and stock at once) → approve with a pickup code / reject →
hand over with the code (points spent), or cancel / expire (everything released).

Lock order is always points account → product, so concurrent requests and releases cannot deadlock.
"""

from __future__ import annotations

import io
import secrets
from datetime import datetime, timedelta

import segno
from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from backend.auth.models import User
from backend.auth.scope import Scope, filter_households
from backend.errors import (
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    NotInScope,
    PickupCodeAmbiguous,
    PickupCodeInvalid,
    ProductUnavailable,
    RedemptionClosed,
    RedemptionLimitReached,
    RedemptionNotApproved,
    RedemptionNotPending,
    RedemptionVetoed,
)
from backend.inbox.service import notify
from backend.org.households import on_household_move
from backend.org.models import Household
from backend.points.claims import period_bounds
from backend.points.ledger import ensure_account, post_entry, redemption_blocked_by_veto
from backend.points.models import EntryKind, PointsAccount
from backend.points.rules import active_rule_book
from backend.shop.models import COUNTED_STATUSES, Product, Redemption, RedemptionStatus, StockKind
from backend.shop.settings import PERIOD_LABELS, pickup_days, redemption_open
from backend.shop.stock import post_stock
from backend.timeutil import now_utc, to_local, today_local

MAX_QUANTITY = 20
SOURCE = "redemption"


@on_household_move
def _no_open_redemption(session: Session, household: Household, _village_id: int) -> None:
    """Goods requested from the old village's shop are handed over (or released) there before a move."""
    open_statuses = (RedemptionStatus.pending, RedemptionStatus.approved)
    if session.scalar(
        select(func.count(Redemption.id)).where(
            Redemption.household_id == household.id, Redemption.status.in_(open_statuses)
        )
    ):
        raise Conflict("该户还有未完成的积分兑换，请领取或取消后再迁移")


def request_redemption(session: Session, scope: Scope, user: User, product_id: int, quantity: int) -> Redemption:
    """A villager asks for goods for their household: points and stock are set aside in one transaction."""
    if scope.household_id is None:
        raise Forbidden("请先绑定户")
    if not 1 <= quantity <= MAX_QUANTITY:
        raise InvalidRequest(errors={"quantity": [f"数量应在 1–{MAX_QUANTITY} 之间"]})
    household = session.get_one(Household, scope.household_id)
    product = session.get(Product, product_id)
    if product is None:
        raise NotFound("商品不存在")
    if product.village_id != household.village_id:
        raise NotInScope("只能兑换本村积分超市的商品")
    if not product.is_active:
        raise ProductUnavailable()
    today = today_local()
    if not redemption_open(session, household.village_id, today):
        raise RedemptionClosed()
    book = active_rule_book(session, household.village_id, today)
    if redemption_blocked_by_veto(session, household.id, today, book):
        raise RedemptionVetoed()
    _open_account(session, household, book.base_score, user.id)
    # Serialise this household's requests: the per-period limit below is a read, then a write.
    session.execute(
        select(PointsAccount.household_id).where(PointsAccount.household_id == household.id).with_for_update()
    )
    if product.per_household_limit is not None:
        start, end = period_bounds(today, product.limit_period)
        taken = session.scalar(
            select(func.coalesce(func.sum(Redemption.quantity), 0)).where(
                Redemption.household_id == household.id,
                Redemption.product_id == product.id,
                Redemption.status.in_(COUNTED_STATUSES),
                Redemption.requested_on >= start,
                Redemption.requested_on < end,
            )
        )
        if (taken or 0) + quantity > product.per_household_limit:
            raise RedemptionLimitReached(
                f"“{product.name}”每户{PERIOD_LABELS[product.limit_period]}限兑 {product.per_household_limit}"
                f"{product.unit}，本期已兑 {taken}{product.unit}"
            )
    redemption = Redemption(
        household_id=household.id,
        village_id=household.village_id,
        product=product,  # keeps the loaded product with the redemption: the answer shows it, no reload
        quantity=quantity,
        unit_points=product.points,
        points_held=product.points * quantity,
        status=RedemptionStatus.pending,
        requested_on=today,
        requested_by_id=user.id,
    )
    session.add(redemption)
    session.flush()
    post_entry(
        session,
        household_id=household.id,
        village_id=household.village_id,
        kind=EntryKind.hold,
        amount=-redemption.points_held,
        held_delta=redemption.points_held,
        source_type=SOURCE,
        source_id=redemption.id,
        actor_id=user.id,
        reason=f"兑换{product.name}×{quantity}（冻结）",
        require_funds=True,
    )
    post_stock(
        session,
        product_id=product.id,
        village_id=product.village_id,
        kind=StockKind.hold,
        quantity=-quantity,
        held_delta=quantity,
        redemption_id=redemption.id,
        actor_id=user.id,
    )
    return redemption


def _open_account(session: Session, household: Household, base_score: int, actor_id: int) -> None:
    """Open the points account on first use; a concurrent first request may have opened it already."""
    try:
        with session.begin_nested():
            ensure_account(session, household, base_score, actor_id=actor_id)
    except IntegrityError:
        pass


def _lock(session: Session, redemption_id: int) -> Redemption:
    redemption = session.scalar(
        select(Redemption)
        .where(Redemption.id == redemption_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if redemption is None:
        raise NotFound("兑换记录不存在")
    return redemption


def _lock_for_review(session: Session, scope: Scope, redemption_id: int) -> Redemption:
    redemption = _lock(session, redemption_id)
    if scope.household_id is not None or not scope.covers_village(redemption.village_id):
        raise NotInScope()
    return redemption


def _release(session: Session, redemption: Redemption, status: RedemptionStatus, actor_id: int | None) -> None:
    """Points back to the balance, units back on sale, and the redemption closed with `status`."""
    label = {
        RedemptionStatus.cancelled: "取消",
        RedemptionStatus.rejected: "驳回",
        RedemptionStatus.expired: "逾期未领",
    }[status]
    post_entry(
        session,
        household_id=redemption.household_id,
        village_id=redemption.village_id,
        kind=EntryKind.release,
        amount=redemption.points_held,
        held_delta=-redemption.points_held,
        source_type=SOURCE,
        source_id=redemption.id,
        actor_id=actor_id,
        reason=f"兑换{redemption.product.name}{label}，积分退回",
    )
    post_stock(
        session,
        product_id=redemption.product_id,
        village_id=redemption.village_id,
        kind=StockKind.release,
        quantity=redemption.quantity,
        held_delta=-redemption.quantity,
        redemption_id=redemption.id,
        actor_id=actor_id,
        note=label,
    )
    redemption.status = status
    redemption.closed_at = now_utc()
    session.flush()


def cancel_redemption(session: Session, scope: Scope, user: User, redemption_id: int) -> Redemption:
    """The villager changes their mind while the request still waits for review."""
    redemption = _lock(session, redemption_id)
    if scope.household_id is None or redemption.household_id != scope.household_id:
        raise NotInScope()
    if redemption.status != RedemptionStatus.pending:
        raise RedemptionNotPending()
    _release(session, redemption, RedemptionStatus.cancelled, user.id)
    return redemption


def reject_redemption(session: Session, scope: Scope, reviewer: User, redemption_id: int, reason: str) -> Redemption:
    redemption = _lock_for_review(session, scope, redemption_id)
    if redemption.status != RedemptionStatus.pending:
        raise RedemptionNotPending()
    redemption.decided_by_id, redemption.decided_at, redemption.reject_reason = reviewer.id, now_utc(), reason
    _release(session, redemption, RedemptionStatus.rejected, reviewer.id)
    notify(
        session,
        household_id=redemption.household_id,
        kind="redemption_rejected",
        title="兑换申请未通过",
        body=f"您兑换的{redemption.product.name}×{redemption.quantity}未通过审核：{reason}。"
        f"冻结的 {redemption.points_held} 积分已退回。",
        ref_type=SOURCE,
        ref_id=redemption.id,
    )
    return redemption


def new_pickup_code() -> str:
    """Six digits from the OS's CSPRNG: not derivable from ids or times."""
    return f"{secrets.randbelow(10**6):06d}"


def approve_redemption(session: Session, scope: Scope, reviewer: User, redemption_id: int) -> Redemption:
    """Approve → a pickup code unique among the village's open redemptions, valid for N days."""
    redemption = _lock_for_review(session, scope, redemption_id)
    if redemption.status != RedemptionStatus.pending:
        raise RedemptionNotPending()
    now = now_utc()
    expires_at = now + timedelta(days=pickup_days(session, redemption.village_id))
    for _attempt in range(10):
        try:
            # The partial unique index decides a collision; a savepoint lets us draw again.
            with session.begin_nested():
                redemption.status = RedemptionStatus.approved
                redemption.pickup_code = new_pickup_code()
                redemption.decided_by_id, redemption.decided_at, redemption.expires_at = reviewer.id, now, expires_at
                session.flush()
            break
        except IntegrityError:
            continue
    else:  # pragma: no cover - a million codes per village
        raise RuntimeError("no free pickup code")
    notify(
        session,
        household_id=redemption.household_id,
        kind="redemption_approved",
        title="兑换已通过，请到村积分超市领取",
        body=f"{redemption.product.name}×{redemption.quantity}已备好。取货码 {redemption.pickup_code}，"
        f"请于 {to_local(expires_at):%m月%d日 %H:%M} 前凭取货码领取，逾期积分退回。",
        ref_type=SOURCE,
        ref_id=redemption.id,
    )
    return redemption


def hand_over(session: Session, scope: Scope, keeper: User, redemption_id: int, pickup_code: str) -> Redemption:
    """The keeper checks the villager's pickup code and hands the goods over: held points are spent."""
    redemption = _lock_for_review(session, scope, redemption_id)
    if redemption.status != RedemptionStatus.approved:
        raise RedemptionNotApproved()
    if not secrets.compare_digest((redemption.pickup_code or "").encode(), pickup_code.strip().encode()):
        raise PickupCodeInvalid()
    post_entry(
        session,
        household_id=redemption.household_id,
        village_id=redemption.village_id,
        kind=EntryKind.spend,
        amount=0,
        held_delta=-redemption.points_held,
        source_type=SOURCE,
        source_id=redemption.id,
        actor_id=keeper.id,
        reason=f"兑换{redemption.product.name}×{redemption.quantity}（已领取）",
    )
    post_stock(
        session,
        product_id=redemption.product_id,
        village_id=redemption.village_id,
        kind=StockKind.hand_over,
        quantity=0,
        held_delta=-redemption.quantity,
        redemption_id=redemption.id,
        actor_id=keeper.id,
    )
    redemption.status = RedemptionStatus.handed_over
    redemption.handed_over_by_id = keeper.id
    redemption.closed_at = now_utc()
    session.flush()
    return redemption


def find_by_pickup_code(session: Session, scope: Scope, village_id: int | None, pickup_code: str) -> int:
    """The keeper types only the code: it names one open redemption of the village, or of any of the keeper's
    villages when none is given (a phone does not ask which village; a code open in two of them does)."""
    if scope.household_id is not None or (village_id is not None and not scope.covers_village(village_id)):
        raise NotInScope()
    villages = {village_id} if village_id is not None else scope.village_ids
    found = session.scalars(
        select(Redemption.id)
        .where(
            Redemption.village_id.in_(villages),
            Redemption.status == RedemptionStatus.approved,
            Redemption.pickup_code == pickup_code.strip(),
        )
        .limit(2)
    ).all()
    if not found:
        raise PickupCodeInvalid()
    if len(found) > 1:
        raise PickupCodeAmbiguous()
    return found[0]


def expire_overdue(session: Session, now: datetime | None = None) -> int:
    """Approved but not collected in time → expired, points and stock released; remind a day before."""
    now = now or now_utc()
    due = list(
        session.scalars(
            select(Redemption.id).where(
                Redemption.status == RedemptionStatus.approved, Redemption.expires_at <= now + timedelta(days=1)
            )
        )
    )
    expired = 0
    for redemption_id in due:
        redemption = _lock(session, redemption_id)
        if redemption.status != RedemptionStatus.approved or redemption.expires_at is None:
            continue  # handed over meanwhile
        if redemption.expires_at > now:
            notify(
                session,
                household_id=redemption.household_id,
                kind="redemption_ready",
                title="兑换商品待领取，即将过期",
                body=f"{redemption.product.name}×{redemption.quantity}已备好，取货码 {redemption.pickup_code}，"
                f"请于 {to_local(redemption.expires_at):%m月%d日 %H:%M} 前领取。",
                ref_type=SOURCE,
                ref_id=redemption.id,
            )
            continue
        _release(session, redemption, RedemptionStatus.expired, None)
        notify(
            session,
            household_id=redemption.household_id,
            kind="redemption_expired",
            title="兑换逾期未领取，积分已退回",
            body=f"{redemption.product.name}×{redemption.quantity}超过领取期限未领取，"
            f"冻结的 {redemption.points_held} 积分已退回。",
            ref_type=SOURCE,
            ref_id=redemption.id,
        )
        expired += 1
    return expired


def redemptions_query(
    scope: Scope, status: RedemptionStatus | None = None, village_id: int | None = None
) -> Select[tuple[Redemption]]:
    """A villager sees their household's redemptions; staff see their villages'."""
    stmt = filter_households(select(Redemption), scope, Redemption.household_id, Redemption.village_id)
    if status is not None:
        stmt = stmt.where(Redemption.status == status)
    if village_id is not None:
        stmt = stmt.where(Redemption.village_id == village_id)
    return stmt.options(selectinload(Redemption.product))


def pickup_qr_svg(session: Session, scope: Scope, redemption_id: int) -> str:
    """The pickup code as a QR for the villager's phone screen; the keeper scans or types it. Always a full QR
    code: segno.make picks a Micro QR for text this short, which WeChat's and the phone app's scanners cannot read."""
    redemption = session.get(Redemption, redemption_id)
    if redemption is None:
        raise NotFound("兑换记录不存在")
    if scope.household_id is None or redemption.household_id != scope.household_id:
        raise NotInScope()
    if redemption.status != RedemptionStatus.approved:
        raise RedemptionNotApproved()
    buffer = io.BytesIO()
    segno.make_qr(f"XZPICKUP:{redemption.id}:{redemption.pickup_code}", error="m").save(
        buffer, kind="svg", scale=6, border=2, title=f"取货码 {redemption.pickup_code}"
    )
    return buffer.getvalue().decode()
