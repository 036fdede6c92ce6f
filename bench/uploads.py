"""Photo uploads: acceptance latency vs processing time, and thumbnail jobs/s vs a bare Pillow loop.

    python -m bench.uploads [--photos 12] [--rounds 3] [--paced 3] [--rate 4]

Acceptance is what a phone waits for: POST /uploads over HTTP to a real server (gunicorn, one sync
worker, in a child process) on loopback, measured two ways each round:
- full speed: the whole round trip, from the first byte sent to the answer read, with the body
  arriving as fast as loopback delivers it (the server's work cannot hide behind the transfer);
- paced: the body sent at `--rate` MB/s (a good 4G uplink; a mountain village's is slower), and
  the wait from the last byte sent to the answer: what the phone waits beyond its own upload.
The job is pushed to RQ after the answer has gone out (outbox.dispatch_after_response): in neither
figure. Processing is the job as the worker runs it, in the same round: with REDIS_URL through a real
RQ SimpleWorker (burst), else through the same task runner (`backend.jobs.runner.execute`). All on a
throwaway SQLite database (or TEST_DATABASE_URL) under a temp folder. Goals: acceptance ≤ 5% of
processing time; jobs ≥ 80% of the bare Pillow throughput, measured in the same run.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import io
import json
import multiprocessing
import os
import socket
import statistics
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from PIL import Image, ImageOps

from backend.app import create_app
from backend.auth.models import Role, User
from backend.auth.service import issue_token
from backend.db import db
from backend.jobs.runner import execute
from backend.org.models import Cadre, County, Post, Posting, Town, Village
from backend.photos import service as photos
from backend.photos.images import DISPLAY_QUALITY, DISPLAY_SIDE, THUMB_QUALITY, THUMB_SIDE
from backend.photos.models import Photo, PhotoStatus


def phone_photo(seed: int) -> bytes:
    """A 4000×3000 photo-like JPEG (smooth scene + sensor noise, EXIF orientation 6), ~4 MB like a phone's."""
    base = Image.frombytes("RGB", (8, 6), bytes((seed * 53 + i * 97) % 256 for i in range(144)))
    scene = base.resize((4000, 3000), Image.Resampling.BICUBIC)
    noise = Image.effect_noise((4000, 3000), 60).convert("RGB")
    image = Image.blend(scene, noise, 0.3)
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, exif=exif)
    return buffer.getvalue()


def bare_pillow(data: bytes) -> None:
    """The same image work as the job with nothing around it: decode (draft), upright, two JPEGs."""
    image = Image.open(io.BytesIO(data))
    image.draft("RGB", (DISPLAY_SIDE, DISPLAY_SIDE))
    display = ImageOps.exif_transpose(image).convert("RGB")
    display.thumbnail((DISPLAY_SIDE, DISPLAY_SIDE), Image.Resampling.BICUBIC)
    thumb = display.copy()
    thumb.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.BICUBIC)
    for copy, quality in ((display, DISPLAY_QUALITY), (thumb, THUMB_QUALITY)):
        copy.save(io.BytesIO(), "JPEG", quality=quality)


class _NullQueue:
    """Without Redis: drops the push (made after the answer is sent, as with RQ) instead of the embedded
    mode, which would process each photo before answering; `run_jobs` processes them afterwards."""

    def enqueue(self, *args: object, **kwargs: object) -> None:
        return None


def build_app(tmp: Path):  # type: ignore[no-untyped-def]
    redis_url = os.environ.get("REDIS_URL", "")
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp / 'bench.sqlite3'}",
            "INSTANCE_PATH": str(tmp / "instance"),
            "UPLOAD_DIR": str(tmp / "uploads"),
            "REDIS_URL": redis_url,
            "RATELIMIT_STORAGE_URI": "memory://",
            "UPLOAD_RATE_LIMIT": "100000 per minute",
            "SERVER_NAME": "localhost",
            "TESTING": True,
        }
    )
    runtime = app.extensions["xz_jobs"]
    if redis_url:
        from rq import Queue

        runtime.queue = Queue(f"bench-{uuid.uuid4().hex[:8]}", connection=runtime.redis)
    else:
        runtime.inline, runtime.queue = False, _NullQueue()
    with app.app_context():
        db.drop_all()
        db.create_all()
    return app


