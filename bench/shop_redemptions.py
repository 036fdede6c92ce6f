"""POST /shop/redemptions under contention vs a bare guarded UPDATE on the same product row.

    python -m bench.shop_redemptions [--threads 8] [--requests 400] [--rounds 3]

Everything runs in this process on a throwaway SQLite database under instance/ (or TEST_DATABASE_URL
for PostgreSQL). `--threads` workers all redeem the same product, each request for another household,
through the whole stack (WSGI, auth, idempotency key, window/veto/limit checks, points hold, stock hold,
commit). The baseline, in the same run and on the same engine: a transaction with only the guarded
`UPDATE product SET stock = stock - 1 WHERE stock >= 1` and the stock entry INSERT. Compare ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import insert, update
from werkzeug.test import EnvironBuilder, run_wsgi_app

from backend.app import create_app
from backend.auth.models import Role, User
from backend.auth.service import issue_token
from backend.db import db, write_intent
from backend.org.models import County, Grid, Household, Town, Village
from backend.points.rules import install_preset
from backend.shop.models import Product, RedemptionWindow, StockEntry, StockKind, WindowCadence
from backend.timeutil import now_utc


def build(tmp: Path, households: int):  # type: ignore[no-untyped-def]
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp / 'bench.sqlite3'}",
            "INSTANCE_PATH": str(tmp / "instance"),
            "UPLOAD_DIR": str(tmp / "uploads"),
            "REDIS_URL": "",
            "RATELIMIT_STORAGE_URI": "memory://",
            "SERVER_NAME": "localhost",
            "TESTING": True,
        }
    )
    with app.app_context():
        db.drop_all()
        db.create_all()
        county = County(name="测试县", code="619999")
        db.session.add(county)
        db.session.flush()
        town = Town(county_id=county.id, name="测试镇", code="619999101")
        db.session.add(town)
        db.session.flush()
        village = Village(town_id=town.id, name="测试村", code="619999101001", center_lat=33.1, center_lng=107.3)
        db.session.add(village)
        db.session.flush()
        grid = Grid(village_id=village.id, name="一组")
        db.session.add(grid)
        db.session.add(RedemptionWindow(village_id=village.id, cadence=WindowCadence.monthly, first_day=1, last_day=31))
        install_preset(db.session, county, "gaoyang", effective_from=date(2020, 1, 1))
        db.session.flush()
        homes = [
            Household(village_id=village.id, grid_id=grid.id, number=f"{n:04d}", address=f"{n}号")
            for n in range(households)
        ]
        db.session.add_all(homes)
        db.session.flush()
        users = [User(username=f"bench_{n}", role=Role.villager, household_id=h.id) for n, h in enumerate(homes)]
        db.session.add_all(users)
        db.session.flush()
        tokens = [issue_token(db.session, u, timedelta(days=1)).token for u in users]
        product = Product(village_id=village.id, name="香皂", points=1, stock=10**6, held=0)
        db.session.add(product)
        db.session.flush()
        db.session.add(
            StockEntry(
                product_id=product.id, village_id=village.id, kind=StockKind.restock, quantity=10**6, stock_after=10**6
            )
        )
        db.session.commit()
        return app, tokens, product.id, village.id


def redeem(app, token: str, product_id: int) -> float:  # type: ignore[no-untyped-def]
    environ = EnvironBuilder(
        path="/api/mp/v1/shop/redemptions",
        method="POST",
        base_url="http://localhost/",
        data=json.dumps({"product_id": product_id, "quantity": 1}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex},
    ).get_environ()
    started = time.perf_counter()
    body, status, _headers = run_wsgi_app(app.wsgi_app, environ, buffered=True)
    payload = b"".join(body)
    elapsed = time.perf_counter() - started
    assert status.startswith("201"), payload
    return elapsed


def bare(app, product_id: int, village_id: int) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    with app.app_context(), write_intent(), db.engine.begin() as conn:
        after = conn.execute(
            update(Product)
            .where(Product.id == product_id, Product.stock >= 1)
            .values(stock=Product.stock - 1, held=Product.held + 1)
            .returning(Product.stock)
        ).scalar_one()
        conn.execute(
            insert(StockEntry).values(
                product_id=product_id,
                village_id=village_id,
                kind=StockKind.hold,
                quantity=-1,
                held_delta=1,
                stock_after=after,
                note="",
                created_at=now_utc(),
            )
        )
    return time.perf_counter() - started


def hammer(threads: int, requests: int, call) -> tuple[float, list[float]]:  # type: ignore[no-untyped-def]
    """`requests` calls spread over `threads` threads released together; (requests/s, latencies)."""
    latencies: list[float] = []
    barrier = threading.Barrier(threads + 1)

    def work(share: list[int]) -> None:
        barrier.wait()
        for n in share:
            latencies.append(call(n))

    pool = [threading.Thread(target=work, args=(list(range(t, requests, threads)),)) for t in range(threads)]
    for thread in pool:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in pool:
        thread.join()
    return requests / (time.perf_counter() - started), latencies


def percentiles(latencies: list[float]) -> str:
    p50, p99 = statistics.median(latencies), statistics.quantiles(latencies, n=100)[-1]
    return f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    instance = Path(__file__).resolve().parent.parent / "instance"
    instance.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-shop-", dir=instance) as tmp:
        app, tokens, product_id, village_id = build(Path(tmp), households=args.requests)
        ratios = []
        for round_no in range(1, args.rounds + 1):
            api_rate, api_lat = hammer(args.threads, args.requests, lambda n: redeem(app, tokens[n], product_id))
            bare_rate, bare_lat = hammer(args.threads, args.requests, lambda n: bare(app, product_id, village_id))
            ratios.append(api_rate / bare_rate)
            print(
                f"round {round_no}: POST /shop/redemptions {api_rate:.0f}/s ({percentiles(api_lat)});"
                f" bare guarded UPDATE {bare_rate:.0f}/s ({percentiles(bare_lat)}) → {100 * api_rate / bare_rate:.0f}%"
            )
        print(f"redemptions / bare (median of rounds): {100 * statistics.median(ratios):.0f}%")
        with app.app_context():
            db.drop_all()
            db.engine.dispose()


if __name__ == "__main__":
    main()
