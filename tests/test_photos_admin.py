"""Photos in the admin UI: flagged duplicates for the admins of their villages, with thumbnails that
open the display copy; the county's 温馨照片 label switch; the CLI purge."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import time_machine
from PIL import Image
from sqlalchemy import select

from backend.db import db
from backend.photos.models import Photo, PhotoSettings
from backend.timeutil import now_utc
from tests import photo_corpus as corpus
from tests.admin_helpers import html, post_form
from tests.test_photos import attach, served, uploaded
from tests.xlsx import read_xlsx

THUMB_LINK = re.compile(r'<a class="photo" href="(/media/photos/[^"]+)"[^>]*><img src="(/media/photos/[^"]+)"')


def flag_a_reused_photo(app, api, world) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    data = corpus.phone_jpeg(1)
    first, second = uploaded(api, "cadre", data), uploaded(api, "cadre", data)
    attach(app, world, "cadre", [first], "daily_record", 1)
    attach(app, world, "cadre", [second], "visit", 2)
    return first, second


def test_town_admin_sees_the_reused_photo_next_to_the_first_with_working_thumbnails(app, api, world, admin) -> None:
    flag_a_reused_photo(app, api, world)
    browser = admin("town_admin")

    page = html(browser.get("/admin/photos"))

    assert "重复照片" in page and "入户走访" in page and "赵*一" in page
    assert "33.15, 107.33" in page, "GPS rounded to ~1 km"
    assert "33.1525" not in page
    links = THUMB_LINK.findall(page)
    assert len(links) == 2
    display, thumb = links[0]
    assert Image.open(io.BytesIO(browser.get(thumb).data)).size == (240, 320)
    assert Image.open(io.BytesIO(browser.get(display).data)).size == (300, 400)


def test_admins_of_other_villages_see_no_flagged_photo(app, api, world, admin) -> None:
    flag_a_reused_photo(app, api, world)

    for outsider in ("town_admin_other", "county_admin_other", "reviewer_other"):
        page = html(admin(outsider).get("/admin/photos"))
        assert "没有被标记的照片" in page, outsider
        assert "/media/photos/" not in page


def test_flagged_photos_export_to_excel(app, api, world, admin) -> None:
    first, second = flag_a_reused_photo(app, api, world)

    rows = read_xlsx(admin("county_admin").get("/admin/photos?format=xlsx"))

    assert rows[0][:4] == ["照片编号", "标记", "重复于", "上传人"]
    assert [row[:3] for row in rows[1:]] == [[second, "重复照片", first]]


def test_county_admin_turns_the_label_on_and_new_display_copies_carry_it(app, api, world, admin) -> None:
    browser = admin("county_admin")
    assert "开启水印" in html(browser.get("/admin/photos"))
    assert "开启水印" not in html(admin("town_admin").get("/admin/photos"))
    plain = uploaded(api, "cadre", corpus.encode(Image.new("RGB", (1280, 960), (250, 250, 250)), "JPEG"))

    response = post_form(browser, "/admin/photos/settings", {"label_enabled": "1"}, token_from="/admin/photos")

    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(PhotoSettings, world.ids["C1"]).label_enabled
        db.session.remove()
    labelled = uploaded(
        api, "cadre", corpus.encode(Image.new("RGB", (1280, 960), (250, 250, 250)), "JPEG"), event="入户走访"
    )
    band = (0, 920, 1280, 960)
    before = Image.open(io.BytesIO(served(app, plain, "display"))).convert("L").crop(band)
    after = Image.open(io.BytesIO(served(app, labelled, "display"))).convert("L").crop(band)
    assert min(before.getextrema()) > 240
    assert min(after.getextrema()) < 150, "a dark band with text along the bottom"
    thumb = Image.open(io.BytesIO(served(app, labelled, "thumb"))).convert("L")
    assert min(thumb.getextrema()) > 240, "the thumbnail stays clean"


def test_town_admin_cannot_change_the_county_label(admin, world) -> None:
    response = post_form(
        admin("town_admin"), "/admin/photos/settings", {"label_enabled": "1"}, token_from="/admin/photos"
    )
    assert response.status_code == 403


def test_hourly_housekeeping_deletes_only_old_unclaimed_uploads(app, api, world) -> None:
    keep = uploaded(api, "cadre", corpus.tiny_jpeg())
    with time_machine.travel(now_utc() - timedelta(hours=30)):
        old = uploaded(api, "cadre", corpus.scene_jpeg(4))

    result = app.test_cli_runner().invoke(args=["schedule"])

    assert result.exit_code == 0, result.output
    assert "enqueued photo-housekeeping-" in result.output
    with app.app_context():
        remaining = set(db.session.scalars(select(Photo.id)))
        db.session.remove()
    assert keep in remaining and old not in remaining
