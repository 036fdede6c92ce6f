"""Photo uploads end to end: acceptance, the copies the job makes, claiming, duplicates, signed
serving and the 24-hour purge. Without REDIS_URL jobs run in-process right after the commit."""

from __future__ import annotations

import errno
import hashlib
import http.client
import io
import json
import os
import random
import subprocess
import sys
import threading
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from flask import Flask
from itsdangerous import URLSafeTimedSerializer
from PIL import Image
from sqlalchemy import delete, select, text
from werkzeug.serving import make_server

from backend.auth.models import User
from backend.auth.scope import scope_for
from backend.db import db
from backend.demo.org import DEMO_COUNTY_CODE
from backend.demo.photos import demo_photo
from backend.errors import (
    NotInScope,
    PayloadTooLarge,
    PhotoAlreadyUsed,
    PhotoNotFound,
    PhotoRequired,
    PhotoUnusable,
    TooManyPhotos,
)
from backend.jobs.models import OutboxJob
from backend.jobs.outbox import discard_pending
from backend.jobs.tasks import TASKS, load_all_tasks
from backend.org.models import County
from backend.photos import service as photos
from backend.photos.images import inspect_upload
from backend.photos.models import Photo, PhotoFlag, PhotoSettings, PhotoStatus
from backend.photos.storage import photo_storage
from backend.timeutil import now_utc
from backend.transaction import unit_of_work
from tests import photo_corpus as corpus
from tests.factories import World

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def upload(api, user: str, data: bytes, name: str = "IMG_0001.jpg", **form: str):  # type: ignore[no-untyped-def]
    return api(user).post(
        "/uploads",
        data={"file": (io.BytesIO(data), name, "image/jpeg"), **form},
        content_type="multipart/form-data",
    )


def uploaded(api, user: str, data: bytes, **form: str) -> str:  # type: ignore[no-untyped-def]
    response = upload(api, user, data, **form)
    assert response.status_code == 201, response.json
    return response.json["id"]


def load_photo(app: Flask, photo_id: str) -> Photo:
    with app.app_context():
        photo = db.session.get(Photo, photo_id)
        assert photo is not None
        db.session.expunge(photo)
        db.session.remove()
    return photo


def served(app: Flask, photo_id: str, variant: str) -> bytes:
    with app.app_context():
        return photo_storage().get(photos.storage_key(photo_id, variant))


def user_scope(world: World, name: str):  # type: ignore[no-untyped-def]
    return scope_for(db.session, db.session.get(User, world.ids[f"user:{name}"]))


# --- acceptance and processing ---------------------------------------------------------------------


def test_cadre_upload_answers_with_id_hash_upright_size_and_capture_time(app, api, world) -> None:
    data = corpus.phone_jpeg(6, width=300, height=400)

    response = upload(api, "cadre", data)

    assert response.status_code == 201, response.json
    body = response.json
    assert set(body) == {"id", "sha256", "width", "height", "taken_at", "status"}
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert (body["width"], body["height"]) == (300, 400)
    assert body["taken_at"].startswith("2026-11-20T01:30:00")
    assert body["status"] == "processing"
    photo = load_photo(app, body["id"])
    assert photo.status == PhotoStatus.ready
    assert photo.gps == pytest.approx((33.1525, 107.3301), abs=1e-4)
    assert photo.village_id == world.ids["V1"]


def test_a_large_upload_is_stored_byte_for_byte_as_it_streams_in(app, api) -> None:
    """Several MB arrive in many chunks (hashed and written one by one, written behind): the original kept
    is the very bytes sent, under the SHA-256 the phone gets back."""
    data = corpus.phone_jpeg(2) + random.Random(5).randbytes(3 * 1024 * 1024)  # a trailer after EOI is fine

    response = upload(api, "cadre", data)

    assert response.status_code == 201, response.json
    assert response.json["sha256"] == hashlib.sha256(data).hexdigest()
    assert served(app, response.json["id"], "original") == data


