"""The points ledger: append-only entries and the cached balance, always moved together."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import exists, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.sql.expression import Exists

from backend.errors import Conflict, InsufficientPoints
from backend.ledger_check import ledger_mismatches
from backend.months import Month
from backend.org.households import on_household_move
from backend.org.models import Household, Village
from backend.points.models import Claim, ClaimStatus, EntryKind, LedgerEntry, MonthlyNotice, PointsAccount, RuleBook
from backend.points.rules import active_rule_book
from backend.timeutil import now_utc, today_local


@on_household_move
def _account_follows(session: Session, household: Household, village_id: int) -> None:
    """The balance moves with the household (its entries keep the village they were earned in); a claim still
    pending is the old village's to review, so it blocks the move."""
    pending = exists().where(Claim.household_id == household.id, Claim.status == ClaimStatus.pending)
    if session.scalar(select(pending)):
        raise Conflict("该户还有待审核的积分申报，请审核后再迁移")
    session.execute(
        update(PointsAccount).where(PointsAccount.household_id == household.id).values(village_id=village_id)
    )


def entry_month(session: Session, village_id: int, on: date) -> str:
    """The month an entry counts in: the month of `on`, unless the village has already closed that month
    (月公示 published or locked); then the first later month it has not closed.

    Takes a shared lock on the village row; closing a month takes it exclusively, so no entry can slip
    into a month between its snapshot and its notice (PostgreSQL; SQLite serialises all writers anyway).
    """
    session.execute(select(Village.id).where(Village.id == village_id).with_for_update(read=True))
    month = Month.of(on)
    closed = set(
        session.scalars(
            select(MonthlyNotice.month).where(MonthlyNotice.village_id == village_id, MonthlyNotice.month >= str(month))
        )
    )
    while str(month) in closed:
        month = month.shift(1)
    return str(month)


def ensure_account(session: Session, household: Household, base_score: int, actor_id: int | None = None) -> None:
    """Open the household's account with its base score (基础分) the first time points touch it.

    INSERT … ON CONFLICT DO NOTHING: of concurrent first approvals for one household exactly one opens the
    account (the others wait for it, then find it), so none fails on the primary key.
    """
    dialect_insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    opened = session.execute(
        dialect_insert(PointsAccount)
        .values(household_id=household.id, village_id=household.village_id, balance=0, held=0, updated_at=now_utc())
        .on_conflict_do_nothing(index_elements=[PointsAccount.household_id])
        .returning(PointsAccount.household_id)
    ).scalar()
    if opened is None:
        return
    post_entry(
        session,
        household_id=household.id,
        village_id=household.village_id,
        kind=EntryKind.base,
        amount=base_score,
        source_type="household",
        source_id=household.id,
        actor_id=actor_id,
        reason="基础分",
    )


def post_entry(
    session: Session,
    *,
    household_id: int,
    village_id: int,
    kind: EntryKind,
    amount: int,
    source_type: str,
    source_id: int,
    actor_id: int | None,
    reason: str,
    held_delta: int = 0,
    rule_item_id: int | None = None,
    require_funds: bool = False,
    on: date | None = None,
) -> LedgerEntry:
    """Move the cached balance with a guarded UPDATE, then append the entry that says why.

    With `require_funds` the update only happens if the balance stays ≥ 0, so two concurrent
    spends can never overdraw: the loser's UPDATE matches no row. `on` is the business date the
    entry belongs to (a claim's day; default today); see entry_month for closed months.
    """
    month = entry_month(session, village_id, on or today_local())
    guard = [PointsAccount.household_id == household_id]
    if require_funds:
        guard.append(PointsAccount.balance + amount >= 0)
    balance_after = session.execute(
        update(PointsAccount)
        .where(*guard)
        .values(balance=PointsAccount.balance + amount, held=PointsAccount.held + held_delta, updated_at=now_utc())
        .returning(PointsAccount.balance)
        .execution_options(synchronize_session=False)
    ).scalar()
    if balance_after is None:
        if not require_funds:
            raise LookupError(f"household {household_id} has no points account; call ensure_account first")
        raise InsufficientPoints()
    # RETURNING the entity: the caller gets the loaded entry without a second SELECT.
    return session.scalars(
        insert(LedgerEntry)
        .values(
            household_id=household_id,
            village_id=village_id,
            kind=kind,
            amount=amount,
            held_delta=held_delta,
            balance_after=balance_after,
            month=month,
            source_type=source_type,
            source_id=source_id,
            rule_item_id=rule_item_id,
            actor_id=actor_id,
            reason=reason,
            created_at=now_utc(),
        )
        .returning(LedgerEntry)
    ).one()


