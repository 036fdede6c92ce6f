"""The bare baseline for bench/points_read.py and bench/shop_redemptions.py.

Plain Flask + SQLAlchemy Core on the models' tables: one token lookup (joined to the user), then the same
indexed queries the app runs for GET /points/summary and /points/ledger, serialized with jsonify; and for
POST /shop/redemptions only the guarded stock UPDATE and its stock entry INSERT, in one transaction. No ORM
objects, marshmallow, flask-smorest, policy decorators, idempotency, request-boundary hooks or scope
object: what is left is the floor the app is compared to. The engine gets the app's SQLite pragmas (WAL,
busy timeout, BEGIN IMMEDIATE for writes) so both sides queue writers the same way.

The summary here is cheaper than the app's: its rank counts accounts with a higher balance and it has no
honors, where the app ranks this year's scores and looks up the last month's, quarter's and year's places.
"""

from __future__ import annotations

import os

from flask import Flask, abort, jsonify, request
from sqlalchemy import create_engine, func, insert, select, update
from sqlalchemy.engine import make_url

from backend.auth.models import ApiToken, User
from backend.auth.service import _token_hash
from backend.db import install_sqlite_pragmas, write_intent
from backend.months import Month
from backend.points.honors import PERIOD_KINDS, _places_statement, period_containing, previous_period
from backend.points.models import EntryKind, LedgerEntry, PointsAccount, RuleItem
from backend.shop.models import Product, StockEntry, StockKind
from backend.timeutil import now_utc, today_local

token = ApiToken.__table__
user = User.__table__
account = PointsAccount.__table__
entry = LedgerEntry.__table__
item = RuleItem.__table__
product = Product.__table__
stock_entry = StockEntry.__table__


def _engine_url(raw: str) -> str:
    url = make_url(raw)
    return str(url.set(drivername="postgresql+psycopg")) if url.drivername == "postgresql" else raw


def _places(conn, hid: int, village_id: int) -> tuple[int | None, list[dict]]:  # type: ignore[no-untyped-def]
    """This year's rank and the last completed periods' top-3 places, from the app's own places query."""
    today = today_local()
    periods = [period_containing("year", today), *(previous_period(kind, today) for kind in PERIOD_KINDS)]
    params: dict[str, object] = {"village_id": village_id, "household_id": hid}
    for i, per in enumerate(periods):
        params[f"first_{i}"], params[f"last_{i}"] = per.months[0], per.months[-1]
    *figures, village_size = conn.execute(_places_statement(len(periods)), params).one()
    ranks: list[int | None] = []
    for i in range(len(periods)):
        score, vetoes, ahead, scored = figures[4 * i : 4 * i + 4]
        ranks.append(None if vetoes else ahead + 1 + (village_size - scored if score < 0 else 0))
    honors = [
        {"kind": "rank", "period": per.key, "title": f"{per.label}积分全村第{rank}名", "rank": rank, "stars": None}
        for per, rank, score in zip(periods[1:], ranks[1:], figures[4::4], strict=True)
        if rank is not None and rank <= 3 and score > 0
    ]
    return ranks[0], honors


