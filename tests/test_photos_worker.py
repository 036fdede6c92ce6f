"""A real RQ worker process (not in-process) turns an accepted upload into served copies."""

from __future__ import annotations

import io

import pytest
from flask import Flask
from PIL import Image

from backend.db import db
from backend.photos import service as photos
from backend.photos.models import Photo, PhotoStatus
from tests import photo_corpus as corpus
from tests.factories import World
from tests.test_jobs import queue_name, redis_app  # noqa: F401  (fixtures)
from tests.test_photos import user_scope
from tests.worker_process import BurstWorker


def photo_status(app: Flask, photo_id: str) -> PhotoStatus:
    with app.app_context():
        status = db.session.get(Photo, photo_id).status
        db.session.remove()
    return status


@pytest.mark.redis
def test_worker_process_makes_the_copies_of_a_queued_upload_end_to_end(
    redis_app: Flask,  # noqa: F811  (the fixture imported above)
    queue_name: str,  # noqa: F811
    world: World,
    burst_worker: BurstWorker,
) -> None:
    phone = redis_app.test_client()
    response = phone.post(
        "/api/mp/v1/uploads",
        data={"file": (io.BytesIO(corpus.phone_jpeg(6, width=600, height=800)), "IMG_1.jpg")},
        content_type="multipart/form-data",
        headers={"Authorization": f"Bearer {world.tokens['cadre']}"},
    )
    assert response.status_code == 201, response.json
    photo_id = response.json["id"]
    queue = redis_app.extensions["xz_jobs"].queue
    assert queue.job_ids == [f"photo-{photo_id}"]
    assert photo_status(redis_app, photo_id) == PhotoStatus.processing, "the web process must not do the work"

    done = burst_worker.run(redis_app, queue_name)

    assert done.returncode == 0, done.stderr[-3000:]
    assert photo_status(redis_app, photo_id) == PhotoStatus.ready
    assert queue.count == 0
    with redis_app.test_request_context():
        urls = photos.photo_urls(db.session.get(Photo, photo_id), user_scope(world, "town_admin"))
        db.session.remove()
    served = phone.get(urls["thumb_url"])
    assert served.status_code == 200
    thumb = Image.open(io.BytesIO(served.data))
    assert thumb.size == (240, 320)
    assert dict(thumb.getexif()) == {}
