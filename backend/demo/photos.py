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
from backend.photos.models import Photo
from backend.photos.service import accept_upload, set_label_enabled

# Colours of a mountain village in a 4:3 frame: sky, hills, fields, houses, trees.
_SKY = ((150, 190, 230), (175, 205, 235), (205, 215, 225))
_HILLS = ((70, 110, 70), (90, 125, 80), (60, 95, 75))
_FIELDS = ((160, 170, 90), (120, 150, 70), (185, 160, 100))
_WALLS = ((235, 230, 220), (210, 200, 185), (245, 245, 240))
_ROOFS = ((120, 60, 50), (70, 70, 80), (150, 80, 60))
_TREES = ((40, 90, 50), (60, 110, 60), (30, 70, 40))


def seed_photo_label(session: Session, county: County) -> None:
    """The demo county labels its photos with time · place · event."""
    set_label_enabled(session, county.id, True)


def demo_photo(session: Session, rng: random.Random, *, user: User, scope: Scope, event: str | None = None) -> Photo:
    """A small synthetic village scene drawn from `rng`, accepted like a phone upload (processed by the job)."""
    image = Image.new("RGB", (800, 600), rng.choice(_SKY))
    draw = ImageDraw.Draw(image)
    # Varied enough that the perceptual hash tells demo photos apart: only deliberate re-use is flagged.
    for top, colour in ((rng.randrange(60, 260), rng.choice(_HILLS)), (rng.randrange(200, 360), rng.choice(_HILLS))):
        ridge = [(x, top + rng.randrange(-60, 60)) for x in range(0, 801, rng.choice((50, 80, 100, 160)))]
        draw.polygon([(0, 600), *ridge, (800, 600)], fill=tuple(max(0, c - rng.randrange(0, 30)) for c in colour))
    left, right = rng.randrange(330, 480), rng.randrange(330, 480)
    draw.polygon([(0, left), (800, right), (800, 600), (0, 600)], fill=rng.choice(_FIELDS))
    start = rng.randrange(0, 800)
    path = [(start, 600), (start + rng.randrange(60, 160), 600), (rng.randrange(200, 600), max(left, right))]
    draw.polygon(path, fill=(200, 185, 150))
    for _ in range(rng.randrange(1, 5)):
        w, x, y = rng.randrange(60, 200), rng.randrange(-40, 760), rng.randrange(240, 520)
        draw.rectangle((x, y, x + w, y + w * 2 // 3), fill=rng.choice(_WALLS))
        draw.polygon([(x - 10, y), (x + w // 2, y - w // 2), (x + w + 10, y)], fill=rng.choice(_ROOFS))
    for _ in range(rng.randrange(0, 6)):
        r, x, y = rng.randrange(20, 70), rng.randrange(0, 800), rng.randrange(250, 560)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=rng.choice(_TREES))
    buffer = BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return accept_upload(session, user=user, scope=scope, data=buffer.getvalue(), label_event=event, durable=False)
