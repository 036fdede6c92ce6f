"""The points ledger: append-only entries and the cached balance, always moved together."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from backend.errors import InsufficientPoints
from backend.org.models import Household
from backend.points.models import EntryKind, LedgerEntry, PointsAccount
from backend.points.rules import active_rule_book
from backend.timeutil import now_utc, to_local, today_local


def business_month(moment=None) -> str:  # type: ignore[no-untyped-def]
    return f"{to_local(moment or now_utc()):%Y-%m}"


def ensure_account(session: Session, household: Household, base_score: int, actor_id: int | None = None) -> None:
    """Open the household's account with its base score (基础分) the first time points touch it."""
    exists = session.scalar(select(PointsAccount.household_id).where(PointsAccount.household_id == household.id))
    if exists is not None:
        return
    session.add(PointsAccount(household_id=household.id, village_id=household.village_id, balance=0, held=0))
    session.flush()
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
) -> LedgerEntry:
    """Move the cached balance with a guarded UPDATE, then append the entry that says why.

    With `require_funds` the update only happens if the balance stays ≥ 0, so two concurrent
    spends can never overdraw: the loser's UPDATE matches no row.
    """
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
    entry_id = session.execute(
        insert(LedgerEntry)
        .values(
            household_id=household_id,
            village_id=village_id,
            kind=kind,
            amount=amount,
            held_delta=held_delta,
            balance_after=balance_after,
            month=business_month(),
            source_type=source_type,
            source_id=source_id,
            rule_item_id=rule_item_id,
            actor_id=actor_id,
            reason=reason,
            created_at=now_utc(),
        )
        .returning(LedgerEntry.id)
    ).scalar_one()
    return session.get_one(LedgerEntry, entry_id)


@dataclass(frozen=True)
class BalanceMismatch:
    household_id: int
    cached_balance: int
    ledger_balance: int
    cached_held: int
    ledger_held: int


def balance_mismatches(session: Session) -> list[BalanceMismatch]:
    """Every cached balance must equal the sum of its entries (and every hold total likewise)."""
    sums = (
        select(
            LedgerEntry.household_id,
            func.sum(LedgerEntry.amount).label("balance"),
            func.sum(LedgerEntry.held_delta).label("held"),
        )
        .group_by(LedgerEntry.household_id)
        .subquery()
    )
    rows = session.execute(
        select(PointsAccount.household_id, PointsAccount.balance, sums.c.balance, PointsAccount.held, sums.c.held)
        .outerjoin(sums, sums.c.household_id == PointsAccount.household_id)
        .where(
            (func.coalesce(sums.c.balance, 0) != PointsAccount.balance)
            | (func.coalesce(sums.c.held, 0) != PointsAccount.held)
        )
    ).all()
    return [BalanceMismatch(h, cb, lb or 0, ch, lh or 0) for h, cb, lb, ch, lh in rows]


@dataclass(frozen=True)
class PointsSummary:
    household_id: int
    balance: int
    held: int
    month: str
    earned: int
    deducted: int
    vetoed_this_month: bool
    rank_in_village: int | None


def household_summary(session: Session, household_id: int, month: str | None = None) -> PointsSummary:
    """What the villager's home screen shows: balance, this month's movement, veto, rank in the village."""
    month = month or business_month()
    account = session.get(PointsAccount, household_id)
    if account is None:
        # No points movement yet: the household stands at the base score of its village's rule book.
        household = session.get_one(Household, household_id)
        base = active_rule_book(session, household.village_id, today_local()).base_score
        return PointsSummary(household_id, base, 0, month, 0, 0, False, None)
    earned, deducted, vetoes = session.execute(
        select(
            func.coalesce(func.sum(LedgerEntry.amount).filter(LedgerEntry.kind == EntryKind.earn), 0),
            func.coalesce(
                -func.sum(LedgerEntry.amount).filter(LedgerEntry.kind.in_([EntryKind.deduct, EntryKind.veto])), 0
            ),
            func.count(LedgerEntry.id).filter(LedgerEntry.kind == EntryKind.veto),
        ).where(LedgerEntry.household_id == household_id, LedgerEntry.month == month)
    ).one()
    ahead = session.scalar(
        select(func.count())
        .select_from(PointsAccount)
        .where(PointsAccount.village_id == account.village_id, PointsAccount.balance > account.balance)
    )
    return PointsSummary(
        household_id, account.balance, account.held, month, earned, deducted, vetoes > 0, (ahead or 0) + 1
    )


def ledger_query(household_id: int):  # type: ignore[no-untyped-def]
    return select(LedgerEntry).where(LedgerEntry.household_id == household_id)
