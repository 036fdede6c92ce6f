"""Photo uploads: acceptance latency vs processing time, and thumbnail jobs/s vs a bare Pillow loop.

    python -m bench.uploads [--photos 12] [--rounds 3]

Everything runs in this process on a throwaway SQLite database (or TEST_DATABASE_URL) under a temp
folder. With REDIS_URL set, uploads are queued on a real Redis and the jobs run through a real RQ
SimpleWorker (burst); without it the queue push is a no-op and jobs run through the same task
runner the worker uses (`backend.jobs.runner.execute`). Goals: acceptance ≤ 5% of processing time;
jobs ≥ 80% of the bare Pillow throughput, measured in the same run.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from PIL import Image, ImageOps
from werkzeug.test import EnvironBuilder, run_wsgi_app

from backend.app import create_app
from backend.auth.models import Role, User
from backend.auth.service import issue_token
from backend.db import db
from backend.jobs.runner import execute
from backend.org.models import Cadre, County, Post, Posting, Town, Village
from backend.records import photos
from backend.records.photo_images import DISPLAY_QUALITY, DISPLAY_SIDE, THUMB_QUALITY, THUMB_SIDE
from backend.records.photo_models import Photo, PhotoStatus


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
    """Without Redis: the push after commit costs nothing, so acceptance is measured alone."""

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


def accept(app, token: str, data: bytes) -> tuple[float, str]:  # type: ignore[no-untyped-def]
    """Server time of one POST /uploads: the multipart body is encoded (the phone's work) before the clock starts."""
    environ = EnvironBuilder(
        path="/api/mp/v1/uploads",
        method="POST",
        base_url="http://localhost/",
        data={"file": (io.BytesIO(data), "IMG.jpg")},
        content_type="multipart/form-data",
        headers={"Authorization": f"Bearer {token}"},
    ).get_environ()
    started = time.perf_counter()
    body, status, _headers = run_wsgi_app(app.wsgi_app, environ, buffered=True)
    payload = b"".join(body)
    elapsed = time.perf_counter() - started
    assert status.startswith("201"), payload
    return elapsed, json.loads(payload)["id"]


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


def acceptance_floor(app, samples: list[bytes]) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Median cost of the steps acceptance cannot skip, measured alone on the same samples."""
    from datetime import UTC, datetime

    from werkzeug.formparser import parse_form_data

    from backend.records.photo_images import inspect_upload
    from backend.records.storage import LocalStorage

    store = LocalStorage(Path(app.config["UPLOAD_DIR"]) / "floor")
    costs: dict[str, list[float]] = {"sha256": [], "write": [], "multipart": [], "inspect": []}

    def steps(data: bytes) -> dict[str, Callable[[], object]]:
        environ = EnvironBuilder(method="POST", data={"file": (io.BytesIO(data), "IMG.jpg")}).get_environ()
        return {
            "sha256": lambda: hashlib.sha256(data).hexdigest(),
            "write": lambda: store.put("probe.bin", data),
            "multipart": lambda: parse_form_data(environ, stream_factory=lambda *a, **k: io.BytesIO()),
            "inspect": lambda: inspect_upload(data, 50_000_000, now=datetime.now(UTC)),
        }

    for data in samples:
        for name, step in steps(data).items():
            started = time.perf_counter()
            step()
            costs[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in costs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    samples = [phone_photo(seed) for seed in range(args.photos)]
    print(
        f"{args.photos} photos 4000×3000 JPEG, {statistics.mean(map(len, samples)) / 1e6:.1f} MB each on average;"
        f" jobs via {'RQ SimpleWorker on Redis' if os.environ.get('REDIS_URL') else 'the task runner (no Redis)'}"
    )
    # Under the project's instance folder, where UPLOAD_DIR lives by default (/tmp may be another filesystem).
    instance = Path(__file__).resolve().parent.parent / "instance"
    instance.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-uploads-", dir=instance) as tmp:
        app = build_app(Path(tmp))
        token = seed_cadre(app)
        accepts: list[float] = []
        per_job: list[float] = []
        ratios: list[float] = []
        for round_no in range(1, args.rounds + 1):
            batch = [accept(app, token, data) for data in samples]
            accepts.extend(t for t, _ in batch)
            job_seconds = run_jobs(app, [pid for _, pid in batch])
            started = time.perf_counter()
            for data in samples:
                bare_pillow(data)
            bare_seconds = time.perf_counter() - started
            per_job.append(job_seconds / len(samples))
            ratios.append(bare_seconds / job_seconds)
            jobs_rate, bare_rate = len(samples) / job_seconds, len(samples) / bare_seconds
            ratio = 100 * jobs_rate / bare_rate
            print(f"round {round_no}: jobs {jobs_rate:.2f}/s, bare Pillow {bare_rate:.2f}/s → {ratio:.0f}%")
        acceptance = statistics.median(accepts)
        processing = statistics.median(per_job)
        print(
            f"acceptance latency (POST /uploads, median of {len(accepts)}): {acceptance * 1000:.1f} ms"
            f" (p90 {statistics.quantiles(accepts, n=10)[-1] * 1000:.1f} ms)"
        )
        print(f"processing time per photo (job, median of rounds): {processing * 1000:.1f} ms")
        print(f"acceptance / processing: {100 * acceptance / processing:.1f}% (goal ≤ 5%)")
        floor = acceptance_floor(app, samples)
        print(
            f"  of which linear in the size ({statistics.mean(map(len, samples)) / 1e6:.1f} MB):"
            f" SHA-256 {floor['sha256'] * 1000:.1f} ms, writing the original {floor['write'] * 1000:.1f} ms,"
            f" multipart parsing {floor['multipart'] * 1000:.1f} ms; header checks {floor['inspect'] * 1000:.1f} ms"
        )
        print(f"job throughput / bare Pillow (median of rounds): {100 * statistics.median(ratios):.0f}% (goal ≥ 80%)")
        with app.app_context():
            db.drop_all()
            db.engine.dispose()


if __name__ == "__main__":
    main()
