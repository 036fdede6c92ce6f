"""Monthly notice (月公示): the panel closes a month, the village reads it, objects, gets answers, the month locks;
whatever is approved later for a closed month counts in the next open one."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from backend.errors import MonthAlreadyClosed, ObjectionsPending, ObjectionWindowOpen
from backend.months import Month
from backend.points.jobs import lock_notices
from backend.points.ledger import balance_mismatches
from backend.points.models import LedgerEntry, MonthlyNotice, NoticeStatus, Objection
from backend.points.notice import close_month, dismiss_objection, lock_notice, uphold_objection
from backend.timeutil import now_utc
from tests.factories import NOTICE_MONTH
from tests.factories_points import LAST_DAY_OF_PREV, PREV_MONTH, THIS_MONTH, acting, entry_of_claim, record_and_approve


def close(database, world, month: str = PREV_MONTH, village: str = "V1") -> int:  # type: ignore[no-untyped-def]
    with database() as s:
        reviewer, scope = acting(s, world, "reviewer" if village == "V1" else "reviewer_other")
        return close_month(s, scope, reviewer, world.ids[village], month).id


def end_window(database, notice_id: int) -> None:  # type: ignore[no-untyped-def]
    """The objection window has passed (API tokens of the world would expire if we travelled in time)."""
    with database() as s:
        s.get_one(MonthlyNotice, notice_id).objection_deadline = now_utc() - timedelta(minutes=1)


def test_close_publish_object_uphold_dismiss_lock(api, database, world) -> None:
    with database() as s:
        earned_claim = record_and_approve(s, world, "H1", "P09", LAST_DAY_OF_PREV)
        record_and_approve(s, world, "H2", "N01", LAST_DAY_OF_PREV)
        objected_entry = entry_of_claim(s, earned_claim).id
    notice_id = close(database, world)

    board = api("villager").get(f"/publications/{PREV_MONTH}")
    assert board.status_code == 200, board.json
    assert (board.json["status"], board.json["objection_open"]) == ("published", True)
    lines = {line["household_id"]: line for line in board.json["lines"]}
    assert set(lines) == {world.ids["H1"], world.ids["H2"], world.ids["H6"]}
    assert (lines[world.ids["H1"]]["earned"], lines[world.ids["H1"]]["balance"]) == (10, 110)
    assert (lines[world.ids["H2"]]["deducted"], lines[world.ids["H2"]]["balance"]) == (3, 97)
    assert lines[world.ids["H6"]]["balance"] == 100  # no movement yet: the base score
    assert all("*" in line["name"] for line in lines.values())  # names masked as on the wall
    assert [(e["household_number"], e["amount"]) for e in board.json["entries"]] == [("001", 10), ("002", -3)]

    # The neighbour objects to H1's credit; H1 objects to the notice in general.
    neighbour = api("villager_neighbour").post(
        f"/publications/{PREV_MONTH}/objections", json={"entry_id": objected_entry, "text": "当天并无此事"}
    )
    general = api("villager").post(f"/publications/{PREV_MONTH}/objections", json={"text": "我家公益劳动漏记了"})
    assert (neighbour.status_code, general.status_code) == (201, 201), (neighbour.json, general.json)
    assert neighbour.json["status"] == "open"

    with database() as s:
        reviewer, scope = acting(s, world, "reviewer")
        with pytest.raises(ObjectionWindowOpen), s.begin_nested():  # locking by hand waits for the window
            lock_notice(s, scope, reviewer, notice_id)
        with pytest.raises(ObjectionsPending), s.begin_nested(), time_machine.travel(now_utc() + timedelta(days=4)):
            lock_notice(s, scope, reviewer, notice_id)
        upheld = uphold_objection(s, scope, reviewer, neighbour.json["id"], amount=-10, reason="经核实不属实")
        dismissed = dismiss_objection(s, scope, reviewer, general.json["id"], reason="经核实已按规定记分")
        correction = s.get_one(LedgerEntry, upheld.correction_entry_id)
        assert (correction.household_id, correction.amount, correction.kind.value) == (
            world.ids["H1"],
            -10,
            "correction",
        )
        # The closed month stays as published: the correction counts in the next open month.
        assert correction.month == THIS_MONTH
        assert dismissed.answer == "经核实已按规定记分"
        assert balance_mismatches(s) == []

    # Each objector is told the outcome; the panel's decision shows on their own board.
    neighbour_inbox = api("villager_neighbour").get("/notifications").json
    assert [n["kind"] for n in neighbour_inbox["items"]] == ["objection_answered", "claim_approved"]
    assert "申诉成立" in neighbour_inbox["items"][0]["body"]
    mine = api("villager").get(f"/publications/{PREV_MONTH}").json["objections"]
    assert [(o["status"], o["answer"]) for o in mine] == [("dismissed", "经核实已按规定记分")]
    # The published lines did not move.
    again = {line["household_id"]: line for line in api("villager").get(f"/publications/{PREV_MONTH}").json["lines"]}
    assert again[world.ids["H1"]]["balance"] == 110
    assert api("villager").get("/points/summary").json["balance"] == 100

    end_window(database, notice_id)
    late = api("villager").post(f"/publications/{PREV_MONTH}/objections", json={"text": "再次申诉"})
    assert (late.status_code, late.json["code"]) == (409, "objection_window_closed")
    with database() as s:
        reviewer, scope = acting(s, world, "reviewer")
        locked = lock_notice(s, scope, reviewer, notice_id)
        assert (locked.status, locked.locked_by_id) == (NoticeStatus.locked, reviewer.id)
    assert api("villager").get(f"/publications/{PREV_MONTH}").json["status"] == "locked"


def test_closing_a_month_twice_is_refused(database, world) -> None:
    close(database, world)
    with database() as s:
        reviewer, scope = acting(s, world, "reviewer")
        with pytest.raises(MonthAlreadyClosed):
            close_month(s, scope, reviewer, world.ids["V1"], PREV_MONTH)


def test_approval_of_a_claim_dated_in_a_locked_month_lands_in_the_next_open_month(database, world) -> None:
    notice_id = close(database, world)
    end_window(database, notice_id)
    with database() as s:
        reviewer, scope = acting(s, world, "reviewer")
        assert lock_notice(s, scope, reviewer, notice_id).status == NoticeStatus.locked
    with database() as s:
        late = entry_of_claim(s, record_and_approve(s, world, "H2", "P10", LAST_DAY_OF_PREV))
        assert late.month == THIS_MONTH
    close(database, world, THIS_MONTH)  # published (not yet locked) counts as closed too
    with database() as s:
        later = entry_of_claim(s, record_and_approve(s, world, "H2", "P20", LAST_DAY_OF_PREV - timedelta(days=1)))
        assert later.month == str(Month.parse(THIS_MONTH).shift(1))  # both closed: the first month after them
        assert balance_mismatches(s) == []


def test_villagers_of_another_village_cannot_read_or_object(api, database, world) -> None:
    with database() as s:
        entry_id = entry_of_claim(s, record_and_approve(s, world, "H1", "P10", LAST_DAY_OF_PREV)).id
    close(database, world)
    far = api("villager_far")
    named = far.get(f"/publications/{PREV_MONTH}?village_id={world.ids['V1']}")
    assert (named.status_code, named.json["code"]) == (403, "not_in_scope")
    own = far.get(f"/publications/{PREV_MONTH}")
    assert (own.status_code, own.json["code"]) == (404, "not_found")  # their village published nothing
    objected = far.post(f"/publications/{PREV_MONTH}/objections", json={"entry_id": entry_id, "text": "不属实"})
    assert (objected.status_code, objected.json["code"]) == (403, "not_in_scope")
    other_reviewer = api("reviewer_other").get(f"/publications/{PREV_MONTH}?village_id={world.ids['V1']}")
    assert other_reviewer.status_code == 403


def test_an_objection_must_name_an_entry_of_that_month(api, database, world) -> None:
    with database() as s:
        this_month_entry = entry_of_claim(
            s, record_and_approve(s, world, "H2", "P10", LAST_DAY_OF_PREV + timedelta(days=1))
        ).id
    close(database, world)
    response = api("villager").post(
        f"/publications/{PREV_MONTH}/objections", json={"entry_id": this_month_entry, "text": "不属实"}
    )
    assert (response.status_code, response.json["code"]) == (422, "invalid_request")
    assert "entry_id" in response.json["errors"]


def test_quiet_notices_lock_automatically_after_the_window_and_open_objections_hold_it(api, database, world) -> None:
    quiet = close(database, world, village="V2")
    objected = world.ids["notice"]  # V1's notice of NOTICE_MONTH from the world
    assert (
        api("villager").post(f"/publications/{NOTICE_MONTH}/objections", json={"text": "数据有误"}).status_code == 201
    )
    with database() as s:
        assert lock_notices(s) == 0  # windows still open
    with time_machine.travel(now_utc() + timedelta(days=4), tick=False), database() as s:
        assert lock_notices(s) == 1
        assert s.get_one(MonthlyNotice, quiet).status == NoticeStatus.locked
        assert s.get_one(MonthlyNotice, quiet).locked_by_id is None
        assert s.get_one(MonthlyNotice, objected).status == NoticeStatus.published
        # Answering the last objection after the window locks the month at once.
        reviewer, scope = acting(s, world, "reviewer")
        pending = s.scalars(select(Objection.id).where(Objection.notice_id == objected)).one()
        dismiss_objection(s, scope, reviewer, pending, reason="经核实无误")
        assert s.get_one(MonthlyNotice, objected).status == NoticeStatus.locked


def test_the_daily_schedule_locks_quiet_notices(app, database, world) -> None:  # type: ignore[no-untyped-def]
    end_window(database, world.ids["notice"])
    result = app.test_cli_runner().invoke(args=["schedule"])
    assert result.exit_code == 0, result.output
    assert "enqueued lock-notices-" in result.output
    with database() as s:
        assert s.get_one(MonthlyNotice, world.ids["notice"]).status == NoticeStatus.locked


@pytest.mark.real_commits  # threads: each its own connection
def test_approvals_racing_the_close_of_their_month_are_either_published_or_moved_on(app, database, world) -> None:
    """Real threads and connections: a claim approved while its month is being closed is either in the frozen
    publication or counts in the next month, never silently in the closed month after its snapshot."""
    import threading

    from backend.auth.models import User
    from backend.auth.scope import scope_for
    from backend.db import db
    from backend.points.claims import submit_claim
    from backend.transaction import unit_of_work

    households = ["H1", "H2", "H6"]
    items = ["P10", "P19", "P09", "P11", "P13", "P20"]
    with database() as s:
        cadre, scope = acting(s, world, "cadre")
        claim_ids = [
            submit_claim(
                s,
                scope,
                cadre,
                rule_item_id=world.ids[f"item:{item}"],
                occurred_on=LAST_DAY_OF_PREV - timedelta(days=n),
                note="",
                household_id=world.ids[household],
            ).id
            for n, (household, item) in enumerate((h, i) for h in households for i in items)
        ]
    barrier = threading.Barrier(len(claim_ids) + 1)
    errors: list[BaseException] = []
    done: list[int] = []
    some_approved = threading.Event()  # close while the rest of the approvals are in flight

    def approve(claim_id: int) -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post(
            f"/api/mp/v1/review/claims/{claim_id}/approve",
            headers={"Authorization": f"Bearer {world.tokens['reviewer']}"},
        )
        if response.status_code != 200:
            errors.append(AssertionError(response.get_json()))
        done.append(claim_id)
        if len(done) >= len(claim_ids) // 3:
            some_approved.set()

    def close_prev() -> None:
        with app.app_context():
            barrier.wait()
            some_approved.wait(30)
            try:
                with unit_of_work(db.session) as s:
                    reviewer = s.get_one(User, world.ids["user:reviewer"])
                    close_month(s, scope_for(s, reviewer), reviewer, world.ids["V1"], PREV_MONTH)
            except BaseException as error:
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=approve, args=(cid,)) for cid in claim_ids] + [
        threading.Thread(target=close_prev)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with database() as s:
        published = s.scalars(select(MonthlyNotice).where(MonthlyNotice.month == PREV_MONTH)).one()
        in_month = s.scalars(
            select(LedgerEntry).where(LedgerEntry.month == PREV_MONTH, LedgerEntry.kind == "earn")
        ).all()
        moved = s.scalars(select(LedgerEntry).where(LedgerEntry.month == THIS_MONTH, LedgerEntry.kind == "earn")).all()
        assert len(in_month) + len(moved) == len(claim_ids)
        assert sum(line.earned for line in published.lines) == sum(e.amount for e in in_month)
        assert all(e.created_at <= published.published_at for e in in_month)
        assert balance_mismatches(s) == []