def seed_cadre(app) -> str:  # type: ignore[no-untyped-def]
    with app.app_context():
        county = County(name="测试县", code="619999")
        db.session.add(county)
        db.session.flush()
        town = Town(county_id=county.id, name="测试镇", code="619999101")
        db.session.add(town)
        db.session.flush()
        village = Village(town_id=town.id, name="测试村", code="619999101001", center_lat=33.1, center_lng=107.3)
        cadre = Cadre(county_id=county.id, work_unit="县局", name="测试", phone="13700000000")
        db.session.add_all([village, cadre])
        db.session.flush()
        db.session.add(
            Posting(cadre_id=cadre.id, village_id=village.id, post=Post.team_member, start_on=date(2020, 1, 1))
        )
        user = User(username="bench_cadre", role=Role.cadre, cadre_id=cadre.id, is_active=True)
        db.session.add(user)
        db.session.flush()
        token = issue_token(db.session, user, timedelta(days=1)).token
        db.session.commit()
        return token


class GunicornServer:
    """The app under gunicorn (one sync worker) in a child process, on a free loopback port."""

    def __init__(self, app) -> None:  # type: ignore[no-untyped-def]
        from gunicorn.app.base import BaseApplication

        class _App(BaseApplication):
            def load_config(self) -> None:
                self.cfg.set("bind", "127.0.0.1:0")
                self.cfg.set("workers", 1)
                self.cfg.set("loglevel", "warning")

            def load(self):  # type: ignore[no-untyped-def]
                return app

        listener = socket.create_server(("127.0.0.1", 0))
        self.port = listener.getsockname()[1]
        listener.close()
        with app.app_context():
            db.engine.dispose()  # the child opens its own connections

        def serve() -> None:
            server = _App()
            server.cfg.set("bind", f"127.0.0.1:{self.port}")
            server.run()

        self.process = multiprocessing.get_context("fork").Process(target=serve, daemon=True)
        self.process.start()
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(30)


def multipart(data: bytes) -> tuple[str, bytes]:
    """The body wx.uploadFile sends: one part `file` with the photo."""
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="IMG.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    return boundary, head + data + f"\r\n--{boundary}--\r\n".encode()


