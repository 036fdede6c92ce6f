"""Claims (申报/采集) and their review by the village panel (评议小组). Only approved claims move points."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from backend.auth.models import Role, User
from backend.auth.scope import Scope, filter_households, load_household
from backend.errors import (
    AlreadyReviewed,
    CapReached,
    ClaimAlreadyDecided,
    DomainError,
    DuplicateClaim,
    Forbidden,
    InvalidRequest,
    NotFound,
    NotInScope,
)
from backend.inbox.service import notify
from backend.months import Month
from backend.org.models import Household
from backend.photos.service import attach_photos
from backend.points.ledger import ensure_account, post_entry
from backend.points.models import (
    CapPeriod,
    Claim,
    ClaimReview,
    ClaimSource,
    ClaimStatus,
    EntryKind,
    ItemKind,
    PointsAccount,
    RuleItem,
)
from backend.points.rules import active_rule_book
from backend.timeutil import now_utc, today_local

MIN_EVIDENCE_PHOTOS, MAX_CLAIM_PHOTOS = 1, 3
ENTRY_KIND = {ItemKind.positive: EntryKind.earn, ItemKind.negative: EntryKind.deduct, ItemKind.veto: EntryKind.veto}


def submit_claim(
    session: Session,
    scope: Scope,
    user: User,
    *,
    rule_item_id: int,
    occurred_on: date,
    note: str,
    household_id: int | None = None,
    photo_ids: Sequence[str] = (),
) -> Claim:
    """A villager declares a good deed for their own household (with 1–3 photos where the item requires
    evidence); a cadre records any item for a household in their villages (photos optional). Either way it
    waits for the review panel."""
    if user.role == Role.villager:
        if scope.household_id is None:
            raise Forbidden("请先绑定户")
        if household_id not in (None, scope.household_id):
            raise NotInScope("村民只能为本户申报")
        household_id, source = scope.household_id, ClaimSource.self_declared
    else:
        if household_id is None:
            raise InvalidRequest(errors={"household_id": ["干部采集必须指定农户"]})
        source = ClaimSource.recorded
    household = load_household(session, scope, household_id)
    if occurred_on > today_local():
        raise InvalidRequest(errors={"occurred_on": ["日期不能晚于今天"]})
    book = active_rule_book(session, household.village_id, occurred_on)
    item = next((i for i in book.items if i.id == rule_item_id), None)
    if item is None:
        raise InvalidRequest(errors={"rule_item_id": ["该事项不在本村当时执行的积分规则中"]})
    if source == ClaimSource.self_declared and item.kind != ItemKind.positive:
        raise InvalidRequest(errors={"rule_item_id": ["村民只能申报正面清单事项"]})
    if _duplicates(session, household.id, item, occurred_on, statuses=(ClaimStatus.pending, ClaimStatus.approved)):
        raise DuplicateClaim()
    claim = Claim(
        household_id=household.id,
        village_id=household.village_id,
        rule_item_id=item.id,
        occurred_on=occurred_on,
        note=note,
        source=source,
        submitted_by_id=user.id,
    )
    session.add(claim)
    session.flush()
    evidence = source == ClaimSource.self_declared and item.evidence_required
    attach_photos(
        session,
        actor=scope,
        photo_ids=photo_ids,
        owner_type="claim",
        owner_id=claim.id,
        min_count=MIN_EVIDENCE_PHOTOS if evidence else 0,
        max_count=MAX_CLAIM_PHOTOS,
        village_id=household.village_id,
        household_id=household.id,
    )
    return claim


def claims_query(scope: Scope, status: ClaimStatus | None = None) -> Select[tuple[Claim]]:
    stmt = filter_households(select(Claim), scope, Claim.household_id, Claim.village_id)
    if status is not None:
        stmt = stmt.where(Claim.status == status)
    return stmt.options(selectinload(Claim.rule_item), selectinload(Claim.reviews))


def _same_item_claims(household_id: int, item: RuleItem) -> Select[tuple[int]]:
    return (
        select(func.count(Claim.id))
        .join(RuleItem, Claim.rule_item_id == RuleItem.id)
        .where(Claim.household_id == household_id, RuleItem.code == item.code)
    )


def _duplicates(
    session: Session, household_id: int, item: RuleItem, on: date, statuses: tuple[ClaimStatus, ...], exclude: int = 0
) -> int:
    stmt = _same_item_claims(household_id, item).where(
        Claim.occurred_on == on, Claim.status.in_(statuses), Claim.id != exclude
    )
    return session.scalar(stmt) or 0


def period_bounds(on: date, period: CapPeriod) -> tuple[date, date]:
    if period == CapPeriod.month:
        month = Month.of(on)
        start, end = month.first, month.next_first
    elif period == CapPeriod.quarter:
        first_month = (on.month - 1) // 3 * 3 + 1
        start = date(on.year, first_month, 1)
        end = date(on.year + (first_month == 10), (first_month + 2) % 12 + 1, 1)
    else:
        start, end = date(on.year, 1, 1), date(on.year + 1, 1, 1)
    return start, end


def _lock_claim(session: Session, scope: Scope, claim_id: int) -> Claim:
    claim = session.scalar(
        select(Claim).where(Claim.id == claim_id).with_for_update().execution_options(populate_existing=True)
    )
    if claim is None:
        raise NotFound("申报不存在")
    if not scope.covers_village(claim.village_id) or scope.household_id is not None:
        raise NotInScope()
    if claim.status != ClaimStatus.pending:
        raise ClaimAlreadyDecided()
    return claim


def reject_claim(session: Session, scope: Scope, reviewer: User, claim_id: int, reason: str) -> Claim:
    """Any panel member's rejection ends the claim; the household is told why."""
    claim = _lock_claim(session, scope, claim_id)
    _record_review(session, claim, reviewer, approve=False, reason=reason)
    claim.status = ClaimStatus.rejected
    claim.reject_reason = reason
    claim.decided_at = now_utc()
    session.flush()
    _tell_household(session, claim)
    return claim