def test_refused_uploads_and_extra_file_parts_leave_no_staging_file(app, api) -> None:
    incoming = Path(app.config["UPLOAD_DIR"]) / ".incoming"
    html = b"<html><script>alert(1)</script></html>" * 1000

    refused = upload(api, "cadre", html)
    extra = api("cadre").post(
        "/uploads",
        data={"file": (io.BytesIO(corpus.phone_jpeg(3)), "a.jpg"), "more": (io.BytesIO(corpus.phone_jpeg(4)), "b.jpg")},
        content_type="multipart/form-data",
    )

    assert (refused.status_code, refused.json["code"]) == (415, "unsupported_image")
    assert extra.status_code in (201, 422)
    assert list(incoming.iterdir()) == []


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_comes_out_upright_in_display_and_thumbnail(app, api, orientation: int) -> None:
    photo_id = uploaded(api, "cadre", corpus.phone_jpeg(orientation, width=600, height=800))

    for variant, side in (("display", 800), ("thumb", 320)):
        image = Image.open(io.BytesIO(served(app, photo_id, variant)))
        assert image.format == "JPEG"
        assert image.height == side and image.width == side * 3 // 4, (variant, image.size)
        w, h = image.size
        for quadrant, (x, y) in {
            "top_left": (w // 4, h // 4),
            "top_right": (3 * w // 4, h // 4),
            "bottom_left": (w // 4, 3 * h // 4),
            "bottom_right": (3 * w // 4, 3 * h // 4),
        }.items():
            expected = corpus.QUADRANTS[quadrant]
            actual = image.getpixel((x, y))
            assert all(abs(a - e) < 40 for a, e in zip(actual, expected, strict=True)), (variant, quadrant, actual)


def test_served_copies_carry_no_exif_gps_xmp_or_comment(app, api) -> None:
    photo_id = uploaded(api, "cadre", corpus.phone_jpeg(6, description="x" * 60000))

    for variant in ("display", "thumb"):
        data = served(app, photo_id, variant)
        image = Image.open(io.BytesIO(data))
        assert dict(image.getexif()) == {}
        assert not {"exif", "xmp", "comment", "icc_profile"} & set(image.info), image.info.keys()
        for marker in (b"Exif", b"GPS", b"xmpmeta", b"TestPhone", b"xxxxxxxx"):
            assert marker not in data, (variant, marker)


def test_display_copy_is_1280_on_the_long_side_and_thumbnail_320(app, api) -> None:
    photo_id = uploaded(api, "cadre", corpus.encode(corpus.scene(1, (4000, 3000)), "JPEG", quality=85))

    assert Image.open(io.BytesIO(served(app, photo_id, "display"))).size == (1280, 960)
    assert Image.open(io.BytesIO(served(app, photo_id, "thumb"))).size == (320, 240)


# --- claiming ------------------------------------------------------------------------------------


def test_attach_claims_own_photos_in_order_and_is_idempotent(app, api, world) -> None:
    first = uploaded(api, "cadre", corpus.encode(corpus.scene(1), "JPEG"))
    second = uploaded(api, "cadre", corpus.encode(corpus.scene(2), "PNG"))
    with app.app_context():
        scope = user_scope(world, "cadre")
        with unit_of_work(db.session) as s:
            got = photos.attach_photos(s, actor=scope, photo_ids=[second, first], owner_type="visit", owner_id=7)
        assert [p.id for p in got] == [second, first]
        with unit_of_work(db.session) as s:
            again = photos.attach_photos(s, actor=scope, photo_ids=[second, first], owner_type="visit", owner_id=7)
        assert [p.id for p in again] == [second, first]
        assert [p.id for p in photos.photos_of(db.session, "visit", [7, 8])[7]] == [second, first]
        assert photos.photos_of(db.session, "visit", [8]).get(8) is None
        db.session.remove()


@pytest.mark.parametrize(
    ("who", "owner_id", "kwargs", "error"),
    [
        ("cadre_far", 7, {}, PhotoNotFound),
        ("cadre", 7, {}, PhotoAlreadyUsed),
        ("cadre", 7, {"max_count": 0}, TooManyPhotos),
        ("cadre", 7, {"min_count": 2}, PhotoRequired),
    ],
)
def test_attach_refuses_others_photos_used_photos_and_wrong_counts(
    app, api, world, who, owner_id, kwargs, error
) -> None:
    photo_id = uploaded(api, "cadre", corpus.tiny_jpeg())
    with app.app_context():
        if error is PhotoAlreadyUsed:
            with unit_of_work(db.session) as s:
                photos.attach_photos(
                    s, actor=user_scope(world, "cadre"), photo_ids=[photo_id], owner_type="visit", owner_id=9
                )
        with pytest.raises(error) as raised:
            photos.attach_photos(
                db.session,
                actor=user_scope(world, who),
                photo_ids=[photo_id],
                owner_type="visit",
                owner_id=owner_id,
                **kwargs,
            )
        assert raised.value.message and raised.value.code
        db.session.rollback()
        db.session.remove()


def test_attach_refuses_a_photo_whose_decoding_failed(app, api, world) -> None:
    data = bytearray(corpus.encode(corpus.scene(5, (800, 600)), "JPEG"))
    scan = data.find(b"\xff\xda")
    data[scan + 6] = 0x33  # the scan names Huffman tables that were never defined: the header still reads fine
    photo_id = uploaded(api, "cadre", bytes(data))
    assert load_photo(app, photo_id).status == PhotoStatus.failed
    with app.app_context(), pytest.raises(PhotoUnusable):
        photos.attach_photos(
            db.session, actor=user_scope(world, "cadre"), photo_ids=[photo_id], owner_type="visit", owner_id=1
        )


# --- the hostile corpus ----------------------------------------------------------------------------


def stored_files(app: Flask) -> set[Path]:
    """Every file under the upload folder (its working folders, such as .incoming, appear with the first upload)."""
    return {path for path in Path(app.config["UPLOAD_DIR"]).rglob("*") if path.is_file()}


@pytest.mark.parametrize("name", sorted(corpus.HOSTILE_REFUSED))
def test_hostile_upload_is_refused_with_a_clear_code_and_leaves_nothing(app, api, world, name: str) -> None:
    make, status, code = corpus.HOSTILE_REFUSED[name]
    stored_before = stored_files(app)

    response = upload(api, "cadre", make())

    assert response.status_code == status, (name, response.json)
    assert response.json["code"] == code
    assert response.json["message"]
    with app.app_context():
        assert set(db.session.scalars(select(Photo.id))) == {world.photo_id}
        db.session.remove()
    assert stored_files(app) == stored_before


@pytest.mark.parametrize("call", ["write", "fsync"])  # while the bytes arrive; while the photo is made durable
def test_an_upload_to_a_full_disk_answers_storage_full_keeps_nothing_and_works_once_space_is_freed(
    app, api, world, monkeypatch, call: str
) -> None:
    upload_dir = Path(app.config["UPLOAD_DIR"]).resolve()
    stored_before = stored_files(app)
    real = getattr(os, call)

    def on_a_full_disk(fd: int, *args: object) -> object:
        """What the kernel answers for a file on a full filesystem; files elsewhere (the database) are fine."""
        if Path(os.readlink(f"/proc/self/fd/{fd}")).is_relative_to(upload_dir):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, *args)

    monkeypatch.setattr(os, call, on_a_full_disk)
    refused = upload(api, "cadre", corpus.phone_jpeg(3))
    monkeypatch.undo()

    assert (refused.status_code, refused.json["code"]) == (507, "storage_full")
    assert "存储空间已满" in refused.json["message"]
    with app.app_context():
        assert set(db.session.scalars(select(Photo.id))) == {world.photo_id}
        db.session.remove()
    assert stored_files(app) == stored_before
    assert upload(api, "cadre", corpus.phone_jpeg(3)).status_code == 201


@pytest.mark.parametrize(
    ("name", "make", "size"),
    [
        ("png_named_jpg", lambda: corpus.encode(corpus.upright(40, 30), "PNG"), (40, 30)),
        ("transparent_png", lambda: corpus.encode(Image.new("RGBA", (30, 20), (0, 0, 0, 0)), "PNG"), (30, 20)),
        ("palette_png", lambda: corpus.encode(Image.new("P", (30, 20), 3), "PNG"), (30, 20)),
        ("webp", lambda: corpus.encode(corpus.scene(7), "WEBP"), (640, 480)),
        ("animated_webp", corpus.animated_webp, (64, 48)),
        ("one_pixel", lambda: corpus.encode(Image.new("RGB", (1, 1), (9, 9, 9)), "JPEG"), (1, 1)),
        ("cmyk_jpeg", lambda: corpus.encode(Image.new("CMYK", (50, 40), (0, 50, 100, 0)), "JPEG"), (50, 40)),
        ("huge_exif", lambda: corpus.phone_jpeg(3, description="长" * 20000), (300, 400)),
        ("polyglot_jpeg_html", corpus.polyglot_jpeg, (64, 64)),
        ("broken_exif", corpus.jpeg_with_broken_exif, (60, 80)),
        ("motion_photo_trailer", corpus.jpeg_with_motion_photo_trailer, (60, 80)),
    ],
)
def test_odd_but_real_images_are_re_encoded_to_plain_jpeg(app, api, name: str, make, size) -> None:  # type: ignore[no-untyped-def]
    response = upload(api, "cadre", make(), name="evil.html")

    assert response.status_code == 201, (name, response.json)
    photo_id = response.json["id"]
    assert load_photo(app, photo_id).status == PhotoStatus.ready
    for variant in ("display", "thumb"):
        data = served(app, photo_id, variant)
        image = Image.open(io.BytesIO(data))
        assert (image.format, image.mode, getattr(image, "n_frames", 1)) == ("JPEG", "RGB", 1)
        assert b"<script" not in data and b"<html" not in data
    assert Image.open(io.BytesIO(served(app, photo_id, "display"))).size == size


def test_animated_webp_keeps_its_first_frame(app, api) -> None:
    photo_id = uploaded(api, "cadre", corpus.animated_webp())

    red, green, blue = Image.open(io.BytesIO(served(app, photo_id, "display"))).getpixel((32, 24))
    assert red > 150 and green < 80 and blue < 80


def test_upload_over_15_mb_is_refused_before_it_is_read(app, api) -> None:
    response = upload(api, "cadre", b"\xff\xd8\xff" + b"\0" * (15 * 1024 * 1024 + 100 * 1024))

    assert (response.status_code, response.json["code"]) == (413, "payload_too_large")


def test_uploads_are_rate_limited_per_user(make_app, world) -> None:
    strict = make_app(UPLOAD_RATE_LIMIT="2 per minute")

    def send(user: str) -> int:
        return (
            strict.test_client()
            .post(
                "/api/mp/v1/uploads",
                data={"file": (io.BytesIO(corpus.tiny_jpeg()), "a.jpg")},
                content_type="multipart/form-data",
                headers={"Authorization": f"Bearer {world.tokens[user]}"},
            )
            .status_code
        )

    assert [send("cadre") for _ in range(3)] == [201, 201, 429]
    assert send("cadre_far") == 201, "another user has their own allowance"


def test_upload_without_a_file_is_an_invalid_request(api) -> None:
    response = api("cadre").post("/uploads", data={"event": "入户走访"}, content_type="multipart/form-data")

    assert response.status_code == 422
    assert response.json["code"] == "invalid_request"
    assert "file" in response.json["errors"]


_MEMORY_PROBE = """
import resource, sys
from backend.errors import DomainError
from backend.photos.images import inspect_upload, render_copies
from datetime import datetime, UTC
data = open(sys.argv[1], "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
codes = []
steps = (
    lambda: inspect_upload(data, 50_000_000, now=datetime.now(UTC)),
    lambda: render_copies(data, sys.argv[2], 50_000_000),
)
for step in steps:
    try:
        step()
        codes.append("ok")
    except DomainError as exc:
        codes.append(exc.code)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before, *codes)
"""


@pytest.mark.parametrize(
    ("make", "fmt"), [(lambda: corpus.jpeg_with_size_header(60000, 60000), "jpeg"), (corpus.png_bomb, "png")]
)
def test_giant_headers_and_bombs_are_refused_with_bounded_memory(tmp_path: Path, make, fmt: str) -> None:  # type: ignore[no-untyped-def]
    """Decoding 60000×60000 would need ~10 GB: the process's peak memory must not move by more than a few MB."""
    sample = tmp_path / "sample"
    sample.write_bytes(make())
    tracemalloc.start()
    with pytest.raises(PayloadTooLarge):
        inspect_upload(sample.read_bytes(), 50_000_000, now=datetime.now(UTC))
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 5 * 1024 * 1024, peak

    probe = subprocess.run(
        [sys.executable, "-c", _MEMORY_PROBE, str(sample), fmt],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.returncode == 0, probe.stderr[-2000:]
    grown_kb, *codes = probe.stdout.split()
    assert codes == ["payload_too_large", "payload_too_large"]
    assert int(grown_kb) < 20 * 1024, f"peak RSS grew by {grown_kb} KB"


# --- duplicates ----------------------------------------------------------------------------------


def attach(app: Flask, world: World, user: str, photo_ids: list[str], owner_type: str, owner_id: int) -> None:
    with app.app_context():
        with unit_of_work(db.session) as s:
            photos.attach_photos(
                s, actor=user_scope(world, user), photo_ids=photo_ids, owner_type=owner_type, owner_id=owner_id
            )
        db.session.remove()


def test_same_photo_claimed_by_two_records_is_flagged_as_duplicate_of_the_first(app, api, world) -> None:
    data = corpus.phone_jpeg(1)
    first, second = uploaded(api, "cadre", data), uploaded(api, "cadre", data)
    attach(app, world, "cadre", [first], "daily_record", 1)
    attach(app, world, "cadre", [second], "visit", 2)

    assert load_photo(app, first).flag is None
    flagged = load_photo(app, second)
    assert (flagged.flag, flagged.duplicate_of_id) == (PhotoFlag.duplicate, first)


def test_same_photo_uploaded_by_two_cadres_is_flagged_as_a_duplicate_of_the_first(app, api) -> None:
    data = corpus.phone_jpeg(1)
    first = uploaded(api, "cadre", data)
    second = uploaded(api, "cadre_far", data)

    flagged = load_photo(app, second)
    assert (flagged.flag, flagged.duplicate_of_id) == (PhotoFlag.duplicate, first)


def test_a_retried_upload_of_one_photo_for_one_record_is_not_flagged(app, api, world) -> None:
    data = corpus.phone_jpeg(1)
    first, retry = uploaded(api, "cadre", data), uploaded(api, "cadre", data)
    attach(app, world, "cadre", [first, retry], "visit", 3)

    assert load_photo(app, retry).flag is None


def test_recompressed_and_resized_copy_is_flagged_as_near_duplicate_but_another_scene_is_not(app, api) -> None:
    original = corpus.scene(11, (1600, 1200))
    first = uploaded(api, "cadre", corpus.encode(original, "JPEG", quality=92))
    copy = uploaded(api, "cadre_far", corpus.encode(original.resize((1000, 750)), "JPEG", quality=60))
    other = uploaded(api, "cadre_far", corpus.encode(corpus.scene(12, (1600, 1200)), "JPEG", quality=92))

    near = load_photo(app, copy)
    assert (near.flag, near.duplicate_of_id) == (PhotoFlag.near_duplicate, first)
    assert load_photo(app, other).flag is None


def test_one_cadres_similar_shots_of_one_occasion_are_not_flagged_but_the_same_scene_days_later_is(app, api) -> None:
    original = corpus.scene(13, (1600, 1200))
    with time_machine.travel(now_utc() - timedelta(days=3)):
        first = uploaded(api, "cadre", corpus.encode(original, "JPEG", quality=92))
        burst = uploaded(api, "cadre", corpus.encode(original, "JPEG", quality=70))
    reused = uploaded(api, "cadre", corpus.encode(original.resize((1200, 900)), "JPEG", quality=80))

    assert load_photo(app, burst).flag is None
    later = load_photo(app, reused)
    assert later.flag == PhotoFlag.near_duplicate and later.duplicate_of_id in {first, burst}


@pytest.mark.real_commits  # threads: each its own connection
def test_others_write_while_a_slow_upload_is_still_arriving(app: Flask, world: World) -> None:
    """A phone on a village uplink sends for minutes. Meanwhile another cadre's check-in is answered at once
    (on SQLite it used to wait for the upload's write lock, and give up after 30 s)."""
    boundary = "xz-slow-upload"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="IMG.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + corpus.phone_jpeg(1)
        + f"\r\n--{boundary}--\r\n".encode()
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    serving = threading.Thread(target=server.serve_forever)
    serving.start()
    try:
        upload = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=30)
        upload.putrequest("POST", "/api/mp/v1/uploads")
        for name, value in (
            ("Authorization", f"Bearer {world.tokens['cadre']}"),
            ("Content-Type", f"multipart/form-data; boundary={boundary}"),
            ("Content-Length", str(len(body))),
        ):
            upload.putheader(name, value)
        upload.endheaders()
        upload.send(body[: len(body) // 2])
        time.sleep(0.5)  # authenticated, waiting for the rest of the body
        other = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=10)
        started = time.monotonic()
        other.request(
            "POST",
            "/api/mp/v1/checkins",
            body=json.dumps({"lat": 33.15, "lng": 107.33, "accuracy": 10}),
            headers={"Authorization": f"Bearer {world.tokens['cadre_far']}", "Content-Type": "application/json"},
        )
        checkin = other.getresponse()
        checkin.read()
        waited = time.monotonic() - started
        upload.send(body[len(body) // 2 :])
        answer = upload.getresponse()
        answer.read()
    finally:
        server.shutdown()
        serving.join()
    assert checkin.status == 201 and waited < 5
    assert answer.status == 201


# --- signed serving ------------------------------------------------------------------------------


def urls_for(app: Flask, world: World, viewer: str, photo_id: str) -> dict:
    with app.test_request_context():
        urls = photos.photo_urls(db.session.get(Photo, photo_id), user_scope(world, viewer))
        db.session.remove()
    return urls


def test_signed_url_serves_a_jpeg_with_safe_headers_and_no_filename(app, api, world, client) -> None:
    photo_id = uploaded(api, "cadre", corpus.phone_jpeg(6), name="<script>x.jpg")
    urls = urls_for(app, world, "town_admin", photo_id)

    response = client.get(urls["display_url"])

    assert response.status_code == 200
    assert response.mimetype == "image/jpeg"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Disposition" not in response.headers
    assert "script" not in str(response.headers)
    cache = response.cache_control
    assert cache.private and not cache.public and 0 < cache.max_age <= app.config["PHOTO_URL_TTL"]
    assert response.data == served(app, photo_id, "display")
    assert client.get(urls["display_url"], headers={"If-None-Match": response.headers["ETag"]}).status_code == 304
    assert Image.open(io.BytesIO(client.get(urls["thumb_url"]).data)).size == (240, 320)


def test_same_viewer_gets_the_same_url_within_the_window_so_phones_can_cache(app, api, world) -> None:
    photo_id = uploaded(api, "cadre", corpus.tiny_jpeg())
    assert urls_for(app, world, "cadre", photo_id) == urls_for(app, world, "cadre", photo_id)


def test_tampered_or_foreign_signatures_are_refused(app, api, world, client) -> None:
    photo_id = uploaded(api, "cadre", corpus.tiny_jpeg())
    url = urls_for(app, world, "cadre", photo_id)["display_url"]
    token = url.rsplit("/", 1)[1]
    with app.app_context():
        forged = URLSafeTimedSerializer("another-secret", salt="xz.photo.v1").dumps([photo_id, "original"])
        own_secret_wrong_variant = photos._serializer().dumps([photo_id, "original"])

    # Not the last characters: base64's last one carries padding bits, and a changed one can decode the same.
    tampered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    for bad in (tampered, forged, own_secret_wrong_variant, "nonsense", photo_id):
        response = client.get(f"/media/photos/{bad}")
        assert response.status_code == 404, bad
        assert response.mimetype == "text/html"


def test_expired_url_is_refused(app, api, world, client) -> None:
    photo_id = uploaded(api, "cadre", corpus.tiny_jpeg())
    url = urls_for(app, world, "cadre", photo_id)["display_url"]
    assert client.get(url).status_code == 200

    with time_machine.travel(now_utc() + timedelta(seconds=app.config["PHOTO_URL_TTL"] + 1)):
        assert client.get(url).status_code == 404


@pytest.mark.parametrize("outsider", ["cadre_far", "town_admin_other", "county_admin_other", "reviewer_other"])
def test_no_url_is_signed_for_a_viewer_outside_the_photos_village(app, api, world, outsider: str) -> None:
    photo_id = uploaded(api, "cadre", corpus.tiny_jpeg())
    attach(app, world, "cadre", [photo_id], "visit", 5)

    with pytest.raises(NotInScope):
        urls_for(app, world, outsider, photo_id)
    assert urls_for(app, world, "county_admin", photo_id)["display_url"]


def test_villager_sees_photos_of_their_own_household_only(app, api, world) -> None:
    photo_id = uploaded(api, "cadre", corpus.tiny_jpeg())
    with app.app_context():
        with unit_of_work(db.session) as s:
            photos.attach_photos(
                s,
                actor=user_scope(world, "cadre"),
                photo_ids=[photo_id],
                owner_type="visit",
                owner_id=6,
                village_id=world.ids["V1"],
                household_id=world.ids["H1"],
            )
        db.session.remove()

    assert urls_for(app, world, "villager", photo_id)["thumb_url"]
    with pytest.raises(NotInScope):
        urls_for(app, world, "villager_neighbour", photo_id)


def test_a_villager_cannot_open_a_cadres_work_photo_of_the_village_by_its_id(app, api, world) -> None:
    record_photo = uploaded(api, "cadre", corpus.scene_jpeg(3))
    attach(app, world, "cadre", [record_photo], "daily_record", 7)  # V1's, no household: work evidence
    unclaimed = uploaded(api, "cadre", corpus.scene_jpeg(4))

    for photo_id in (record_photo, unclaimed):
        assert api("villager").get(f"/uploads/{photo_id}").status_code == 403
        with pytest.raises(NotInScope):
            urls_for(app, world, "villager", photo_id)
    assert api("reviewer").get(f"/uploads/{record_photo}").status_code == 200, "the village's review panel sees it"
    assert urls_for(app, world, "town_admin", record_photo)["thumb_url"]


def test_urls_are_empty_until_the_photo_is_processed(app, world) -> None:
    with app.app_context():
        photo = Photo(id="p" * 32, uploader_id=world.ids["user:cadre"], format="jpeg", byte_size=1, width=1, height=1)
        photo.sha256, photo.status = "0" * 64, PhotoStatus.processing
        with app.test_request_context():
            assert photos.photo_urls(photo, user_scope(world, "cadre")) == {"thumb_url": None, "display_url": None}


# --- the 24-hour purge ---------------------------------------------------------------------------


def test_unclaimed_uploads_are_deleted_after_24_hours_with_their_files(app, api, world) -> None:
    claimed, unclaimed = uploaded(api, "cadre", corpus.scene_jpeg(1)), uploaded(api, "cadre", corpus.scene_jpeg(2))
    attach(app, world, "cadre", [claimed], "daily_record", 1)
    files = [
        Path(app.config["UPLOAD_DIR"]) / photos.storage_key(unclaimed, v) for v in ("original", "display", "thumb")
    ]
    assert all(f.is_file() for f in files)

    def purge() -> int:
        with app.app_context():
            with unit_of_work(db.session) as s:
                count = TASKS[photos.HOUSEKEEPING_TASK](s)["purged"]
            db.session.remove()
        return count

    load_all_tasks()
    with time_machine.travel(now_utc() + timedelta(hours=23, minutes=59)):
        assert purge() == 0
    with time_machine.travel(now_utc() + timedelta(hours=24, minutes=1)):
        assert purge() == 2  # this upload and the world's unclaimed photo
    assert not any(f.exists() for f in files)
    assert load_photo(app, claimed).owner_type == "daily_record"
    with app.app_context():
        assert db.session.get(Photo, unclaimed) is None
        db.session.remove()


# --- demo ----------------------------------------------------------------------------------------


def test_demo_photos_are_deterministic_and_go_through_the_real_pipeline(app, world) -> None:
    with app.app_context():
        user = db.session.get(User, world.ids["user:cadre"])
        scope = user_scope(world, "cadre")
        with unit_of_work(db.session) as s:
            first = demo_photo(s, random.Random(7), user=user, scope=scope, event="入户走访")
            again = demo_photo(s, random.Random(7), user=user, scope=scope)
            other = demo_photo(s, random.Random(8), user=user, scope=scope)
            ids = (first.id, again.id, other.id)
            hashes = (first.sha256, again.sha256, other.sha256)
        db.session.remove()

    assert hashes[0] == hashes[1] != hashes[2]
    assert all(load_photo(app, photo_id).status == PhotoStatus.ready for photo_id in ids)


def test_demo_county_turns_the_photo_label_on(app, demo_county) -> None:
    with app.app_context():
        county = db.session.scalar(select(County).where(County.code == DEMO_COUNTY_CODE))
        assert db.session.get(PhotoSettings, county.id).label_enabled
        db.session.remove()


def test_uploader_polls_their_upload_and_gets_urls_once_it_is_ready(app, api, world, client) -> None:
    photo_id = uploaded(api, "cadre", corpus.phone_jpeg(6))

    response = api("cadre").get(f"/uploads/{photo_id}")

    assert response.status_code == 200
    body = response.json
    assert (body["id"], body["status"], body["width"], body["height"]) == (photo_id, "ready", 300, 400)
    assert Image.open(io.BytesIO(client.get(body["thumb_url"]).data)).size == (240, 320)
    assert api("cadre").get(f"/uploads/{'0' * 32}").json["code"] == "not_found"
    assert api("cadre_far").get(f"/uploads/{photo_id}").json["code"] == "not_in_scope"


@pytest.mark.real_commits  # threads: each its own connection
def test_concurrent_claims_of_one_photo_let_exactly_one_record_have_it(app, api, world) -> None:
    photo_id = uploaded(api, "cadre", corpus.tiny_jpeg())
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def claim(owner_id: int) -> None:
        with app.app_context():
            scope = user_scope(world, "cadre")
            db.session.rollback()
            barrier.wait()
            try:
                with unit_of_work(db.session) as s:
                    photos.attach_photos(s, actor=scope, photo_ids=[photo_id], owner_type="visit", owner_id=owner_id)
                outcomes.append("claimed")
            except PhotoAlreadyUsed:
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=claim, args=(owner_id,)) for owner_id in range(100, 106)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["claimed"] + ["refused"] * 5
    assert load_photo(app, photo_id).owner_id in range(100, 106)


def test_a_photo_whose_job_was_lost_is_processed_by_the_next_housekeeping_and_given_up_after_a_day(app, world) -> None:
    with app.app_context():
        with unit_of_work(db.session) as s:
            lost = photos.accept_upload(
                s, user=s.get(User, world.ids["user:cadre"]), scope=user_scope(world, "cadre"), data=corpus.tiny_jpeg()
            )
            lost_id = lost.id
            # As if the worker died: the job ran never; only the row and the original exist.
            s.execute(delete(OutboxJob))
            discard_pending(s)
        db.session.remove()
    assert load_photo(app, lost_id).status == PhotoStatus.processing

    def housekeeping() -> dict:
        with app.app_context():
            with unit_of_work(db.session) as s:
                done = TASKS[photos.HOUSEKEEPING_TASK](s)
            db.session.remove()
        return done

    load_all_tasks()
    with time_machine.travel(now_utc() + timedelta(minutes=10)):
        assert housekeeping()["requeued"] == 0, "a slow job is not a lost job"
    with time_machine.travel(now_utc() + timedelta(minutes=20)):
        assert housekeeping()["requeued"] == 1
    assert load_photo(app, lost_id).status == PhotoStatus.ready


def test_a_photo_stuck_for_a_day_is_marked_failed_not_retried_forever(app, world) -> None:
    with app.app_context():
        photo = Photo(
            id="e" * 32,
            uploader_id=world.ids["user:cadre"],
            format="jpeg",
            byte_size=1,
            width=1,
            height=1,
            sha256="0" * 64,
            received_at=now_utc() - timedelta(hours=25),
            owner_type="visit",
            owner_id=1,
        )
        db.session.add(photo)
        db.session.commit()
        assert photos.requeue_stuck(db.session) == (0, 1)
        db.session.commit()
        db.session.remove()
    stuck = load_photo(app, "e" * 32)
    assert (stuck.status, stuck.error_code) == (PhotoStatus.failed, "processing_timeout")


def test_photo_gps_is_encrypted_at_rest_and_never_in_the_api(app, api, world) -> None:
    photo_id = uploaded(api, "cadre", corpus.phone_jpeg(1, gps=(33.1525, 107.3301)))

    with app.app_context():
        raw = db.session.execute(text("SELECT gps_lat, gps_lng FROM photo WHERE id = :id"), {"id": photo_id}).one()
        db.session.remove()
    assert all(value is not None and b"33.15" not in bytes(value) and b"107.33" not in bytes(value) for value in raw)
    assert load_photo(app, photo_id).gps == pytest.approx((33.1525, 107.3301), abs=1e-4)
    body = api("cadre").get(f"/uploads/{photo_id}").get_data(as_text=True)
    assert "33.15" not in body and "107.33" not in body
