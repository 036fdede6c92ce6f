"""Read models for the points admin pages: review queue, a household's ledger, a village's balances.

Built on claims_query / ledger_query / household_summary so scope and the meaning of "earned" and
"deducted" are decided in one place; these functions add the batch loading (a fixed number of
queries per page, whatever its length) and mask every personal name before a template sees it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from backend.auth.models import ROLE_LABELS, User
from backend.auth.scope import Scope, filter_households, load_household, load_village
from backend.crypto import mask_name
from backend.months import Month
from backend.org.models import Household
from backend.pagination import PER_PAGE, Page, page_bounds
from backend.photos.models import Photo
from backend.photos.service import photos_of
from backend.points.claims import claims_query
from backend.points.ledger import PointsSummary, household_summary, ledger_query
from backend.points.models import (
    CapPeriod,
    Claim,
    ClaimSource,
    ClaimStatus,
    EntryKind,
    ItemKind,
    LedgerEntry,
    PointsAccount,
    RuleItem,
)
from backend.points.rules import active_rule_book
from backend.timeutil import today_local

ITEM_KIND_LABELS = {ItemKind.positive: "正面清单", ItemKind.negative: "负面清单", ItemKind.veto: "一票否决"}
CAP_PERIOD_LABELS = {CapPeriod.month: "每月", CapPeriod.quarter: "每季度", CapPeriod.year: "每年"}
CLAIM_STATUS_LABELS = {ClaimStatus.pending: "待评议", ClaimStatus.approved: "已通过", ClaimStatus.rejected: "已驳回"}
SOURCE_LABELS = {ClaimSource.self_declared: "本人申报", ClaimSource.recorded: "网格员采集"}
ENTRY_KIND_LABELS = {
    EntryKind.base: "基础分",
    EntryKind.earn: "加分",
    EntryKind.deduct: "扣分",
    EntryKind.veto: "一票否决",
    EntryKind.hold: "兑换冻结",
    EntryKind.release: "冻结退回",
    EntryKind.spend: "兑换扣减",
    EntryKind.correction: "更正",
}
DEDUCTING = (EntryKind.deduct, EntryKind.veto)


def parse_month(value: str | None) -> str | None:
    """'2026-03' or None; anything else is a bad request, not a silently ignored filter."""
    return str(Month.parse(value)) if value else None


def _heads(session: Session, household_ids: set[int]) -> dict[int, Household]:
    """Households with their residents (for the masked head name) and village, in two queries."""
    if not household_ids:
        return {}
    households = session.scalars(
        select(Household)
        .where(Household.id.in_(household_ids))
        .options(selectinload(Household.residents), selectinload(Household.village))
    )
    return {h.id: h for h in households}


def masked_head(household: Household) -> str:
    head = next((r for r in household.residents if r.is_head), None)
    return mask_name(head.name) if head else ""


def _actor_labels(session: Session, user_ids: set[int]) -> dict[int, str]:
    """Who acted, as 角色 + masked display name: enough to know who reviewed, nothing more."""
    if not user_ids:
        return {}
    users = session.scalars(select(User).where(User.id.in_(user_ids)))
    return {u.id: f"{ROLE_LABELS[u.role]} {mask_name(u.display_name) or u.username}".strip() for u in users}


# --- 评议: the review queue and its history ---


@dataclass(frozen=True)
class ClaimFilters:
    status: ClaimStatus | None = ClaimStatus.pending  # None: decided ones (the history tab)
    village_id: int | None = None
    kind: ItemKind | None = None
    month: str | None = None  # the month the deed happened in


@dataclass(frozen=True)
class ClaimRow:
    id: int
    household_id: int
    household_number: str
    village_name: str
    head_name: str  # masked
    item_code: str
    item_title: str
    kind_label: str
    points: int  # signed: what the balance moves by if approved
    rule_version: int
    occurred_on: date
    note: str
    source_label: str
    submitter: str
    submitted_at: datetime
    approvals: int
    quorum: int
    reviewed_by: list[str]
    status: ClaimStatus
    status_label: str
    decided_at: datetime | None
    reject_reason: str | None
    photos: list[Photo]  # evidence, in upload order; templates render them with photo_thumb


def _claims_stmt(scope: Scope, filters: ClaimFilters) -> Select[tuple[Claim]]:
    stmt = claims_query(scope, filters.status)
    if filters.status is None:
        stmt = stmt.where(Claim.status != ClaimStatus.pending)
    if filters.village_id is not None:
        stmt = stmt.where(Claim.village_id == filters.village_id)
    if filters.kind is not None:
        stmt = stmt.where(Claim.rule_item_id.in_(select(RuleItem.id).where(RuleItem.kind == filters.kind)))
    if filters.month is not None:
        month = Month.parse(filters.month)
        stmt = stmt.where(Claim.occurred_on >= month.first, Claim.occurred_on < month.next_first)
    return stmt.options(selectinload(Claim.rule_item).selectinload(RuleItem.rule_book))


def claim_page(
    session: Session, scope: Scope, filters: ClaimFilters, *, page: int = 1, per_page: int = PER_PAGE
) -> Page[ClaimRow]:
    """Claims in the caller's villages, oldest first while pending (first come, first judged), newest first after.

    The quorum shown is the one of the rule book the claim was judged by: a new version only
    takes effect after today, so it never changes the quorum of a claim already submitted.
    """
    if filters.village_id is not None:
        load_village(session, scope, filters.village_id)
    base = _claims_stmt(scope, filters)
    total, page = page_bounds(session, base, page, per_page)
    order = Claim.id if filters.status == ClaimStatus.pending else Claim.id.desc()
    claims = list(session.scalars(base.order_by(order).limit(per_page).offset((page - 1) * per_page)))
    households = _heads(session, {c.household_id for c in claims})
    actors = _actor_labels(
        session, {c.submitted_by_id for c in claims} | {r.reviewer_id for c in claims for r in c.reviews}
    )
    photos = photos_of(session, "claim", [c.id for c in claims])
    rows = [_claim_row(c, households[c.household_id], actors, photos.get(c.id, [])) for c in claims]
    return Page(rows, page, per_page, total)


def _claim_row(claim: Claim, household: Household, actors: dict[int, str], photos: list[Photo]) -> ClaimRow:
    item = claim.rule_item
    return ClaimRow(
        id=claim.id,
        household_id=household.id,
        household_number=household.number,
        village_name=household.village.name,
        head_name=masked_head(household),
        item_code=item.code,
        item_title=item.title,
        kind_label=ITEM_KIND_LABELS[item.kind],
        points=item.signed_points,
        rule_version=item.rule_book.version,
        occurred_on=claim.occurred_on,
        note=claim.note,
        source_label=SOURCE_LABELS[claim.source],
        submitter=actors.get(claim.submitted_by_id, ""),
        submitted_at=claim.submitted_at,
        approvals=sum(1 for r in claim.reviews if r.approve),
        quorum=item.rule_book.review_quorum,
        reviewed_by=[f"{actors.get(r.reviewer_id, '')}（{'同意' if r.approve else '驳回'}）" for r in claim.reviews],
        status=claim.status,
        status_label=CLAIM_STATUS_LABELS[claim.status],
        decided_at=claim.decided_at,
        reject_reason=claim.reject_reason,
        photos=photos,
    )


# --- A household's points ledger ---


@dataclass(frozen=True)
class EntryRow:
    id: int
    kind_label: str
    amount: int
    held_delta: int
    balance_after: int
    month: str
    reason: str
    item_code: str | None
    rule_version: int | None
    actor: str
    at: datetime


@dataclass(frozen=True)
class MonthBar:
    month: str
    earned: int
    deducted: int  # as a positive number


@dataclass(frozen=True)
class HouseholdLedger:
    household_id: int
    household_number: str
    village_name: str
    head_name: str  # masked
    summary: PointsSummary
    entries: Page[EntryRow]
    trend: list[MonthBar]


def last_months(count: int) -> list[str]:
    """The `count` business months up to and including this one, oldest first."""
    this_month = Month.current()
    return [str(month) for month in this_month.shift(1 - count).through(this_month)]


def month_totals(session: Session, household_id: int, months: list[str]) -> list[MonthBar]:
    """Earned and deducted per month in one grouped query (months without movement show zero)."""
    rows = session.execute(
        select(
            LedgerEntry.month,
            func.coalesce(func.sum(LedgerEntry.amount).filter(LedgerEntry.kind == EntryKind.earn), 0),
            func.coalesce(-func.sum(LedgerEntry.amount).filter(LedgerEntry.kind.in_(DEDUCTING)), 0),
        )
        .where(LedgerEntry.household_id == household_id, LedgerEntry.month.in_(months))
        .group_by(LedgerEntry.month)
    ).all()
    found = {month: (earned, deducted) for month, earned, deducted in rows}
    return [MonthBar(m, *found.get(m, (0, 0))) for m in months]


def _entries_stmt(household_id: int, month: str | None) -> Select[tuple[LedgerEntry]]:
    stmt = ledger_query(household_id)
    if month is not None:
        stmt = stmt.where(LedgerEntry.month == month)
    return stmt.options(joinedload(LedgerEntry.rule_item).selectinload(RuleItem.rule_book))


def household_ledger(
    session: Session,
    scope: Scope,
    household_id: int,
    *,
    month: str | None = None,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> HouseholdLedger:
    """Balance, the chosen month's movement (this month by default), entries newest first, 12-month trend."""
    household = load_household(session, scope, household_id)
    base = _entries_stmt(household.id, month)
    total, page = page_bounds(session, base, page, per_page)
    entries = list(session.scalars(base.order_by(LedgerEntry.id.desc()).limit(per_page).offset((page - 1) * per_page)))
    return HouseholdLedger(
        household_id=household.id,
        household_number=household.number,
        village_name=household.village.name,
        head_name=masked_head(household),
        summary=household_summary(session, household.id, month),
        entries=Page(_entry_rows(session, entries), page, per_page, total),
        trend=month_totals(session, household.id, last_months(12)),
    )


