"""Random sequences of claims, approvals, rejections, month closings, objections, corrections and locks.

After every step: each cached balance equals the sum of its ledger entries, no entry seen before has changed
or vanished, no entry counts in a month that was closed before the entry was written, and published lines
never change.
"""

from __future__ import annotations

from datetime import timedelta

import hypothesis.strategies as st
from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import select

from backend.db import db, unit_of_work
from backend.errors import DomainError
from backend.points import notice
from backend.points.claims import approve_claim, reject_claim, submit_claim
from backend.points.ledger import balance_mismatches, month_of
from backend.points.models import LedgerEntry, MonthlyNotice, NoticeLine, Objection
from backend.timeutil import now_utc
from tests.factories import World
from tests.factories_points import LAST_DAY_OF_PREV, TODAY, acting

HOUSEHOLDS = ["H1", "H2", "H6"]
ITEMS = ["P06", "P09", "P10", "N01", "N07", "V01"]
DAYS = [
    TODAY,
    LAST_DAY_OF_PREV,
    LAST_DAY_OF_PREV - timedelta(days=3),
    LAST_DAY_OF_PREV.replace(day=1) - timedelta(days=2),
]
MONTHS = sorted({month_of(day) for day in DAYS})
VILLAGERS = {"H1": "villager", "H2": "villager_neighbour"}


def entry_snapshot() -> dict[int, tuple]:
    rows = db.session.execute(select(LedgerEntry.__table__)).all()
    return {row.id: tuple(row) for row in rows}


def line_snapshot() -> dict[int, tuple]:
    return {row.id: tuple(row) for row in db.session.execute(select(NoticeLine.__table__)).all()}


class PointsMachine(RuleBasedStateMachine):
    world: World

    claims = Bundle("claims")
    objections = Bundle("objections")

    def __init__(self) -> None:
        super().__init__()
        self.entries = entry_snapshot()
        self.lines = line_snapshot()

    def _step(self, action, *args, **kwargs):  # type: ignore[no-untyped-def]
        """One request's worth of work in its own transaction; refusals (domain errors) roll back."""
        try:
            with unit_of_work(db.session):
                result = action(*args, **kwargs)
                return result.id if result is not None else None
        except DomainError:
            return None
        finally:
            db.session.expire_all()

    def _as(self, name: str):  # type: ignore[no-untyped-def]
        return acting(db.session, self.world, name)

    @rule(target=claims, household=st.sampled_from(HOUSEHOLDS), item=st.sampled_from(ITEMS), day=st.sampled_from(DAYS))
    def record(self, household: str, item: str, day) -> int | None:  # type: ignore[no-untyped-def]
        cadre, scope = self._as("cadre")
        return self._step(
            submit_claim,
            db.session,
            scope,
            cadre,
            rule_item_id=self.world.ids[f"item:{item}"],
            occurred_on=day,
            note="",
            household_id=self.world.ids[household],
        )

    @rule(household=st.sampled_from(HOUSEHOLDS), item=st.sampled_from(ITEMS), day=st.sampled_from(DAYS))
    def record_then_approve(self, household: str, item: str, day) -> None:  # type: ignore[no-untyped-def]
        self.approve(self.record(household, item, day))

    @rule(claim=claims)
    def approve(self, claim: int | None) -> None:
        if claim is not None:
            reviewer, scope = self._as("reviewer")
            self._step(approve_claim, db.session, scope, reviewer, claim)

    @rule(claim=claims)
    def reject(self, claim: int | None) -> None:
        if claim is not None:
            reviewer, scope = self._as("reviewer")
            self._step(reject_claim, db.session, scope, reviewer, claim, "不符合条件")

    @rule(month=st.sampled_from(MONTHS))
    def close(self, month: str) -> None:
        reviewer, scope = self._as("reviewer")
        self._step(notice.close_month, db.session, scope, reviewer, self.world.ids["V1"], month)

    @rule(target=objections, household=st.sampled_from(sorted(VILLAGERS)), month=st.sampled_from(MONTHS))
    def object_to(self, household: str, month: str) -> int | None:
        villager, scope = self._as(VILLAGERS[household])
        return self._step(notice.file_objection, db.session, scope, villager, month, entry_id=None, text="有异议")

    @rule(objection=objections, amount=st.integers(min_value=-5, max_value=5))
    def uphold(self, objection: int | None, amount: int) -> None:
        if objection is not None:
            reviewer, scope = self._as("reviewer")
            self._step(notice.uphold_objection, db.session, scope, reviewer, objection, amount=amount, reason="核实")

    @rule(objection=objections)
    def dismiss(self, objection: int | None) -> None:
        if objection is not None:
            reviewer, scope = self._as("reviewer")
            self._step(notice.dismiss_objection, db.session, scope, reviewer, objection, reason="不属实")

    @rule(month=st.sampled_from(MONTHS))
    def window_passes_and_lock(self, month: str) -> None:
        with unit_of_work(db.session):
            found = db.session.scalar(select(MonthlyNotice).where(MonthlyNotice.month == month))
            if found is not None:
                found.objection_deadline = min(found.objection_deadline, now_utc())
        reviewer, scope = self._as("reviewer")
        if found is not None:
            self._step(notice.lock_notice, db.session, scope, reviewer, found.id)
        with unit_of_work(db.session):
            notice.lock_due_notices(db.session)

    @invariant()
    def balances_equal_their_entries(self) -> None:
        assert balance_mismatches(db.session) == []

    @invariant()
    def no_entry_or_published_line_ever_changes(self) -> None:
        now = entry_snapshot()
        assert {k: now.get(k) for k in self.entries} == self.entries
        self.entries = now
        lines = line_snapshot()
        assert {k: lines.get(k) for k in self.lines} == self.lines
        self.lines = lines

    @invariant()
    def a_closed_month_receives_no_later_entries(self) -> None:
        late = db.session.execute(
            select(LedgerEntry.id)
            .join(
                MonthlyNotice,
                (MonthlyNotice.village_id == LedgerEntry.village_id) & (MonthlyNotice.month == LedgerEntry.month),
            )
            .where(LedgerEntry.created_at > MonthlyNotice.published_at)
        ).all()
        assert late == []

    @invariant()
    def decided_objections_stay_decided(self) -> None:
        upheld_without_answer = db.session.scalar(
            select(Objection.id).where(Objection.status != "open", Objection.answer.is_(None))
        )
        assert upheld_without_answer is None

    def teardown(self) -> None:
        db.session.rollback()


def test_points_ledger_and_monthly_notices_under_random_operations(app: Flask, world: World) -> None:
    PointsMachine.world = world
    with app.app_context():
        run_state_machine_as_test(
            PointsMachine,
            settings=settings(
                max_examples=40,
                stateful_step_count=30,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            ),
        )
        db.session.remove()
