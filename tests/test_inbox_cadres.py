"""A resident cadre's own inbox: the town's decision on their leave, and a problem another cadre handed to them,
read and marked read on the phone; villagers and other cadres never see these messages, nor cadres a household's."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from backend.auth.models import Role, User
from backend.auth.scope import scope_for
from backend.auth.service import issue_token
from backend.inbox.models import Notification
from backend.inbox.service import notify
from backend.org.models import County, Post, Village
from backend.records.checkins import decide_leave
from backend.timeutil import today_local
from tests.conftest import ApiClient
from tests.factories import World, make_cadre


def ask_leave(api, reason: str, in_days: int) -> int:  # type: ignore[no-untyped-def]
    day = (today_local() + timedelta(days=in_days)).isoformat()
    asked = api("cadre").post("/leaves", {"start_on": day, "end_on": day, "reason": reason})
    assert asked.status_code == 201, asked.json
    return asked.json["id"]


def test_the_cadre_reads_the_town_s_decisions_on_their_leave_and_marks_them_read(api, database, world) -> None:
    approved, rejected = ask_leave(api, "体检", 3), ask_leave(api, "私事", 5)
    assert api("cadre").get("/notifications").json["unread_count"] == 0
    with database() as s:
        town_admin = s.get_one(User, world.ids["user:town_admin"])
        scope = scope_for(s, town_admin)
        decide_leave(s, scope, town_admin, approved, approve=True, note="")
        decide_leave(s, scope, town_admin, rejected, approve=False, note="月底迎检，请改期")

    inbox = api("cadre").get("/notifications").json
    assert inbox["unread_count"] == 2
    first, second = inbox["items"]
    assert (first["kind"], first["title"], first["ref_id"]) == ("leave_rejected", "请假未批准", rejected)
    assert first["body"].endswith("的请假未批准：月底迎检，请改期")
    assert (second["kind"], second["title"], second["read"]) == ("leave_approved", "请假已批准", False)

    read = api("cadre").post("/notifications/read", {"ids": [first["id"]]})
    assert read.json == {"unread_count": 1}
    assert [m["read"] for m in api("cadre").get("/notifications").json["items"]] == [True, False]
    for other in ("cadre_far", "villager", "villager_neighbour"):
        assert all(
            m["kind"] not in ("leave_approved", "leave_rejected")
            for m in api(other).get("/notifications").json["items"]
        )


def test_a_problem_handed_to_another_cadre_reaches_their_inbox_and_not_the_author_s(app, api, database, world) -> None:
    with database() as s:
        village = s.get_one(Village, world.ids["V1"])
        colleague = make_cadre(s, s.get_one(County, world.ids["C1"]), "孙队员", village, Post.team_member)
        user = User(username="t_colleague", role=Role.cadre, cadre_id=colleague.id)
        s.add(user)
        s.flush()
        token = issue_token(s, user, timedelta(days=1)).token
        colleague_id = colleague.id
    visit = api("cadre").post(
        "/visits",
        {
            "household_id": world.ids["H1"],
            "purpose": "日常走访",
            "findings": "屋后排水沟堵塞",
            "problems": [
                {"description": "排水沟堵塞需清理", "owner_cadre_id": colleague_id},
                {"description": "低保材料待补齐"},
            ],
        },
    )
    assert visit.status_code == 201, visit.json

    inbox = ApiClient(app.test_client(), token).get("/notifications").json
    [message] = inbox["items"]
    assert (message["kind"], message["title"], message["ref_type"]) == (
        "problem_assigned",
        "有问题交给您办理",
        "problem",
    )
    assert message["body"].startswith("排水沟堵塞需清理，请在")
    assert inbox["unread_count"] == 1
    assert api("cadre").get("/notifications").json == {"items": [], "next_cursor": None, "unread_count": 0}


def test_a_cadre_never_reads_a_household_s_messages(api, world: World, database) -> None:
    with database() as s:
        notify(s, household_id=world.ids["H1"], kind="claim_approved", title="积分申报已通过", body="“拾金不昧”已认定")
    assert api("cadre").get("/notifications").json["items"] == []
    assert api("cadre").post("/notifications/read", {}).json == {"unread_count": 0}
    with database() as s:
        unread = s.scalars(select(Notification.read_at).where(Notification.household_id == world.ids["H1"])).all()
    assert unread and all(at is None for at in unread)
