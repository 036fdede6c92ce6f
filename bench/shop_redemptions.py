"""POST /shop/redemptions under contention, served by gunicorn, vs a bare guarded UPDATE on the same product row.

Builds a one-village county (preset rule book, an open monthly redemption window, `--households` villagers
with API tokens, one product with a large stock) on BENCH_DATABASE_URL, else TEST_DATABASE_URL (PostgreSQL;
its tables are DROPPED and recreated), else a temporary SQLite file. Then serves our app and
bench/baseline_app.py with the same gunicorn worker count (see bench/points_read.py) and has
`--concurrency` client threads all redeem the same product, each request for the next household with a
fresh Idempotency-Key: through the whole stack (auth, idempotency key, window/veto/limit checks, points
hold, stock hold, request-boundary commit) against the baseline's token lookup + guarded
`UPDATE product SET stock = stock - 1 WHERE stock >= 1` + stock entry INSERT in one transaction.
Alternating rounds; prints requests/s, p50/p95/p99 and the ratio.

    python -m bench.shop_redemptions [--households 300] [--requests 1200] [--concurrency 16] [--workers 2]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from bench.points_read import database_url, measure, served

PATH = "/api/mp/v1/shop/redemptions"
BARE_PATH = "/bare/redemptions"


def build(url: str, instance: Path, households: int) -> tuple[list[str], int]:
    """The village, its villagers' tokens and the contended product; returns (tokens, product id)."""
    from backend.app import create_app
    from backend.auth.models import Role, User
    from backend.auth.service import issue_token
    from backend.db import db
    from backend.org.models import County, Grid, Household, Town, Village
    from backend.points.rules import install_preset
    from backend.shop.models import Product, RedemptionWindow, StockEntry, StockKind, WindowCadence

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(instance), "REDIS_URL": ""})
    with app.app_context():
        db.drop_all()
        db.create_all()
        session = db.session
        county = County(name="测试县", code="619999")
        session.add(county)
        session.flush()
        town = Town(county_id=county.id, name="测试镇", code="619999101")
        session.add(town)
        session.flush()
        village = Village(town_id=town.id, name="测试村", code="619999101001", center_lat=33.1, center_lng=107.3)
        session.add(village)
        session.flush()
        grid = Grid(village_id=village.id, name="一组")
        session.add(grid)
        session.add(RedemptionWindow(village_id=village.id, cadence=WindowCadence.monthly, first_day=1, last_day=31))
        install_preset(session, county, "gaoyang", effective_from=date(2020, 1, 1))
        session.flush()
        homes = [
            Household(village_id=village.id, grid_id=grid.id, number=f"{n:04d}", address=f"{n}号")
            for n in range(households)
        ]
        session.add_all(homes)
        session.flush()
        users = [User(username=f"bench_{n}", role=Role.villager, household_id=h.id) for n, h in enumerate(homes)]
        session.add_all(users)
        session.flush()
        tokens = [issue_token(session, u, timedelta(days=1)).token for u in users]
        stock = 10**7
        product = Product(village_id=village.id, name="香皂", points=1, stock=stock, held=0)
        session.add(product)
        session.flush()
        session.add(
            StockEntry(
                product_id=product.id, village_id=village.id, kind=StockKind.restock, quantity=stock, stock_after=stock
            )
        )
        session.commit()
        product_id = product.id
        db.engine.dispose()
    return tokens, product_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=300, help="each redeems a few times (1 point each)")
    parser.add_argument("--requests", type=int, default=1200, help="per server, over all rounds")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=4, help="alternating app/baseline rounds")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="xz-bench-shop-"))
    try:
        url = database_url(tmp)
        started = time.perf_counter()
        tokens, product_id = build(url, tmp / "instance", args.households)
        took = time.perf_counter() - started
        print(f"seeded {len(tokens)} villagers and one product on {url.split(':', 1)[0]} in {took:.1f}s")
        with served(url, tmp / "instance", args.workers) as base:
            targets = {"redemption": {"app": base["app"] + PATH, "bare": base["bare"] + BARE_PATH}}
            measure(targets, tokens, args, post={"product_id": product_id, "quantity": 1}, warm=100)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
