"""Demo photos: the demo county turns the 温馨照片 label on, and other areas' demo seeders make
deterministic synthetic photos through the real pipeline with `demo_photo` (then attach them)."""

from __future__ import annotations

import random
from io import BytesIO

from PIL import Image, ImageDraw
from sqlalchemy.orm import Session

from backend.auth.models import User
from backend.auth.scope import Scope
from backend.org.models import County
from backend.records.photo_models import Photo
from backend.records.photos import accept_upload, set_label_enabled

# Colours of a mountain village in a 4:3 frame: sky, hills, fields, a house.
_SKY = ((150, 190, 230), (175, 205, 235), (205, 215, 225))
_HILLS = ((70, 110, 70), (90, 125, 80), (60, 95, 75))
_FIELDS = ((160, 170, 90), (120, 150, 70), (185, 160, 100))


def seed_photos_demo(session: Session, county: County) -> None:
    """The demo county labels its photos with time · place · event."""
    set_label_enabled(session, county.id, True)


def demo_photo(session: Session, rng: random.Random, *, user: User, scope: Scope, event: str | None = None) -> Photo:
    """A small synthetic village scene drawn from `rng`, accepted like a phone upload (processed by the job)."""
    image = Image.new("RGB", (800, 600), rng.choice(_SKY))
    draw = ImageDraw.Draw(image)
    ridge = [(x, rng.randrange(180, 300)) for x in range(0, 801, 100)]
    draw.polygon([(0, 600), *ridge, (800, 600)], fill=rng.choice(_HILLS))
    draw.rectangle((0, rng.randrange(380, 440), 800, 600), fill=rng.choice(_FIELDS))
    x, y = rng.randrange(80, 600), rng.randrange(300, 380)
    draw.rectangle((x, y, x + 120, y + 80), fill=(235, 230, 220))
    draw.polygon([(x - 10, y), (x + 60, y - 50), (x + 130, y)], fill=(120, 60, 50))
    buffer = BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return accept_upload(session, user=user, scope=scope, data=buffer.getvalue(), label_event=event, durable=False)
