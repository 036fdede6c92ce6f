"""Photo uploads end to end: acceptance, the copies the job makes, claiming, duplicates, signed
serving and the 24-hour purge. Without REDIS_URL jobs run in-process right after the commit."""

from __future__ import annotations

import io

import pytest
from flask import Flask
from PIL import Image

from backend.auth.models import User
from backend.auth.scope import scope_for
from backend.db import db, unit_of_work
from backend.errors import PhotoAlreadyUsed, PhotoNotFound, PhotoRequired, PhotoUnusable, TooManyPhotos
from backend.records import photos
from backend.records.photo_models import Photo, PhotoStatus
from backend.records.storage import photo_storage
from tests import photo_corpus as corpus
from tests.factories import World


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
    import hashlib

    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert (body["width"], body["height"]) == (300, 400)
    assert body["taken_at"].startswith("2026-11-20T01:30:00")
    assert body["status"] == "processing"
    photo = load_photo(app, body["id"])
    assert photo.status == PhotoStatus.ready
    assert photo.gps == pytest.approx((33.1525, 107.3301), abs=1e-4)
    assert photo.village_id == world.ids["V1"]


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
