"""Where one phone read spends its time: the SQL it runs and a cProfile of repeated in-process requests.

Seeds the same data as bench/points_read.py (smaller by default), then for each endpoint prints every SQL
statement one request issues and the top functions by cumulative time over `--repeat` requests through
the Flask test client (no network, no gunicorn), so waste in our own stack stands out.

    python -m bench.profile_request [--households 50] [--repeat 300] [--top 25]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import shutil
import tempfile
from pathlib import Path

from sqlalchemy import event

from bench.points_read import ENDPOINTS, database_url, seed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=50)
    parser.add_argument("--entries", type=int, default=25)
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()

    from backend.app import create_app
    from backend.db import db

    tmp = Path(tempfile.mkdtemp(prefix="xz-profile-"))
    try:
        url = database_url(tmp)
        tokens = seed(url, tmp / "instance", args.households, args.entries)
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(tmp / "instance"), "REDIS_URL": ""})
        client = app.test_client()
        statements: list[str] = []
        with app.app_context():
            engine = db.engine

        def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
            statements.append(" ".join(statement.split())[:160])

        event.listen(engine, "before_cursor_execute", record)
        for path in dict.fromkeys(ENDPOINTS.values()):
            for n in range(20):  # warm-up
                assert (
                    client.get(path, headers={"Authorization": f"Bearer {tokens[n % len(tokens)]}"}).status_code == 200
                )
            statements.clear()
            client.get(path, headers={"Authorization": f"Bearer {tokens[0]}"})
            print(f"\n== {path}: {len(statements)} SQL statements per request")
            for statement in statements:
                print("   ", statement)
            profiler = cProfile.Profile()
            profiler.enable()
            for n in range(args.repeat):
                client.get(path, headers={"Authorization": f"Bearer {tokens[n % len(tokens)]}"})
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.top)
        event.remove(engine, "before_cursor_execute", record)
        with app.app_context():
            db.engine.dispose()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