def approve_claim(session: Session, scope: Scope, reviewer: User, claim_id: int) -> Claim:
    """Record this member's approval; once the village's quorum is reached, the points move."""
    claim = _lock_claim(session, scope, claim_id)
    _record_review(session, claim, reviewer, approve=True, reason=None)
    book = active_rule_book(session, claim.village_id, claim.occurred_on)
    approvals = sum(1 for review in claim.reviews if review.approve)
    if approvals < book.review_quorum:
        return claim
    household = session.get_one(Household, claim.household_id)
    ensure_account(session, household, book.base_score, actor_id=reviewer.id)
    # Serialise approvals per household so two claims cannot both take the last slot of a cap.
    session.execute(
        select(PointsAccount.household_id).where(PointsAccount.household_id == household.id).with_for_update()
    )
    item = claim.rule_item
    if _duplicates(session, household.id, item, claim.occurred_on, (ClaimStatus.approved,), exclude=claim.id):
        raise DuplicateClaim()
    if item.cap_count is not None and item.cap_period is not None:
        start, end = period_bounds(claim.occurred_on, item.cap_period)
        used = session.scalar(
            _same_item_claims(household.id, item).where(
                Claim.status == ClaimStatus.approved, Claim.occurred_on >= start, Claim.occurred_on < end
            )
        )
        if (used or 0) >= item.cap_count:
            raise CapReached(f"“{item.title}”本周期最多 {item.cap_count} 次，已满")
    claim.status = ClaimStatus.approved
    claim.decided_at = now_utc()
    post_entry(
        session,
        household_id=household.id,
        village_id=household.village_id,
        kind=ENTRY_KIND[item.kind],
        amount=item.signed_points,
        source_type="claim",
        source_id=claim.id,
        rule_item_id=item.id,
        actor_id=reviewer.id,
        reason=item.title,
        on=claim.occurred_on,
    )
    session.flush()
    _tell_household(session, claim)
    return claim


def _tell_household(session: Session, claim: Claim) -> None:
    """The household learns the panel's decision in its inbox (and by WeChat where subscribed)."""
    item = claim.rule_item
    if claim.status == ClaimStatus.approved:
        points = f"{item.signed_points:+d} 分" if item.kind != ItemKind.veto else "一票否决"
        kind, title, body = (
            "claim_approved",
            "积分申报已通过",
            f"{claim.occurred_on:%m月%d日}“{item.title}”已认定：{points}",
        )
    else:
        kind, title = "claim_rejected", "积分申报未通过"
        body = f"{claim.occurred_on:%m月%d日}“{item.title}”未通过，理由：{claim.reject_reason or '无'}"
    notify(
        session, household_id=claim.household_id, kind=kind, title=title, body=body, ref_type="claim", ref_id=claim.id
    )


def _record_review(session: Session, claim: Claim, reviewer: User, *, approve: bool, reason: str | None) -> None:
    if any(review.reviewer_id == reviewer.id for review in claim.reviews):
        raise AlreadyReviewed()
    claim.reviews.append(ClaimReview(reviewer_id=reviewer.id, approve=approve, reason=reason))
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent request of the same reviewer got there first
        raise AlreadyReviewed() from exc


@dataclass(frozen=True)
class BatchOutcome:
    claim_id: int
    status: str | None = None
    error: str | None = None


def review_claims(
    session: Session, scope: Scope, reviewer: User, claim_ids: list[int], *, approve: bool, reason: str | None
) -> list[BatchOutcome]:
    """Batch review: each claim in its own savepoint, so one refusal does not undo the others."""
    outcomes = []
    for claim_id in claim_ids:
        try:
            with session.begin_nested():
                claim = (
                    approve_claim(session, scope, reviewer, claim_id)
                    if approve
                    else reject_claim(session, scope, reviewer, claim_id, reason or "")
                )
            outcomes.append(BatchOutcome(claim_id, status=claim.status.value))
        except DomainError as error:
            outcomes.append(BatchOutcome(claim_id, error=error.code))
    return outcomes