def ledger_export(session: Session, scope: Scope, household_id: int, month: str | None) -> tuple[str, list[EntryRow]]:
    """A file name stem (村-户号) and every entry of the household (of one month if given), oldest first."""
    household = load_household(session, scope, household_id)
    entries = list(session.scalars(_entries_stmt(household.id, month).order_by(LedgerEntry.id)))
    return f"{household.village.name}-{household.number}", _entry_rows(session, entries)


def _entry_rows(session: Session, entries: list[LedgerEntry]) -> list[EntryRow]:
    actors = _actor_labels(session, {e.actor_id for e in entries if e.actor_id is not None})
    return [
        EntryRow(
            id=e.id,
            kind_label=ENTRY_KIND_LABELS[e.kind],
            amount=e.amount,
            held_delta=e.held_delta,
            balance_after=e.balance_after,
            month=e.month,
            reason=e.reason,
            item_code=e.rule_item.code if e.rule_item else None,
            rule_version=e.rule_item.rule_book.version if e.rule_item else None,
            actor=actors.get(e.actor_id, "系统") if e.actor_id is not None else "系统",
            at=e.created_at,
        )
        for e in entries
    ]


# --- A village's balances (积分总览) ---

OVERVIEW_SORTS = {
    "balance": "积分从高到低",
    "-balance": "积分从低到高",
    "earned": "本月加分最多",
    "deducted": "本月扣分最多",
    "number": "户号",
}


