"""Photos as evidence of cadre work: claimed by records, visits and problem closures through the media
pipeline, shown with signed URLs to those in scope, and the same picture used twice is flagged."""

from __future__ import annotations

import re

from backend.timeutil import today_local
from tests import photo_corpus as corpus
from tests.admin_helpers import html
from tests.test_photos import uploaded

TODAY = today_local().isoformat()


def record(api, photo_ids: list[str], content: str = "入户宣传医保政策"):  # type: ignore[no-untyped-def]
    return api("cadre").post(
        "/daily-records",
        {"date": TODAY, "category": "policy", "content": content, "place": "二组", "photo_ids": photo_ids},
    )


def test_record_with_photos_answers_with_signed_thumbnail_and_display_urls(client, api, world) -> None:
    photo_id = uploaded(api, "cadre", corpus.scene_jpeg(1))
    created = record(api, [photo_id])
    assert created.status_code == 201, created.json
    [photo] = created.json["photos"]
    assert photo["id"] == photo_id and photo["flag"] is None
    assert client.get(photo["thumb_url"]).status_code == 200
    assert client.get(photo["display_url"]).mimetype == "image/jpeg"
    [listed] = [r for r in api("town_admin").get("/daily-records").json["items"] if r["id"] == created.json["id"]]
    assert listed["photos"][0]["id"] == photo_id  # the town admin sees the evidence too


def test_the_same_picture_in_two_records_is_flagged_as_duplicate(admin, api, world) -> None:
    picture = corpus.scene_jpeg(7)
    first = record(api, [uploaded(api, "cadre", picture)], "走访五保户")
    second = record(api, [uploaded(api, "cadre", picture)], "又一次走访五保户")
    assert first.json["photos"][0]["flag"] is None
    assert second.json["photos"][0]["flag"] == "duplicate"
    timeline = html(admin("town_admin").get(f"/admin/cadres/{world.ids['cadre']}/work"))
    assert timeline.count("重复照片") == 1
    assert len(re.findall(r'<a class="photo" href="[^"]+"', timeline)) == 2  # thumbnails open the display copy


def test_a_photo_cannot_serve_as_evidence_twice(api, world) -> None:
    photo_id = uploaded(api, "cadre", corpus.scene_jpeg(3))
    assert record(api, [photo_id]).status_code == 201
    again = api("cadre").post(
        "/visits", {"household_id": world.ids["H1"], "purpose": "走访", "findings": "好", "photo_ids": [photo_id]}
    )
    assert again.status_code == 409 and again.json["code"] == "photo_already_used"


def test_problem_closed_with_a_photo_shows_it_in_the_ledger(admin, api, world) -> None:
    photo_id = uploaded(api, "cadre", corpus.scene_jpeg(11))
    closed = api("cadre").post(
        f"/problems/{world.ids['problem']}/close", {"evidence": "屋顶已修好", "photo_ids": [photo_id]}
    )
    assert closed.status_code == 200, closed.json
    assert closed.json["photos"][0]["id"] == photo_id
    page = html(admin("reviewer").get("/admin/problems?status=closed"))
    assert "屋顶已修好" in page and 'class="photo"' in page


def test_visit_photos_are_not_shown_to_another_county(api, world) -> None:
    photo_id = uploaded(api, "cadre", corpus.scene_jpeg(5))
    visit = api("cadre").post(
        "/visits", {"household_id": world.ids["H1"], "purpose": "走访", "findings": "好", "photo_ids": [photo_id]}
    )
    assert visit.json["photos"][0]["id"] == photo_id
    assert api("county_admin_other").get("/visits").json["items"] == []
    [mine] = [v for v in api("county_admin").get("/visits").json["items"] if v["id"] == visit.json["id"]]
    assert mine["photos"][0]["thumb_url"]
