"""Photo evidence on claims: items that require evidence need 1–3 photos from the villager; the panel sees them."""

from __future__ import annotations

import io

from tests.factories_points import TODAY
from tests.photo_corpus import tiny_jpeg


def uploaded(api, user: str) -> str:  # type: ignore[no-untyped-def]
    response = api(user).post(
        "/uploads",
        data={"file": (io.BytesIO(tiny_jpeg()), "IMG_1.jpg", "image/jpeg")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.json
    return response.json["id"]


def declare(api, world, photo_ids: list[str], user: str = "villager"):  # type: ignore[no-untyped-def]
    body = {"rule_item_id": world.ids["item:P01"], "occurred_on": TODAY.isoformat(), "photo_ids": photo_ids}
    return api(user).post("/claims", json=body)


def test_an_evidence_item_without_a_photo_is_refused(api, world) -> None:
    response = declare(api, world, [])
    assert (response.status_code, response.json["code"]) == (422, "photo_required")
    assert "photo_ids" in response.json["errors"]


def test_more_than_three_photos_are_refused(api, world) -> None:
    response = declare(api, world, [uploaded(api, "villager") for _ in range(4)])
    assert response.status_code == 422
    assert "photo_ids" in response.json["errors"]


def test_a_claim_with_photos_carries_signed_urls_for_the_villager_and_the_panel(api, world) -> None:
    photo_ids = [uploaded(api, "villager"), uploaded(api, "villager")]
    response = declare(api, world, photo_ids)
    assert response.status_code == 201, response.json
    assert [p["id"] for p in response.json["photos"]] == photo_ids
    assert all(p["thumb_url"] and p["display_url"] for p in response.json["photos"])

    queue = api("reviewer").get("/review/claims").json["items"]
    mine = next(c for c in queue if c["id"] == response.json["id"])
    assert [p["id"] for p in mine["photos"]] == photo_ids
    thumb = api("reviewer").client.get(mine["photos"][0]["thumb_url"])
    assert (thumb.status_code, thumb.mimetype) == (200, "image/jpeg")
    approved = api("reviewer").post(f"/review/claims/{response.json['id']}/approve").json
    assert len(approved["photos"]) == 2


def test_someone_elses_photo_cannot_be_used_as_evidence(api, world) -> None:
    response = declare(api, world, [uploaded(api, "villager_neighbour")])
    assert (response.status_code, response.json["code"]) == (422, "photo_not_found")


def test_a_cadre_may_record_without_photos(api, world) -> None:
    body = {"rule_item_id": world.ids["item:P01"], "occurred_on": TODAY.isoformat(), "household_id": world.ids["H1"]}
    response = api("cadre").post("/claims", json=body)
    assert response.status_code == 201, response.json
    assert response.json["photos"] == []
