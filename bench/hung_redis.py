"""A hung Redis against the web: concurrent writers under gunicorn, with a Redis that accepts connections
and never answers, next to the same run against a healthy Redis.

    python -m bench.hung_redis [--seconds 15] [--writers 8] [--redis redis://127.0.0.1:6379/9]

The write is POST /api/mp/v1/uploads of a tiny JPEG, which touches Redis twice on the request path: the
upload rate limit counts in it (Flask-Limiter) and the photo's job is pushed to it after the answer, while
the sync worker is still held (outbox.dispatch_after_response). The app runs under gunicorn (2 sync
workers, no control socket) on a free loopback port, on a throwaway SQLite database under a temp folder;
the silent Redis is a socket server inside this script. Each run: a warm-up of GET /me until both workers
answer, then `--writers` threads POST for `--seconds` (at most 100,000 requests), each on a new connection.

The healthy Redis's database must be empty (the photo jobs pile up in its queue, no worker runs them);
the run empties it again afterwards.
"""

from __future__ import annotations

import argparse
import http.client
import io
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import redis
from PIL import Image

from backend.app import create_app
from backend.db import db
from bench.uploads import multipart, seed_cadre

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MAX_REQUESTS = 100_000


def served_app():  # type: ignore[no-untyped-def]
    """What gunicorn serves: the app from the environment below. TESTING only skips development's Redis
    probe at start-up, which would find the silent Redis dead and run jobs in-process instead."""
    return create_app({"TESTING": True})


class SilentRedis:
    """127.0.0.1, a free port: accepts every connection and never answers a byte (a hung Redis)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=1024)
        self.url = f"redis://127.0.0.1:{self.listener.getsockname()[1]}/0"
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.held.append(self.listener.accept()[0])
            except OSError:  # closed
                return

    def close(self) -> None:
        self.listener.close()
        for conn in self.held:
            conn.close()


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


class Gunicorn:
    """`gunicorn 'bench.hung_redis:served_app()'` with 2 sync workers, in a child process."""

    def __init__(self, env: dict[str, str], workers: int) -> None:
        self.port = free_port()
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--access-logfile",
            "/dev/null",  # the project's gunicorn.conf.py (read from the working folder) logs each request
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--no-control-socket",
            "--log-level",
            "warning",
            "bench.hung_redis:served_app()",
        ]
        self.process = subprocess.Popen(command, cwd=PROJECT_ROOT, env={**os.environ, **env})
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited with {self.process.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


def request(port: int, method: str, path: str, token: str, body: bytes = b"", boundary: str = "") -> int:
    headers = {"Authorization": f"Bearer {token}", "Connection": "close"}
    if boundary:
        headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def tiny_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (120, 130, 140)).save(buffer, "JPEG")
    return buffer.getvalue()


def warm_up(port: int, token: str, workers: int) -> None:
    """Concurrent GET /me (no Redis), enough for each worker to build its app and answer."""

    def reader() -> None:
        for _ in range(5):
            request(port, "GET", "/api/mp/v1/me", token)

    threads = [threading.Thread(target=reader) for _ in range(4 * workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def drive(port: int, token: str, writers: int, seconds: float) -> tuple[float, list[float], Counter[int]]:
    """`writers` threads POST uploads for `seconds`; (wall time, latencies, status counts)."""
    boundary, body = multipart(tiny_jpeg())
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    started = time.perf_counter()
    deadline = started + seconds

    def writer() -> None:
        while time.perf_counter() < deadline:
            sent = time.perf_counter()
            status = request(port, "POST", "/api/mp/v1/uploads", token, body, boundary)
            took = time.perf_counter() - sent
            with lock:
                if len(latencies) >= MAX_REQUESTS:
                    return
                latencies.append(took)
                statuses[status] += 1

    threads = [threading.Thread(target=writer) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, latencies, statuses


def run(label: str, redis_url: str, tmp: Path, token: str, args: argparse.Namespace) -> str:
    env = {
        "DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}",
        "XZ_INSTANCE_PATH": str(tmp / "instance"),
        "XZ_UPLOAD_DIR": str(tmp / "uploads"),
        "XZ_UPLOAD_RATE_LIMIT": "1000000 per minute",
        "REDIS_URL": redis_url,
    }
    server = Gunicorn(env, args.workers)
    try:
        warm_up(server.port, token, args.workers)
        wall, latencies, statuses = drive(server.port, token, args.writers, args.seconds)
    finally:
        server.stop()
    p50 = statistics.median(latencies) * 1000
    p99 = statistics.quantiles(latencies, n=100)[98] * 1000
    codes = ", ".join(f"{count}×{status}" for status, count in sorted(statuses.items()))
    return f"{label:<14} {len(latencies) / wall:8.1f} {p50:9.1f} {p99:9.1f}   {codes}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/9", help="the healthy Redis; an empty database")
    args = parser.parse_args()

    healthy = redis.Redis.from_url(args.redis, socket_timeout=2)
    if healthy.dbsize():
        raise SystemExit(f"{args.redis} is not empty: give the benchmark a Redis database of its own")
    with tempfile.TemporaryDirectory(prefix="xz-hung-redis-") as folder:
        tmp = Path(folder)
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'bench.sqlite3'}",
                "INSTANCE_PATH": str(tmp / "instance"),
                "REDIS_URL": "",
                "RATELIMIT_STORAGE_URI": "memory://",
            }
        )
        with app.app_context():
            db.create_all()
        token = seed_cadre(app)

        silent = SilentRedis()
        try:
            rows = [run("hung Redis", silent.url, tmp, token, args)]
            tried = len(silent.held)
        finally:
            silent.close()
        try:
            rows.append(run("healthy Redis", args.redis, tmp, token, args))
        finally:
            healthy.flushdb()
    print(f"\n{args.writers} writers × {args.seconds:g} s, POST /uploads, gunicorn {args.workers} sync workers")
    print(f"{'':<14} {'req/s':>8} {'p50 ms':>9} {'p99 ms':>9}   answers")
    for row in rows:
        print(row)
    print(f"connections the hung Redis was sent: {tried}")


if __name__ == "__main__":
    main()
