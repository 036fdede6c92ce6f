"""Claims, review and the ledger, through the phone API as villagers, cadres and the review panel use it."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from backend.db import db
from backend.org.models import County
from backend.points.ledger import balance_mismatches
from backend.points.models import EntryKind, LedgerEntry, PointsAccount, RuleBook
from backend.points.rules import create_rule_book
from backend.timeutil import today_local

TODAY = today_local().isoformat()


def claim(api, who: str, item: str, world, on: str = TODAY, **extra):  # type: ignore[no-untyped-def]
    body = {"rule_item_id": world.ids[f"item:{item}"], "occurred_on": on, **extra}
    return api(who).post("/claims", json=body)


def ledger_of(app, household_id: int) -> list[tuple[str, int, int]]:  # type: ignore[no-untyped-def]
    with app.app_context():
        rows = db.session.execute(
            select(LedgerEntry.kind, LedgerEntry.amount, LedgerEntry.balance_after)
            .where(LedgerEntry.household_id == household_id)
            .order_by(LedgerEntry.id)
        ).all()
        db.session.remove()
    return [(kind.value, amount, after) for kind, amount, after in rows]


def test_a_declared_deed_waits_for_review_and_changes_nothing_yet(api, world) -> None:
    response = claim(api, "villager", "P06", world, note="清扫村道")
    assert response.status_code == 201, response.json
    assert response.json["status"] == "pending"
    summary = api("villager").get("/points/summary").json
    assert summary["balance"] == 100  # Gaoyang base score
    assert summary["month"]["earned"] == 0


def test_approval_credits_the_household_once_with_base_score_first(app, api, world) -> None:
    response = api("reviewer").post(f"/review/claims/{world.ids['claim']}/approve")
    assert response.status_code == 200, response.json
    assert response.json["status"] == "approved"
    assert ledger_of(app, world.ids["H1"]) == [("base", 100, 100), ("earn", 10, 110)]
    summary = api("villager").get("/points/summary").json
    assert summary["balance"] == 110
    assert summary["month"]["earned"] == 10
    entries = api("villager").get("/points/ledger").json["items"]
    assert [e["kind"] for e in entries] == ["earn", "base"]  # newest first
    assert entries[0]["reason"] == "见义勇为"


def test_a_cadre_records_a_deduction_for_a_household_in_their_village(app, api, world) -> None:
    recorded = claim(api, "cadre", "N01", world, household_id=world.ids["H2"])
    assert recorded.status_code == 201
    assert recorded.json["source"] == "recorded"
    api("reviewer").post(f"/review/claims/{recorded.json['id']}/approve")
    assert ledger_of(app, world.ids["H2"])[-1] == ("deduct", -3, 97)


def test_villagers_may_only_declare_positive_items(api, world) -> None:
    response = claim(api, "villager", "N01", world)
    assert response.status_code == 422
    assert "rule_item_id" in response.json["errors"]


def test_a_villager_cannot_claim_for_another_household(api, world) -> None:
    response = claim(api, "villager", "P06", world, household_id=world.ids["H2"])
    assert response.status_code == 403
    assert response.json["code"] == "not_in_scope"


def test_the_same_item_on_the_same_day_is_a_duplicate(api, world) -> None:
    assert claim(api, "villager", "P06", world).status_code == 201
    second = claim(api, "villager", "P06", world)
    assert second.status_code == 409
    assert second.json["code"] == "duplicate_claim"


def test_future_dates_are_refused(api, world) -> None:
    response = claim(api, "villager", "P06", world, on=(today_local() + timedelta(days=1)).isoformat())
    assert response.status_code == 422


def test_caps_are_enforced_at_approval(api, world) -> None:
    # P07 按时缴纳医保 (no photo needed): at most once a year. Two days of last month, so the test means the same
    # on any date.
    first_of_this_month = today_local().replace(day=1)
    day_one = (first_of_this_month - timedelta(days=1)).replace(day=1)
    day_two = day_one + timedelta(days=1)
    first = claim(api, "villager", "P07", world, on=day_one.isoformat()).json["id"]
    other_household = claim(api, "villager_neighbour", "P07", world, on=day_one.isoformat()).json["id"]
    second = claim(api, "villager", "P07", world, on=day_two.isoformat()).json["id"]
    reviewer = api("reviewer")
    assert reviewer.post(f"/review/claims/{first}/approve").status_code == 200
    assert reviewer.post(f"/review/claims/{other_household}/approve").status_code == 200
    refused = reviewer.post(f"/review/claims/{second}/approve")
    assert refused.status_code == 409
    assert refused.json["code"] == "cap_reached"


def test_decided_claims_cannot_be_decided_again(api, world) -> None:
    reviewer = api("reviewer")
    rejected = claim(api, "villager", "P06", world).json["id"]
    assert reviewer.post(f"/review/claims/{rejected}/reject", json={"reason": "照片看不清"}).status_code == 200
    again = reviewer.post(f"/review/claims/{rejected}/approve")
    assert (again.status_code, again.json["code"]) == (409, "claim_already_decided")
    assert reviewer.post(f"/review/claims/{world.ids['claim']}/approve").status_code == 200
    late_reject = reviewer.post(f"/review/claims/{world.ids['claim']}/reject", json={"reason": "重复"})
    assert (late_reject.status_code, late_reject.json["code"]) == (409, "claim_already_decided")


def test_the_villager_sees_why_a_claim_was_rejected(api, world) -> None:
    api("reviewer").post(f"/review/claims/{world.ids['claim']}/reject", json={"reason": "缺少旁证"})
    mine = api("villager").get("/claims?status=rejected").json["items"]
    assert [(c["id"], c["reject_reason"]) for c in mine] == [(world.ids["claim"], "缺少旁证")]


def test_a_quorum_of_two_needs_two_different_panel_members(app, api, world) -> None:
    with app.app_context():
        db.session.execute(update(RuleBook).values(review_quorum=2))
        db.session.commit()
    url = f"/review/claims/{world.ids['claim']}/approve"
    assert api("reviewer").post(url).json["status"] == "pending"
    twice = api("reviewer").post(url)
    assert (twice.status_code, twice.json["code"]) == (409, "already_reviewed")
    assert api("town_admin").post(url).json["status"] == "approved"
    assert ledger_of(app, world.ids["H1"])[-1] == ("earn", 10, 110)


@pytest.mark.real_commits  # threads: each its own connection
def test_a_hundred_concurrent_approvals_credit_exactly_once(app, world) -> None:
    url = f"/api/mp/v1/review/claims/{world.ids['claim']}/approve"
    headers = {"Authorization": f"Bearer {world.tokens['reviewer']}"}
    statuses: list[int] = []
    barrier = threading.Barrier(100)

    def approve() -> None:
        client = app.test_client()
        barrier.wait()
        statuses.append(client.post(url, headers=headers).status_code)

    threads = [threading.Thread(target=approve) for _ in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(set(statuses)) == [200, 409]
    assert statuses.count(200) == 1
    with app.app_context():
        credits = db.session.scalar(
            select(func.count()).where(LedgerEntry.source_id == world.ids["claim"], LedgerEntry.kind == EntryKind.earn)
        )
        assert credits == 1
        assert balance_mismatches(db.session) == []


def test_a_veto_marks_the_household_vetoed_this_month(api, world) -> None:
    recorded = claim(api, "cadre", "V01", world, household_id=world.ids["H1"]).json["id"]
    api("reviewer").post(f"/review/claims/{recorded}/approve")
    assert api("villager").get("/points/summary").json["vetoed_this_month"] is True


def test_review_panel_of_another_village_cannot_touch_the_claim(app, api, world) -> None:
    response = api("reviewer_other").post(f"/review/claims/{world.ids['claim']}/approve")
    assert (response.status_code, response.json["code"]) == (403, "not_in_scope")
    assert ledger_of(app, world.ids["H1"]) == []


def test_batch_review_reports_each_claim(api, world) -> None:
    second = claim(api, "villager_neighbour", "P06", world).json["id"]
    response = api("reviewer").post(
        "/review/claims/batch", json={"claim_ids": [world.ids["claim"], second, 999999], "approve": True}
    )
    assert response.status_code == 200
    assert response.json["results"] == [
        {"claim_id": world.ids["claim"], "status": "approved", "error": None},
        {"claim_id": second, "status": "approved", "error": None},
        {"claim_id": 999999, "status": None, "error": "not_found"},
    ]


def test_batch_rejection_needs_a_reason(api, world) -> None:
    response = api("reviewer").post("/review/claims/batch", json={"claim_ids": [world.ids["claim"]], "approve": False})
    assert response.status_code == 422
    assert "reason" in response.json["errors"]


def test_a_claim_keeps_the_rule_version_it_was_judged_by(app, api, world) -> None:
    with app.app_context():
        county = db.session.get(County, world.ids["C1"])
        create_rule_book(
            db.session,
            county,
            title="2027版",
            effective_from=today_local() + timedelta(days=30),
            base_score=100,
            items=[{"code": "P09", "kind": "positive", "title": "见义勇为", "points": 20}],
        )
        db.session.commit()
    api("reviewer").post(f"/review/claims/{world.ids['claim']}/approve")
    assert ledger_of(app, world.ids["H1"])[-1] == ("earn", 10, 110)  # the version in force on the day, not 20
    rules = api("villager").get("/rules").json
    assert rules["version"] == 1 and len(rules["items"]) == 48


def test_idempotent_replay_returns_the_first_answer_and_creates_one_claim(app, api, world) -> None:
    phone = api("villager")
    headers = {"Idempotency-Key": "6f1c0f8e-claim-1"}
    body = {"rule_item_id": world.ids["item:P06"], "occurred_on": TODAY, "note": "参加村民会议"}
    first = phone.post("/claims", json=body, headers=headers)
    replay = phone.post("/claims", json=body, headers=headers)
    assert first.status_code == replay.status_code == 201
    assert replay.json == first.json
    assert replay.headers.get("Idempotent-Replayed") == "true"
    other = phone.post("/claims", json={**body, "note": "改了"}, headers=headers)
    assert (other.status_code, other.json["code"]) == (409, "idempotency_mismatch")
    assert len(phone.get("/claims").json["items"]) == 2  # the fixture's claim + this one


@pytest.mark.real_commits  # threads: each its own connection
def test_concurrent_retries_with_one_key_create_one_claim(app, world) -> None:
    headers = {"Authorization": f"Bearer {world.tokens['villager']}", "Idempotency-Key": "retry-storm"}
    body = {"rule_item_id": world.ids["item:P06"], "occurred_on": TODAY}
    results: list[tuple[int, int | None]] = []
    barrier = threading.Barrier(20)

    def send() -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post("/api/mp/v1/claims", json=body, headers=headers)
        results.append((response.status_code, (response.json or {}).get("id")))

    threads = [threading.Thread(target=send) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {status for status, _ in results} <= {201, 409}
    created = {claim_id for status, claim_id in results if status == 201}
    assert len(created) == 1


def test_check_ledger_command_finds_a_tampered_balance(app, api, world) -> None:
    api("reviewer").post(f"/review/claims/{world.ids['claim']}/approve")
    runner = app.test_cli_runner()
    clean = runner.invoke(args=["check-ledger"])
    assert clean.exit_code == 0, clean.output
    with app.app_context():
        db.session.execute(update(PointsAccount).values(balance=PointsAccount.balance + 5))
        db.session.commit()
    tampered = runner.invoke(args=["check-ledger"])
    assert tampered.exit_code == 1
    assert f"household {world.ids['H1']}: balance 115 ≠ ledger 110" in tampered.output