def create_baseline() -> Flask:
    app = Flask(__name__)
    engine = create_engine(_engine_url(os.environ["DATABASE_URL"]), pool_pre_ping=True)
    install_sqlite_pragmas(engine)

    def household_id(conn) -> int:  # type: ignore[no-untyped-def]
        raw = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        row = conn.execute(
            select(user.c.household_id, token.c.expires_at, token.c.revoked_at)
            .join(user, user.c.id == token.c.user_id)
            .where(token.c.token_hash == _token_hash(raw))
        ).first()
        if row is None or row.revoked_at is not None or row.expires_at <= now_utc() or row.household_id is None:
            abort(401)
        return row.household_id

    @app.get("/")
    def index():  # type: ignore[no-untyped-def]
        return "ok"

    def summary(ranked: bool):  # type: ignore[no-untyped-def]
        month = str(Month.current())
        with engine.connect() as conn:
            hid = household_id(conn)
            acc = conn.execute(
                select(account.c.balance, account.c.held, account.c.village_id).where(account.c.household_id == hid)
            ).one()
            earned, deducted, vetoes = conn.execute(
                select(
                    func.coalesce(func.sum(entry.c.amount).filter(entry.c.kind == EntryKind.earn.value), 0),
                    func.coalesce(
                        -func.sum(entry.c.amount).filter(entry.c.kind.in_([EntryKind.deduct.value, "veto"])), 0
                    ),
                    func.count(entry.c.id).filter(entry.c.kind == EntryKind.veto.value),
                ).where(entry.c.household_id == hid, entry.c.month == month)
            ).one()
            if ranked:
                rank, honors = _places(conn, hid, acc.village_id)
            else:
                ahead = conn.execute(
                    select(func.count())
                    .select_from(account)
                    .where(account.c.village_id == acc.village_id, account.c.balance > acc.balance)
                ).scalar_one()
                rank, honors = ahead + 1, []
        return jsonify(
            household_id=hid,
            balance=acc.balance,
            held=acc.held,
            month={"month": month, "earned": earned, "deducted": deducted},
            vetoed_this_month=vetoes > 0,
            rank_in_village=rank,
            honors=honors,
        )

    app.add_url_rule("/bare/summary", "summary", lambda: summary(ranked=False))
    # The app's own places query (this year + the last month, quarter, year), run through Core: what is left
    # between this and the app's summary is our stack, not the ranking SQL. Star bands are left out.
    app.add_url_rule("/bare/summary-ranked", "summary_ranked", lambda: summary(ranked=True))

    @app.get("/bare/ledger")
    def ledger():  # type: ignore[no-untyped-def]
        with engine.connect() as conn:
            hid = household_id(conn)
            rows = conn.execute(
                select(
                    entry.c.id,
                    entry.c.created_at,
                    entry.c.amount,
                    entry.c.kind,
                    entry.c.reason,
                    entry.c.rule_item_id,
                    item.c.code,
                    entry.c.balance_after,
                    entry.c.month,
                )
                .outerjoin(item, item.c.id == entry.c.rule_item_id)
                .where(entry.c.household_id == hid)
                .order_by(entry.c.id.desc())
                .limit(21)
            ).all()
        items = [
            {
                "id": r.id,
                "at": r.created_at.isoformat(),
                "amount": r.amount,
                "kind": r.kind.value if hasattr(r.kind, "value") else r.kind,
                "reason": r.reason,
                "rule_item": {"id": r.rule_item_id, "code": r.code} if r.rule_item_id else None,
                "balance_after": r.balance_after,
                "month": r.month,
            }
            for r in rows[:20]
        ]
        return jsonify(items=items, next_cursor=str(rows[19].id) if len(rows) > 20 else None)

    @app.post("/bare/redemptions")
    def redeem():  # type: ignore[no-untyped-def]
        body = request.get_json()
        product_id, quantity = int(body["product_id"]), int(body.get("quantity", 1))
        with write_intent(), engine.begin() as conn:
            household_id(conn)
            row = conn.execute(
                update(product)
                .where(product.c.id == product_id, product.c.stock >= quantity)
                .values(stock=product.c.stock - quantity, held=product.c.held + quantity)
                .returning(product.c.stock, product.c.village_id)
            ).first()
            if row is None:
                abort(409)
            conn.execute(
                insert(stock_entry).values(
                    product_id=product_id,
                    village_id=row.village_id,
                    kind=StockKind.hold,
                    quantity=-quantity,
                    held_delta=quantity,
                    stock_after=row.stock,
                    note="",
                    created_at=now_utc(),
                )
            )
        return jsonify(product_id=product_id, stock=row.stock), 201

    return app