@dataclass(frozen=True)
class BalanceRow:
    household_id: int
    household_number: str
    head_name: str  # masked
    balance: int
    held: int
    earned: int
    deducted: int
    vetoed: bool
    has_account: bool  # False: no movement yet, standing at the base score


@dataclass(frozen=True)
class VillageBalances:
    village_id: int
    village_name: str
    month: str
    base_score: int
    rows: Page[BalanceRow]


def village_balances(
    session: Session,
    scope: Scope,
    village_id: int,
    *,
    sort: str = "balance",
    month: str | None = None,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> VillageBalances:
    """Every household of one village with balance and the month's movement, in one query per page.

    Households with no points movement yet have no account: they stand at the base score.
    """
    village = load_village(session, scope, village_id)
    month = month or str(Month.current())
    base_score = active_rule_book(session, village.id, today_local()).base_score
    moves = (
        select(
            LedgerEntry.household_id.label("household_id"),
            func.coalesce(func.sum(LedgerEntry.amount).filter(LedgerEntry.kind == EntryKind.earn), 0).label("earned"),
            func.coalesce(-func.sum(LedgerEntry.amount).filter(LedgerEntry.kind.in_(DEDUCTING)), 0).label("deducted"),
            func.count(LedgerEntry.id).filter(LedgerEntry.kind == EntryKind.veto).label("vetoes"),
        )
        .where(LedgerEntry.village_id == village.id, LedgerEntry.month == month)
        .group_by(LedgerEntry.household_id)
        .subquery()
    )
    balance = func.coalesce(PointsAccount.balance, base_score)
    earned = func.coalesce(moves.c.earned, 0)
    deducted = func.coalesce(moves.c.deducted, 0)
    order = {
        "balance": (balance.desc(),),
        "-balance": (balance,),
        "earned": (earned.desc(),),
        "deducted": (deducted.desc(),),
        "number": (),
    }.get(sort, (balance.desc(),))
    base = filter_households(select(Household.id), scope, Household.id, Household.village_id).where(
        Household.village_id == village.id
    )
    total, page = page_bounds(session, base, page, per_page)
    stmt = (
        select(Household, PointsAccount.balance, func.coalesce(PointsAccount.held, 0), earned, deducted, moves.c.vetoes)
        .outerjoin(PointsAccount, PointsAccount.household_id == Household.id)
        .outerjoin(moves, moves.c.household_id == Household.id)
        .where(Household.id.in_(base))
        .options(selectinload(Household.residents))
        .order_by(*order, Household.number, Household.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    rows = [
        BalanceRow(
            h.id,
            h.number,
            masked_head(h),
            base_score if bal is None else bal,
            held,
            earn,
            deduct,
            bool(vetoes),
            has_account=bal is not None,
        )
        for h, bal, held, earn, deduct, vetoes in session.execute(stmt)
    ]
    return VillageBalances(village.id, village.name, month, base_score, Page(rows, page, per_page, total))