def post_upload(port: int, token: str, data: bytes, rate: float | None = None) -> tuple[float, float, str]:
    """(round trip, wait after the last byte sent, photo id) of one POST /uploads over a fresh connection.

    With `rate` (bytes/s) the body goes out in 64 KB pieces at that pace, like a phone's uplink.
    """
    boundary, body = multipart(data)
    head = (
        "POST /api/mp/v1/uploads HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    view = memoryview(body)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        started = time.perf_counter()
        sock.sendall(head)
        if rate is None:
            sock.sendall(view)
        else:
            piece = 64 * 1024
            for offset in range(0, len(body), piece):
                pause = started + offset / rate - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                sock.sendall(view[offset : offset + piece])
        sent = time.perf_counter()
        response = http.client.HTTPResponse(sock)
        response.begin()
        payload = response.read()
        answered = time.perf_counter()
    assert response.status == 201, payload
    return answered - started, answered - sent, json.loads(payload)["id"]


def run_jobs(app, photo_ids: list[str]) -> float:  # type: ignore[no-untyped-def]
    """Seconds to process these photos through the real job path (RQ worker when Redis is there)."""
    runtime = app.extensions["xz_jobs"]
    started = time.perf_counter()
    if os.environ.get("REDIS_URL"):
        from rq import SimpleWorker

        from backend.jobs.runner import set_worker_app

        set_worker_app(app)
        SimpleWorker([runtime.queue], connection=runtime.queue.connection).work(burst=True)
    else:
        with app.app_context():
            for photo_id in photo_ids:
                execute(photos.PROCESS_TASK, {"photo_id": photo_id})
            db.session.remove()
    elapsed = time.perf_counter() - started
    with app.app_context():
        done = db.session.query(Photo).filter(Photo.id.in_(photo_ids), Photo.status == PhotoStatus.ready).count()
        db.session.remove()
    assert done == len(photo_ids), f"only {done} of {len(photo_ids)} photos processed"
    return elapsed


def loopback_transfer(data: bytes) -> None:
    """Just moving the bytes through a loopback TCP socket into the reader's memory: no HTTP, no work."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        sender = socket.create_connection(listener.getsockname())
        receiver, _ = listener.accept()
        thread = threading.Thread(target=lambda: (sender.sendall(data), sender.close()))
        thread.start()
        buffer = bytearray(64 * 1024)
        while receiver.recv_into(buffer):
            pass
        thread.join()
        receiver.close()


def floor_steps(store, data: bytes, key: str) -> dict[str, Callable[[], object]]:  # type: ignore[no-untyped-def]
    """Each step of acceptance that grows with the size, alone, in the order a request makes them."""
    from backend.photos.images import inspect_upload

    incoming = store.receive(len(data))
    chunks = [memoryview(data)[offset : offset + 64 * 1024] for offset in range(0, len(data), 64 * 1024)]
    return {
        "transfer": lambda: loopback_transfer(data),
        "sha256": lambda: hashlib.sha256(data).hexdigest(),
        "receive": lambda: [incoming.write(chunk) for chunk in chunks],  # hash + write, 64 KB at a time
        "inspect": lambda: inspect_upload(incoming.view(), 50_000_000, now=datetime.now(UTC)),
        "keep": lambda: store.keep(incoming, key),  # rename + fsync
        "close": incoming.close,
    }


def acceptance_floor(app, samples: list[bytes]) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Median cost of the steps acceptance cannot skip, measured alone on the same samples."""
    from backend.photos.storage import LocalStorage

    store = LocalStorage(Path(app.config["UPLOAD_DIR"]) / "floor")
    costs: dict[str, list[float]] = defaultdict(list)
    for number, data in enumerate(samples):
        for name, step in floor_steps(store, data, f"probe/{number}.bin").items():
            started = time.perf_counter()
            step()
            costs[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in costs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=12, help="photos per round (full-speed uploads and jobs)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--paced", type=int, default=3, help="paced uploads per round")
    parser.add_argument("--rate", type=float, default=4.0, help="MB/s of the paced uploads")
    args = parser.parse_args()
    samples = [phone_photo(seed) for seed in range(args.photos)]
    size = statistics.mean(map(len, samples))
    jobs_via = "RQ SimpleWorker on Redis" if os.environ.get("REDIS_URL") else "the task runner (no Redis)"
    print(
        f"{args.photos} photos 4000×3000 JPEG, {size / 1e6:.1f} MB each on average; uploads to gunicorn"
        f" (1 sync worker) on loopback; jobs via {jobs_via}"
    )
    # Under the project's instance folder, where UPLOAD_DIR lives by default (/tmp may be another filesystem).
    instance = Path(__file__).resolve().parent.parent / "instance"
    instance.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-uploads-", dir=instance) as tmp:
        app = build_app(Path(tmp))
        token = seed_cadre(app)
        server = GunicornServer(app)
        full: list[float] = []
        tails: list[float] = []
        per_job: list[float] = []
        ratios: list[float] = []
        try:
            for round_no in range(1, args.rounds + 1):
                batch = [post_upload(server.port, token, data) for data in samples]
                paced = [post_upload(server.port, token, data, args.rate * 1e6) for data in samples[: args.paced]]
                full.extend(trip for trip, _tail, _id in batch)
                tails.extend(tail for _trip, tail, _id in paced)
                job_seconds = run_jobs(app, [pid for _trip, _tail, pid in batch + paced])
                started = time.perf_counter()
                for data in samples + samples[: args.paced]:
                    bare_pillow(data)
                bare_seconds = time.perf_counter() - started
                per_job.append(job_seconds / (len(batch) + len(paced)))
                ratios.append(bare_seconds / job_seconds)
                print(
                    f"round {round_no}: upload round trip {statistics.median(full[-len(batch) :]) * 1000:.1f} ms,"
                    f" wait after last byte {statistics.median(tails[-len(paced) :]) * 1000:.1f} ms,"
                    f" job {per_job[-1] * 1000:.1f} ms/photo; jobs/bare Pillow {100 * ratios[-1]:.0f}%"
                )
        finally:
            server.stop()
        processing = statistics.median(per_job)
        trip, tail = statistics.median(full), statistics.median(tails)
        print(f"processing time per photo (job, median of rounds): {processing * 1000:.1f} ms")
        print(
            f"full speed: round trip (median of {len(full)}) {trip * 1000:.1f} ms"
            f" (p90 {statistics.quantiles(full, n=10)[-1] * 1000:.1f} ms)"
            f" = {100 * trip / processing:.1f}% of processing"
        )
        print(
            f"paced at {args.rate:g} MB/s: wait after the last byte (median of {len(tails)}) {tail * 1000:.1f} ms"
            f" = {100 * tail / processing:.1f}% of processing (goal ≤ 5%)"
        )
        floor = acceptance_floor(app, samples)
        print(
            f"  floor at full speed, each step alone ({size / 1e6:.1f} MB): loopback transfer"
            f" {floor['transfer'] * 1000:.1f} ms, SHA-256 {floor['sha256'] * 1000:.1f} ms, receiving into the store"
            f" (SHA-256 + write) {floor['receive'] * 1000:.1f} ms, keeping it (rename + fsync)"
            f" {floor['keep'] * 1000:.1f} ms; header checks {floor['inspect'] * 1000:.1f} ms"
        )
        print(f"job throughput / bare Pillow (median of rounds): {100 * statistics.median(ratios):.0f}% (goal ≥ 80%)")
        with app.app_context():
            db.drop_all()
            db.engine.dispose()


if __name__ == "__main__":
    main()
