"""Cadre work captured offline on the phone and sent later: the capture time counts for the business day, the
server keeps its own receipt time too and the admin pages show both; a resent item gets the first answer and
creates nothing; check-ins carry photos, which a county may require."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

import pytest
import time_machine
from sqlalchemy import func, select

from backend.db import db
from backend.months import Month
from backend.photos.models import Photo
from backend.records.checkins import attendance_of
from backend.records.models import CadreWorkSettings, Checkin, DailyRecord, Problem, Visit
from backend.records.problems import closure
from tests import photo_corpus as corpus
from tests import test_records_api
from tests.admin_helpers import html, post_form
from tests.factories import World
from tests.test_photos import uploaded
from tests.test_records_api import north_of_centre, shanghai
from tests.xlsx import read_xlsx

long_posted = test_records_api.long_posted  # the fixture: postings and pairings since 2024

MONDAY_0855 = "2025-03-10T08:55:00+08:00"


def checkin_body(metres: float = 100, **extra: object) -> dict:
    lat, lng = north_of_centre(metres)
    return {"lat": lat, "lng": lng, "accuracy": 10, **extra}


def visit_body(world: World, **extra: object) -> dict:
    return {"household_id": world.ids["H1"], "purpose": "走访", "findings": "屋顶漏雨", **extra}


def record_body(day: str = "2025-03-10", **extra: object) -> dict:
    return {"date": day, "category": "meeting", "content": "召开院坝会", "place": "二组", **extra}


# --- the capture time counts ------------------------------------------------------------------


def test_a_check_in_captured_on_monday_and_sent_on_tuesday_counts_for_mondays_attendance(app, api, long_posted) -> None:
    with time_machine.travel(shanghai("2025-03-11 07:10"), tick=False):
        sent = api("cadre").post("/checkins", checkin_body(captured_at=MONDAY_0855))
        assert sent.status_code == 201, sent.json
        month = api("cadre").get("/attendance?month=2025-03").json
    assert sent.json["date"] == "2025-03-10" and sent.json["in_fence"] is True
    assert sent.json["captured_at"].startswith("2025-03-10T00:55:00")  # UTC
    assert sent.json["at"].startswith("2025-03-10T23:10:00"), "the server's receipt is kept too"
    days = {d["date"]: d["status"] for d in month["days"]}
    assert days["2025-03-10"] == "on_post" and days["2025-03-11"] == "absent"
    with app.app_context():
        [counted] = attendance_of(db.session, [(long_posted.ids["cadre"], long_posted.ids["C1"])], Month(2025, 3))
        assert counted.days_on_post == 1, "the ratings input counts the same day"


def test_an_offline_check_in_is_in_or_out_of_the_fence_by_the_position_captured_with_it(api, long_posted) -> None:
    with time_machine.travel(shanghai("2025-03-11 07:10"), tick=False):
        far = api("cadre").post("/checkins", checkin_body(5000, captured_at=MONDAY_0855))
    assert far.status_code == 201 and far.json["in_fence"] is False and far.json["date"] == "2025-03-10"


def test_a_visit_made_offline_on_the_last_evening_of_january_counts_for_january(api, long_posted) -> None:
    world = long_posted
    with time_machine.travel(shanghai("2025-02-01 09:00"), tick=False):
        sent = api("cadre").post("/visits", visit_body(world, captured_at="2025-01-31T20:30:00+08:00"))
        assert sent.status_code == 201, sent.json
        january = api("cadre").get("/visits/coverage?month=2025-01").json["items"]
        february = api("cadre").get("/visits/coverage?month=2025-02").json["items"]
    assert sent.json["date"] == "2025-01-31" and sent.json["captured_at"].startswith("2025-01-31T12:30:00")
    assert [(r["visits"], r["last_visit_on"]) for r in january] == [(1, "2025-01-31")]
    assert [r["visits"] for r in february] == [0]


def test_a_daily_record_written_offline_is_checked_against_the_day_it_was_written(api, long_posted) -> None:
    with time_machine.travel(shanghai("2025-03-18 07:00"), tick=False):
        # Written on the 11th about the 4th (a week back), sent a week later: on time.
        late = api("cadre").post("/daily-records", record_body("2025-03-04", captured_at="2025-03-11T21:00:00+08:00"))
        assert late.status_code == 201, late.json
        assert late.json["captured_at"].startswith("2025-03-11T13:00:00")
        assert late.json["editable"] is False, "its day of same-day edits was the 11th"
        # Written on the 11th about the 12th: a record cannot tell of a day not yet come.
        ahead = api("cadre").post("/daily-records", record_body("2025-03-12", captured_at="2025-03-11T21:00:00+08:00"))
    assert ahead.status_code == 422 and "date" in ahead.json["errors"]


def test_problems_raised_offline_run_their_deadline_from_the_day_of_the_visit(api, long_posted) -> None:
    world = long_posted
    with time_machine.travel(shanghai("2025-05-08 08:00"), tick=False):
        sent = api("cadre").post(
            "/visits",
            visit_body(
                world,
                captured_at="2025-05-06T10:00:00+08:00",
                problems=[{"description": "屋顶漏雨"}, {"description": "水管破裂", "deadline": "2025-05-07"}],
            ),
        )
    assert sent.status_code == 201, sent.json
    roof, pipe = sent.json["problems"]
    assert roof["deadline"] == "2025-05-21", "15 days from the 6th, not from the day it arrived"
    assert pipe["deadline"] == "2025-05-07", "a deadline already past on arrival but not when it was raised"
    assert roof["raised_captured_at"].startswith("2025-05-06T02:00:00")


def test_a_problem_closed_offline_on_its_deadline_is_closed_on_time(app, api, database, long_posted) -> None:
    world = long_posted
    problem_id = world.ids["problem"]
    with database() as s:
        s.get(Problem, problem_id).deadline = date(2025, 5, 10)
    with time_machine.travel(shanghai("2025-05-11 08:00"), tick=False):
        started = api("cadre").post(f"/problems/{problem_id}/start", {"captured_at": "2025-05-09T09:00:00+08:00"})
        closed = api("cadre").post(
            f"/problems/{problem_id}/close", {"evidence": "已修好屋顶", "captured_at": "2025-05-10T18:00:00+08:00"}
        )
        overdue = api("town_admin").get("/problems?overdue=true").json["items"]
    assert started.status_code == 200 and started.json["started_captured_at"].startswith("2025-05-09T01:00:00")
    assert closed.status_code == 200, closed.json
    assert closed.json["overdue"] is False and overdue == []
    assert closed.json["closed_captured_at"].startswith("2025-05-10T10:00:00")
    assert closed.json["closed_at"].startswith("2025-05-11T00:00:00")
    with app.app_context():
        found = closure(db.session, [world.ids["V1"]], date(2025, 5, 1), date(2025, 5, 31))[world.ids["V1"]]
    assert found.on_time == [problem_id], "the ratings input counts it on time too"


def test_work_sent_without_a_capture_time_is_done_when_received(api, long_posted) -> None:
    with time_machine.travel(shanghai("2025-03-10 23:59"), tick=False):
        sent = api("cadre").post("/checkins", checkin_body())
    assert sent.json["captured_at"] is None and sent.json["date"] == "2025-03-10"


# --- what is refused --------------------------------------------------------------------------


def test_a_capture_time_in_the_future_is_refused_with_a_chinese_message_naming_the_field(api, long_posted) -> None:
    with time_machine.travel(shanghai("2025-03-10 08:00"), tick=False):
        ahead = api("cadre").post("/checkins", checkin_body(captured_at="2025-03-10T08:10:00+08:00"))
        slightly = api("cadre").post("/visits", visit_body(long_posted, captured_at="2025-03-10T08:03:00+08:00"))
    assert ahead.status_code == 422 and ahead.json["code"] == "invalid_request"
    assert ahead.json["message"] == "采集时间晚于当前时间"
    assert "手机的日期和时间" in ahead.json["errors"]["captured_at"][0]
    assert slightly.status_code == 201, "a phone clock a few minutes fast is tolerated"
    assert slightly.json["date"] == "2025-03-10" and slightly.json["captured_at"].startswith("2025-03-10T00:03:00")


def test_a_capture_older_than_the_configured_window_is_refused(app, api, long_posted, monkeypatch) -> None:
    with time_machine.travel(shanghai("2025-03-18 09:00"), tick=False):
        old = api("cadre").post("/checkins", checkin_body(captured_at="2025-03-10T08:55:00+08:00"))
        week = api("cadre").post("/checkins", checkin_body(captured_at="2025-03-11T09:00:00+08:00"))
        monkeypatch.setitem(app.config, "CAPTURE_MAX_AGE_DAYS", 2)
        shorter = api("cadre").post("/checkins", checkin_body(captured_at="2025-03-15T09:00:00+08:00"))
    assert old.status_code == 422 and set(old.json["errors"]) == {"captured_at"}
    [message] = old.json["errors"]["captured_at"]
    assert "7 天内上传" in message and "采集于 2025-03-10 08:55" in message
    assert week.status_code == 201, "seven days to the minute is still in time"
    assert shorter.status_code == 422 and "2 天内上传" in shorter.json["errors"]["captured_at"][0]


def test_a_capture_time_without_its_offset_is_refused_in_chinese(api, world) -> None:
    response = api("cadre").post("/checkins", checkin_body(captured_at="2025-03-10T08:55:00"))
    assert response.status_code == 422 and response.json["errors"]["captured_at"] == ["时间须带时区"]


# --- sent twice: the first answer, nothing created --------------------------------------------

KINDS: dict[str, Callable[[World], tuple[str, dict]]] = {
    "checkin": lambda w: ("/checkins", checkin_body(captured_at=MONDAY_0855)),
    "daily_record": lambda w: ("/daily-records", record_body(captured_at=MONDAY_0855)),
    "visit": lambda w: ("/visits", visit_body(w, captured_at=MONDAY_0855, problems=[{"description": "屋顶漏雨"}])),
    "problem_start": lambda w: (f"/problems/{w.ids['problem']}/start", {"captured_at": MONDAY_0855}),
    "problem_close": lambda w: (
        f"/problems/{w.ids['problem']}/close",
        {"evidence": "已修好", "captured_at": MONDAY_0855},
    ),
}


def _work(app) -> tuple:  # type: ignore[no-untyped-def]
    """Every row of cadre work and every problem step: what a replay must leave unchanged."""
    with app.app_context():
        counts = tuple(db.session.scalar(select(func.count()).select_from(t)) for t in (Checkin, DailyRecord, Visit))
        steps = db.session.execute(
            select(Problem.id, Problem.status, Problem.started_at, Problem.closed_at).order_by(Problem.id)
        ).all()
        db.session.remove()
    return counts, steps


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_an_offline_item_sent_again_gets_the_first_answer_and_creates_nothing(app, api, long_posted, kind) -> None:
    path, body = KINDS[kind](long_posted)
    key = {"Idempotency-Key": f"2f0c7a4e-outbox-{kind}"}
    with time_machine.travel(shanghai("2025-03-11 07:10"), tick=False):
        first = api("cadre").post(path, body, headers=key)
        assert first.status_code in (200, 201), first.json
        after_first = _work(app)
    with time_machine.travel(shanghai("2025-03-11 07:12"), tick=False):
        again = api("cadre").post(path, body, headers=key)
    with time_machine.travel(shanghai("2025-03-25 07:10"), tick=False):  # long past the capture window
        much_later = api("cadre").post(path, body, headers=key)
        changed = api("cadre").post(path, {**body, "captured_at": "2025-03-24T08:55:00+08:00"}, headers=key)
    for replay in (again, much_later):
        assert replay.status_code == first.status_code and replay.json == first.json
        assert replay.headers["Idempotent-Replayed"] == "true"
    assert _work(app) == after_first
    assert changed.status_code == 409 and changed.json["code"] == "idempotency_mismatch"


# --- check-in photos --------------------------------------------------------------------------


def test_a_check_in_carries_up_to_three_photos_that_villagers_never_see(app, api, world) -> None:
    photo_id = uploaded(api, "cadre", corpus.scene_jpeg(21))
    sent = api("cadre").post("/checkins", checkin_body(photo_ids=[photo_id]))
    assert sent.status_code == 201, sent.json
    [photo] = sent.json["photos"]
    assert photo["id"] == photo_id and photo["thumb_url"]
    with app.app_context():
        claimed = db.session.get(Photo, photo_id)
        assert (claimed.owner_type, claimed.owner_id) == ("checkin", sent.json["id"])
        assert claimed.household_id is None
    assert api("villager").get(f"/uploads/{photo_id}").status_code == 403
    assert api("town_admin").get(f"/uploads/{photo_id}").status_code == 200
    four = api("cadre").post("/checkins", checkin_body(photo_ids=["a", "b", "c", "d"]))
    assert four.status_code == 422 and four.json["errors"]["photo_ids"] == ["最多 3 项"]


def test_a_county_that_requires_a_check_in_photo_refuses_a_check_in_without_one(api, database, world) -> None:
    with database() as s:
        s.add(CadreWorkSettings(county_id=world.ids["C1"], checkin_photo_required=True))
    bare = api("cadre").post("/checkins", checkin_body())
    assert bare.status_code == 422 and bare.json["code"] == "photo_required"
    assert bare.json["message"] == "请至少上传 1 张照片" and "photo_ids" in bare.json["errors"]
    with_photo = api("cadre").post("/checkins", checkin_body(photo_ids=[uploaded(api, "cadre", corpus.scene_jpeg(22))]))
    assert with_photo.status_code == 201, with_photo.json


def test_county_admin_requires_check_in_photos_in_the_work_settings(admin, api, world) -> None:
    county = admin("county_admin")
    page = html(county.get("/admin/cadre-settings"))
    assert 'name="checkin_photo_required" value="1">' in page, "not required by default"
    saved = post_form(
        county,
        "/admin/cadre-settings",
        {
            "required_days": 20,
            "visit_rule": "ziyang",
            "accuracy_cap_m": 100,
            "problem_deadline_days": 15,
            "checkin_photo_required": "1",
        },
    )
    assert saved.status_code == 302
    assert 'name="checkin_photo_required" value="1" checked>' in html(county.get("/admin/cadre-settings"))
    assert api("cadre").post("/checkins", checkin_body()).json["code"] == "photo_required"


# --- the admin sees both times ----------------------------------------------------------------


@pytest.fixture
def sent_late(api, long_posted):  # type: ignore[no-untyped-def]
    """Monday 08:55 work (a check-in with a photo, a record, a visit raising a problem) sent on Tuesday at 07:10,
    and a check-in sent as it was made on Wednesday."""
    world = long_posted
    photo_id = uploaded(api, "cadre", corpus.scene_jpeg(23))
    with time_machine.travel(shanghai("2025-03-11 07:10"), tick=False):
        cadre = api("cadre")
        assert cadre.post("/checkins", checkin_body(captured_at=MONDAY_0855, photo_ids=[photo_id])).status_code == 201
        assert cadre.post("/daily-records", record_body(captured_at=MONDAY_0855)).status_code == 201
        visit = cadre.post("/visits", visit_body(world, captured_at=MONDAY_0855, problems=[{"description": "修路"}]))
        assert visit.status_code == 201
    with time_machine.travel(shanghai("2025-03-12 09:30"), tick=False):
        assert api("cadre").post("/checkins", checkin_body()).status_code == 201
    return world


LATE = "采集 08:55（上传 次日 07:10）"


def test_the_cadres_month_shows_capture_and_upload_times_and_the_check_in_photo(admin, sent_late) -> None:
    client = admin("town_admin")
    page = html(client.get(f"/admin/cadres/{sent_late.ids['cadre']}/work?month=2025-03"))
    assert "打卡记录（2 次）" in page and "在岗 2 天" in page
    assert page.count(LATE) == 3, "the check-in, the record and the visit"
    assert ">09:30<" in page, "sent as it was made: one time"
    assert page.count('<a class="photo"') == 1
    rows = read_xlsx(client.get(f"/admin/cadres/{sent_late.ids['cadre']}/work?month=2025-03&format=xlsx"))
    # Excel cells hold Beijing wall time.
    assert rows[0][:4] == ["干部（脱敏）", "日期", "采集时间", "上传时间"]
    assert [r[1:4] for r in rows[1:]] == [
        [datetime(2025, 3, 10), datetime(2025, 3, 10, 8, 55), datetime(2025, 3, 11, 7, 10)],
        [datetime(2025, 3, 12), datetime(2025, 3, 12, 9, 30), datetime(2025, 3, 12, 9, 30)],
    ]
    assert rows[1][-1] == 1 and rows[2][-1] == 0, "photos"


def test_record_visit_and_problem_ledgers_show_both_times_and_export_them(admin, sent_late) -> None:
    client = admin("town_admin")
    assert LATE in html(client.get("/admin/daily-records?month=2025-03"))
    assert LATE in html(client.get("/admin/visits?month=2025-03"))
    assert f"2025-03-10 {LATE}" in html(client.get("/admin/problems"))
    records = read_xlsx(client.get("/admin/daily-records?month=2025-03&format=xlsx"))
    visits = read_xlsx(client.get("/admin/visits?month=2025-03&format=xlsx"))
    for rows in (records, visits):
        assert rows[0][-2:] == ["采集时间", "上传时间"]
        assert rows[1][0] == datetime(2025, 3, 10)
        assert rows[1][-2:] == [datetime(2025, 3, 10, 8, 55), datetime(2025, 3, 11, 7, 10)]
    problems = read_xlsx(client.get("/admin/problems?format=xlsx"))
    assert problems[0][-4:] == ["提出采集时间", "提出上传时间", "销号采集时间", "销号上传时间"]
    [raised] = [r for r in problems[1:] if r[3] == "修路"]
    assert raised[6] == datetime(2025, 3, 10), "raised on the day of the visit"
    assert raised[12:14] == [datetime(2025, 3, 10, 8, 55), datetime(2025, 3, 11, 7, 10)]
    assert not any(raised[14:]), "not closed: no closing times (trailing empty cells are not stored)"