@dataclass(frozen=True)
class BalanceMismatch:
    household_id: int
    cached_balance: int
    ledger_balance: int
    cached_held: int
    ledger_held: int


def balance_mismatches(session: Session) -> list[BalanceMismatch]:
    """Every cached balance must equal the sum of its entries (and every hold total likewise)."""
    figures = [(PointsAccount.balance, LedgerEntry.amount), (PointsAccount.held, LedgerEntry.held_delta)]
    rows = ledger_mismatches(session, PointsAccount.household_id, LedgerEntry.household_id, figures)
    return [BalanceMismatch(*row) for row in rows]


@dataclass(frozen=True)
class PointsSummary:
    household_id: int
    balance: int
    held: int
    month: str
    earned: int
    deducted: int
    vetoed_this_month: bool
    # Filled from the village rankings by points.honors.summary_with_honors.
    rank_in_village: int | None = None
    honors: list[Any] = field(default_factory=list)


def household_summary(session: Session, household_id: int, month: str | None = None) -> PointsSummary:
    """Balance and this month's movement and veto, from the account and the month's entries."""
    month = month or str(Month.current())
    account = session.get(PointsAccount, household_id)
    if account is None:
        # No points movement yet: the household stands at the base score of its village's rule book.
        household = session.get_one(Household, household_id)
        base = active_rule_book(session, household.village_id, today_local()).base_score
        return PointsSummary(household_id, base, 0, month, 0, 0, False)
    earned, deducted, vetoes = session.execute(
        select(
            func.coalesce(func.sum(LedgerEntry.amount).filter(LedgerEntry.kind == EntryKind.earn), 0),
            func.coalesce(
                -func.sum(LedgerEntry.amount).filter(LedgerEntry.kind.in_([EntryKind.deduct, EntryKind.veto])), 0
            ),
            func.count(LedgerEntry.id).filter(LedgerEntry.kind == EntryKind.veto),
        ).where(LedgerEntry.household_id == household_id, LedgerEntry.month == month)
    ).one()
    return PointsSummary(household_id, account.balance, account.held, month, earned, deducted, vetoes > 0)


def ledger_query(household_id: int):  # type: ignore[no-untyped-def]
    return (
        select(LedgerEntry)
        .where(LedgerEntry.household_id == household_id)
        .options(joinedload(LedgerEntry.rule_item))  # each entry's item, in the same query (many-to-one)
    )


def vetoed(household_id: int, months: list[str]) -> Exists:
    """SQL condition: the household has a veto entry (一票否决) counting in one of `months`."""
    return exists().where(
        LedgerEntry.household_id == household_id, LedgerEntry.kind == EntryKind.veto, LedgerEntry.month.in_(months)
    )


def redemption_blocked_by_veto(session: Session, household_id: int, on: date, book: RuleBook | None = None) -> bool:
    """A household vetoed in the month of `on` may not redeem then, where its rule book says so
    (RuleBook.veto_blocks_redemption). The shop calls this before holding points, passing the book
    it already loaded."""
    if book is None:
        book = active_rule_book(session, session.get_one(Household, household_id).village_id, on)
    if not book.veto_blocks_redemption:
        return False
    return bool(session.scalar(select(vetoed(household_id, [str(Month.of(on))]))))
