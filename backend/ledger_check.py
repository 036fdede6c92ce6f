"""The check behind every append-only ledger kept beside a cached figure (points balances, product stock): each
cached row must equal the sums of its entries. It knows columns, not domains, so any ledger can use it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row, func, or_, select
from sqlalchemy.orm import Session


def ledger_mismatches(
    session: Session,
    cache_key: ColumnElement[int],
    ledger_key: ColumnElement[int],
    figures: Sequence[tuple[ColumnElement[int], ColumnElement[int]]],
) -> Sequence[Row[Any]]:
    """Cached rows whose figures differ from their ledger's sums, as (key, cached, summed, cached, summed, …) in
    the order of `figures`, pairs of (cached column, ledger column). A row without entries sums to 0."""
    sums = (
        select(ledger_key.label("key"), *(func.sum(entry).label(f"sum_{i}") for i, (_, entry) in enumerate(figures)))
        .group_by(ledger_key)
        .subquery()
    )
    pairs = [(cached, func.coalesce(sums.c[f"sum_{i}"], 0)) for i, (cached, _) in enumerate(figures)]
    return session.execute(
        select(cache_key, *(column for pair in pairs for column in pair))
        .outerjoin(sums, sums.c.key == cache_key)
        .where(or_(*(cached != summed for cached, summed in pairs)))
    ).all()
