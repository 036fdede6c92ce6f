"""Cadre work through the phone API: check-ins against the fence, attendance with leave, daily records
with same-day edits and later amendments, visits and their monthly coverage, the problem ledger."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select, text, update

from backend.auth.models import Role, User
from backend.auth.scope import scope_for
from backend.auth.service import issue_token
from backend.db import db
from backend.errors import Forbidden, LeaveAlreadyDecided, NotInScope
from backend.org.models import County, Pairing, Post, Posting, Village
from backend.records.checkins import decide_leave
from backend.records.common import GUANGYUAN_VISITS, distance_m, in_fence
from backend.records.models import CadreWorkSettings, Checkin, DailyRecord, LeaveRequest, Problem, Visit
from backend.timeutil import today_local
from tests.conftest import ApiClient
from tests.factories import make_cadre
from tests.test_personal_data import _database_dump

V1_CENTRE = (33.15, 107.33)
METRES_PER_DEGREE_LAT = 111_195


def north_of_centre(metres: float) -> tuple[float, float]:
    return V1_CENTRE[0] + metres / METRES_PER_DEGREE_LAT, V1_CENTRE[1]


def shanghai(text_: str) -> datetime:
    """'2025-01-31 23:59' Beijing time as an aware UTC datetime."""
    local = datetime.fromisoformat(text_ + "+08:00")
    return local.astimezone(UTC)


@pytest.fixture
def long_posted(database, world):  # type: ignore[no-untyped-def]
    """Postings and pairings since 2024, so time-machine dates in 2025 fall inside them."""
    with database() as s:
        s.execute(update(Posting).values(start_on=date(2024, 1, 1)))
        s.execute(update(Pairing).values(start_on=date(2024, 1, 1)))
    return world


def check_in(api, metres: float, accuracy: float = 10, user: str = "cadre", **extra):  # type: ignore[no-untyped-def]
    lat, lng = north_of_centre(metres)
    return api(user).post("/checkins", {"lat": lat, "lng": lng, "accuracy": accuracy, **extra})


# --- 到岗 / geofence ------------------------------------------------------------------------------


def test_fence_rule_credits_accuracy_only_up_to_the_cap() -> None:
    assert in_fence(1400, 0, 1500, 100)
    assert in_fence(1580, 80, 1500, 100)  # the fix could be inside the fence
    assert not in_fence(1650, 80, 1500, 100)
    assert not in_fence(1650, 5000, 1500, 100)  # a useless fix is capped at 100 m
    assert abs(distance_m(*north_of_centre(1000), *V1_CENTRE) - 1000) < 1


def test_check_in_inside_outside_and_at_the_edge_with_accuracy(api, world) -> None:
    inside = check_in(api, 200)
    assert inside.status_code == 201, inside.json
    assert inside.json["in_fence"] is True
    assert inside.json["village_id"] == world.ids["V1"]
    # No position echoed back.
    assert set(inside.json) == {"id", "at", "captured_at", "date", "in_fence", "village_id", "photos"}
    assert check_in(api, 3000).json["in_fence"] is False
    assert check_in(api, 1560, accuracy=80).json["in_fence"] is True
    assert check_in(api, 1700, accuracy=5000).json["in_fence"] is False


def test_check_in_time_is_the_servers_and_position_is_encrypted_at_rest(app, api, long_posted) -> None:
    world = long_posted
    with time_machine.travel(shanghai("2025-03-10 08:30"), tick=False):
        response = check_in(api, 100, village_id=world.ids["V1"])
    assert response.json["at"].startswith("2025-03-10T00:30:00")
    lat, _lng = north_of_centre(100)
    with app.app_context():
        raw = db.session.execute(text("SELECT location FROM checkin")).scalar()
        assert f"{lat:.6f}".encode() not in bytes(raw)
        assert db.session.scalar(select(Checkin.local_date)) == date(2025, 3, 10)


def test_cadre_of_another_village_cannot_check_in_for_it(api, world) -> None:
    response = check_in(api, 0, user="cadre_far", village_id=world.ids["V1"])
    assert response.status_code == 403 and response.json["code"] == "not_in_scope"


def test_villager_cannot_check_in(api, world) -> None:
    assert check_in(api, 0, user="villager").json["code"] == "forbidden"


# --- 考勤 with 请假 -----------------------------------------------------------------------------


def test_monthly_attendance_counts_days_on_post_and_takes_approved_leave_off_the_requirement(
    app, api, database, long_posted
) -> None:
    for moment, metres in [
        ("2025-03-03 09:00", 100),
        ("2025-03-03 17:00", 5000),  # same day, second check-in: still one day
        ("2025-03-04 23:30", 100),  # late evening counts for the 4th in Beijing
        ("2025-03-05 09:00", 100),
        ("2025-03-06 09:00", 8000),  # outside the fence: not on post
    ]:
        with time_machine.travel(shanghai(moment), tick=False):
            assert check_in(api, metres).status_code == 201
    with time_machine.travel(shanghai("2025-03-06 10:00"), tick=False):
        asked = api("cadre").post("/leaves", {"start_on": "2025-03-10", "end_on": "2025-03-14", "reason": "父亲住院"})
        assert asked.status_code == 201, asked.json
        rejected = api("cadre").post("/leaves", {"start_on": "2025-03-20", "end_on": "2025-03-21", "reason": "私事"})
        overlapping = api("cadre").post("/leaves", {"start_on": "2025-03-14", "end_on": "2025-03-15", "reason": "再请"})
        assert overlapping.status_code == 409 and overlapping.json["code"] == "leave_overlap"
        with database() as s:
            town_admin = s.get(User, long_posted.ids["user:town_admin"])
            scope = scope_for(s, town_admin)
            decide_leave(s, scope, town_admin, asked.json["id"], approve=True, note="")
            decide_leave(s, scope, town_admin, rejected.json["id"], approve=False, note="事由不充分")
        month = api("cadre").get("/attendance?month=2025-03").json
    assert month["days_on_post"] == 3
    assert month["leave_days"] == 5
    assert month["required_days"] == 15  # default 20 − 5 approved leave days; the rejected two do not count
    days = {d["date"]: d["status"] for d in month["days"]}
    assert days["2025-03-04"] == "on_post" and days["2025-03-06"] == "outside"
    assert days["2025-03-12"] == "leave" and days["2025-03-20"] == "future"
    assert days["2025-03-01"] == "absent"


def test_only_the_town_decides_leave_and_only_once(database, api, world) -> None:
    asked = api("cadre").post(
        "/leaves", {"start_on": today_local().isoformat(), "end_on": today_local().isoformat(), "reason": "体检"}
    )
    with database() as s:
        for name, error in [("county_admin", Forbidden), ("town_admin_other", NotInScope)]:
            user = s.get(User, world.ids[f"user:{name}"])
            with pytest.raises(error):
                decide_leave(s, scope_for(s, user), user, asked.json["id"], approve=True, note="")
        town_admin = s.get(User, world.ids["user:town_admin"])
        decide_leave(s, scope_for(s, town_admin), town_admin, asked.json["id"], approve=True, note="")
        with pytest.raises(LeaveAlreadyDecided):
            decide_leave(s, scope_for(s, town_admin), town_admin, asked.json["id"], approve=False, note="")
        assert s.get(LeaveRequest, asked.json["id"]).status == "approved"


# --- 日纪实: same-day edit vs later amendment ----------------------------------------------------


def test_author_edits_a_record_on_its_day_and_afterwards_only_amends_with_history(app, api, long_posted) -> None:
    body = {"date": "2025-03-10", "category": "mediation", "content": "调解邻里宅基地纠纷", "place": "二组"}
    with time_machine.travel(shanghai("2025-03-10 10:00"), tick=False):
        created = api("cadre").post("/daily-records", {**body, "lat": 33.1501, "lng": 107.3302})
        assert created.status_code == 201, created.json
        assert created.json["category_label"] == "矛盾调解" and created.json["editable"] is True
        assert created.json["has_location"] is True and "lat" not in created.json
        record_id = created.json["id"]
        edited = api("cadre").post(f"/daily-records/{record_id}/edit", {"content": "调解宅基地纠纷，双方签字"})
        assert edited.status_code == 200 and edited.json["content"] == "调解宅基地纠纷，双方签字"
    with time_machine.travel(shanghai("2025-03-11 09:00"), tick=False):
        late = api("cadre").post(f"/daily-records/{record_id}/edit", {"content": "改写"})
        assert late.status_code == 409 and late.json["code"] == "record_locked"
        amended = api("cadre").post(
            f"/daily-records/{record_id}/amendments",
            {"reason": "补记协议编号", "content": "调解宅基地纠纷，协议2025-07"},
        )
        assert amended.status_code == 201
        api("cadre").post(f"/daily-records/{record_id}/amendments", {"reason": "地点写错", "place": "三组"})
        listed = api("cadre").get("/daily-records?month=2025-03").json["items"]
    [record] = [r for r in listed if r["id"] == record_id]
    assert record["content"] == "调解宅基地纠纷，协议2025-07" and record["place"] == "三组"
    assert [a["reason"] for a in record["amendments"]] == ["补记协议编号", "地点写错"]
    assert record["editable"] is False
    with app.app_context():
        original = db.session.get(DailyRecord, record_id)
        assert original.content == "调解宅基地纠纷，双方签字" and original.place == "二组"  # the day's version stays


def test_records_for_the_future_or_long_ago_are_refused(api, world) -> None:
    body = {"category": "meeting", "content": "开会学习", "place": "村委会"}
    assert api("cadre").post("/daily-records", {**body, "date": "2099-01-01"}).status_code == 422
    assert api("cadre").post("/daily-records", {**body, "date": "2001-01-01"}).status_code == 422
    bad = api("cadre").post("/daily-records", {**body, "date": today_local().isoformat(), "category": "走访"})
    assert bad.status_code == 422 and "category" in bad.json["errors"]


# --- scope ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reader", "sees"),
    [
        ("cadre", {"V1"}),
        ("cadre_far", {"V3"}),
        ("reviewer", {"V1"}),
        ("town_admin", {"V1"}),
        ("town_admin_other", {"V3"}),
        ("county_admin", {"V1", "V3"}),
        ("county_admin_other", set()),
    ],
)
def test_records_and_visits_are_seen_only_within_the_readers_villages(api, world, reader, sees) -> None:
    today = today_local().isoformat()
    far = api("cadre_far").post(
        "/daily-records", {"date": today, "category": "policy", "content": "宣讲医保政策", "place": "河口村广场"}
    )
    assert far.status_code == 201
    assert (
        api("cadre_far")
        .post("/visits", {"household_id": world.ids["H4"], "purpose": "回访", "findings": "好"})
        .status_code
        == 201
    )
    expected = {world.ids[v] for v in sees}
    records = api(reader).get("/daily-records").json["items"]
    visits = api(reader).get("/visits").json["items"]
    assert {r["village_id"] for r in records} == expected
    assert {v["village_id"] for v in visits} == expected


def test_villagers_read_no_cadre_records(api, world) -> None:
    for path in ("/daily-records", "/visits", "/problems", "/visits/coverage", "/leaves"):
        response = api("villager").get(path)
        assert response.status_code == 403 and response.json["code"] == "forbidden", path


def test_a_cadre_cannot_record_a_visit_to_a_household_outside_their_villages(api, world) -> None:
    response = api("cadre").post("/visits", {"household_id": world.ids["H4"], "purpose": "走访", "findings": "无"})
    assert response.status_code == 403 and response.json["code"] == "not_in_scope"


# --- idempotency ------------------------------------------------------------------------------


def test_retried_writes_with_one_key_create_one_row_each(app, api, world) -> None:
    cadre = api("cadre")
    key = {"Idempotency-Key": "c6f1c1d6-visit"}
    body = {
        "household_id": world.ids["H1"],
        "purpose": "走访",
        "findings": "屋顶漏雨",
        "problems": [{"description": "屋顶漏雨"}],
    }
    first = cadre.post("/visits", body, headers=key)
    again = cadre.post("/visits", body, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true" and again.json == first.json
    checkin_key = {"Idempotency-Key": "c6f1c1d6-checkin"}
    lat, lng = north_of_centre(10)
    for _ in range(3):
        assert cadre.post("/checkins", {"lat": lat, "lng": lng, "accuracy": 5}, headers=checkin_key).status_code == 201
    changed = cadre.post("/visits", {**body, "findings": "另一件事"}, headers=key)
    assert changed.status_code == 409 and changed.json["code"] == "idempotency_mismatch"
    with app.app_context():
        assert db.session.scalar(select(func.count(Visit.id)).where(Visit.id != world.ids["visit"])) == 1
        assert db.session.scalar(select(func.count(Problem.id)).where(Problem.id != world.ids["problem"])) == 1
        assert db.session.scalar(select(func.count(Checkin.id))) == 1


# --- visit coverage at month boundaries (Asia/Shanghai) -----------------------------------------


def test_visit_coverage_counts_by_the_beijing_month_of_the_visit(api, long_posted) -> None:
    world = long_posted
    visit = {"household_id": world.ids["H1"], "purpose": "走访", "findings": "正常"}
    with time_machine.travel(shanghai("2025-01-31 23:59"), tick=False):  # 15:59 UTC: still January in Beijing
        assert api("cadre").post("/visits", visit).status_code == 201
    with time_machine.travel(shanghai("2025-02-01 00:01"), tick=False):  # 16:01 UTC on Jan 31: February
        assert api("cadre").post("/visits", visit).json["date"] == "2025-02-01"
        january = api("cadre").get("/visits/coverage?month=2025-01").json
        february = api("cadre").get("/visits/coverage").json
    assert february["month"] == "2025-02"
    [jan] = january["items"]
    [feb] = february["items"]
    assert jan["household_id"] == world.ids["H1"] and jan["cadre_name"] == "赵*一"
    assert (jan["visits"], jan["visits_required"], jan["met"]) == (1, 2, False)  # Ziyang default: 2 a month
    assert (feb["visits"], feb["met"], feb["last_visit_on"]) == (1, False, "2025-02-01")


def test_guangyuan_rule_needs_a_contact_each_month_and_a_visit_every_two_months(api, database, long_posted) -> None:
    world = long_posted
    with database() as s:
        s.add(CadreWorkSettings(county_id=world.ids["C1"], **GUANGYUAN_VISITS))
    base = {"household_id": world.ids["H1"], "purpose": "联系", "findings": "正常"}
    with time_machine.travel(shanghai("2025-01-15 10:00"), tick=False):
        api("cadre").post("/visits", base)  # January: a visit (also a contact)
    with time_machine.travel(shanghai("2025-02-10 10:00"), tick=False):
        before = api("cadre").get("/visits/coverage").json["items"][0]
        api("cadre").post("/visits", {**base, "kind": "contact"})
        after = api("cadre").get("/visits/coverage").json["items"][0]
    with time_machine.travel(shanghai("2025-03-05 10:00"), tick=False):
        march = api("cadre").get("/visits/coverage").json["items"][0]
    assert before["period"] == "2025-01~2025-02" and before["period_visits"] == 1
    assert (before["contacts"], before["contacts_required"], before["met"]) == (0, 1, False)
    assert (after["contacts"], after["visits"], after["met"]) == (1, 0, True)
    assert (march["period"], march["period_visits"], march["met"]) == ("2025-03~2025-04", 0, False)


# --- 问题台账 lifecycle ----------------------------------------------------------------------------


def test_problem_goes_open_in_progress_closed_and_overdue_items_are_flagged(api, long_posted) -> None:
    world = long_posted
    with time_machine.travel(shanghai("2025-05-06 10:00"), tick=False):
        visit = (
            api("cadre")
            .post(
                "/visits",
                {
                    "household_id": world.ids["H1"],
                    "purpose": "走访",
                    "findings": "饮水管破裂；孩子上学交通不便",
                    "problems": [{"description": "饮水管破裂", "deadline": "2025-05-10"}, {"description": "上学交通"}],
                },
            )
            .json
        )
        water, school = visit["problems"]
        assert water["status"] == "open" and school["deadline"] == "2025-05-21"  # default 15 days
        started = api("cadre").post(f"/problems/{water['id']}/start")
        assert started.json["status"] == "in_progress"
        assert api("cadre").post(f"/problems/{water['id']}/start").json["code"] == "problem_state_conflict"
    with time_machine.travel(shanghai("2025-05-12 10:00"), tick=False):
        overdue = api("town_admin").get("/problems?overdue=true").json["items"]
        assert [p["id"] for p in overdue] == [water["id"]] and overdue[0]["overdue"] is True
        closed = api("cadre").post(f"/problems/{water['id']}/close", {"evidence": "已更换水管，通水正常"})
        assert closed.status_code == 200
        assert closed.json["status"] == "closed" and closed.json["closing_evidence"] == "已更换水管，通水正常"
        assert closed.json["overdue"] is True  # closed two days late: the ledger keeps saying so
        assert api("town_admin").get("/problems?overdue=true").json["items"] == []
        again = api("cadre").post(f"/problems/{water['id']}/close", {"evidence": "再次销号"})
        assert again.status_code == 409
        mine = api("cadre").get("/problems?mine=true&status=open").json["items"]
        assert school["id"] in [p["id"] for p in mine]


def test_problem_owner_must_be_posted_in_the_village(api, world) -> None:
    response = api("cadre").post(
        "/visits",
        {
            "household_id": world.ids["H1"],
            "purpose": "走访",
            "findings": "道路损毁",
            "problems": [{"description": "道路损毁", "owner_cadre_id": world.ids["cadre"] + 1}],
        },
    )
    assert response.status_code == 422 and "problems.0.owner_cadre_id" in response.json["errors"]


def test_unknown_photo_ids_are_refused(api, world) -> None:
    response = api("cadre").post(
        "/visits", {"household_id": world.ids["H1"], "purpose": "走访", "findings": "好", "photo_ids": ["nope"]}
    )
    assert response.status_code == 422 and "photo_ids" in response.json["errors"]


def test_a_colleague_in_the_same_village_reads_a_record_but_cannot_change_it(app, api, database, world) -> None:
    with database() as s:
        village = s.get(Village, world.ids["V1"])
        colleague = make_cadre(s, s.get(County, world.ids["C1"]), "孙队员", village, Post.team_member)
        user = User(username="t_colleague", role=Role.cadre, cadre_id=colleague.id)
        s.add(user)
        s.flush()
        token = issue_token(s, user, timedelta(days=1)).token
    other = ApiClient(app.test_client(), token)
    record_id = world.ids["daily_record"]
    assert record_id in [r["id"] for r in other.get("/daily-records").json["items"]]
    edit = other.post(f"/daily-records/{record_id}/edit", {"content": "改成我的"})
    amend = other.post(f"/daily-records/{record_id}/amendments", {"reason": "代改", "content": "改成我的"})
    assert edit.status_code == amend.status_code == 403
    assert edit.json["code"] == amend.json["code"] == "forbidden"


def test_town_admin_reads_the_coverage_of_the_town_and_its_gaps(api, database, world) -> None:
    with database() as s:
        s.add(Pairing(cadre_id=world.ids["cadre"], household_id=world.ids["H2"], start_on=date(2024, 1, 1)))
    api("cadre").post("/visits", {"household_id": world.ids["H1"], "purpose": "走访", "findings": "好"})
    town = api("town_admin").get("/visits/coverage").json["items"]
    assert {(r["household_id"], r["visits"], r["met"]) for r in town} == {
        (world.ids["H1"], 2, True),
        (world.ids["H2"], 0, False),
    }
    gaps = api("town_admin").get("/visits/coverage?gaps=true").json["items"]
    assert [r["household_id"] for r in gaps] == [world.ids["H2"]]
    assert api("town_admin_other").get("/visits/coverage").json["items"] == []
    outside = api("town_admin").get(f"/visits/coverage?village_id={world.ids['V3']}")
    assert outside.status_code == 403 and outside.json["code"] == "not_in_scope"


@pytest.mark.real_commits  # the dump reads what was committed
def test_a_database_dump_holds_no_cadre_or_household_position_in_clear(app, api, world) -> None:
    positions = [(33.151234, 107.331234), (33.152345, 107.332345), (33.153456, 107.333456)]
    (lat1, lng1), (lat2, lng2), (lat3, lng3) = positions
    cadre = api("cadre")
    assert cadre.post("/checkins", {"lat": lat1, "lng": lng1, "accuracy": 5}).status_code == 201
    body = {"date": today_local().isoformat(), "category": "other", "content": "整理台账", "place": "村委会"}
    assert cadre.post("/daily-records", {**body, "lat": lat2, "lng": lng2}).status_code == 201
    visit = {"household_id": world.ids["H1"], "purpose": "走访", "findings": "好", "lat": lat3, "lng": lng3}
    assert cadre.post("/visits", visit).status_code == 201
    dump = _database_dump(app)
    assert [lat for lat, _lng in positions if f"{lat:.6f}".encode() in dump] == []
