"""One state machine over the whole points economy of a village: claims and their review (single, batch,
quorum of two), redemptions (request, cancel, approve, reject, hand-over with right and wrong codes, expiry
as the clock moves), restocks and write-offs, and monthly notices (close, object, uphold with a correction,
dismiss, lock). It drives the real services over the real database, on a clock (time-machine) it moves.

A plain-Python model predicts every outcome (new state or the refusal code) and every balance and stock
figure; after every step the database must agree with it and, independently of the model, with itself:
cached balances and holds equal the sums of their entries, nothing negative (a spendable balance only goes
below zero through a deduction, a veto or a correction — the panel may fine a household below zero; a
redemption hold never does), stock is conserved, every hold is resolved at most once, per-household limits
hold, no entry or published line ever changes, and no entry lands in a month already closed.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import hypothesis.strategies as st
import time_machine
from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Table, func, select, update
from sqlalchemy.orm import Session

from backend.auth.models import Role, User
from backend.db import db
from backend.errors import DomainError
from backend.months import Month
from backend.points import notice
from backend.points.claims import approve_claim, period_bounds, reject_claim, review_claims, submit_claim
from backend.points.ledger import balance_mismatches
from backend.points.models import (
    Claim,
    ClaimStatus,
    EntryKind,
    ItemKind,
    LedgerEntry,
    MonthlyNotice,
    NoticeLine,
    PointsAccount,
    RuleBook,
    RuleItem,
)
from backend.shop import redemptions, stock
from backend.shop.models import COUNTED_STATUSES, Product, Redemption, RedemptionStatus, StockEntry, StockKind
from backend.shop.stock import stock_mismatches
from backend.timeutil import LOCAL_TZ, now_utc, today_local
from backend.transaction import unit_of_work
from tests.conftest import Rows, restore_rows, saved_rows, wipe
from tests.factories import World, build_world
from tests.factories_points import acting
from tests.factories_shop import add_product, open_all_month

VILLAGERS = {"H1": "villager", "H2": "villager_neighbour", "H6": "villager_h6"}
REVIEWERS = ["reviewer", "reviewer_2"]
DECLARABLE = ["P06", "P23", "N07"]  # positive items that need no photo evidence, and one negative item
RECORDABLE = ["P06", "P23", "P09", "N07", "N05", "V01"]
DAYS_AGO = [0, 1, 3, 40]
# Late in January and on New Year's Eve: the clock then moves forward across month and year ends.
STARTS = [datetime(2026, 1, 29, 9, 17, 30, tzinfo=LOCAL_TZ), datetime(2026, 12, 31, 9, 17, 30, tzinfo=LOCAL_TZ)]
PRODUCTS = {"rice": (30, 5, None), "soap": (5, 4, 2), "oil": (60, 2, None)}  # points, first stock, monthly limit
REDEMPTION_ACTIONS = ["cancel", "approve", "reject", "hand_over", "wrong_code"]
OPEN = (RedemptionStatus.pending, RedemptionStatus.approved)
MAY_GO_BELOW_ZERO = {EntryKind.deduct, EntryKind.veto, EntryKind.correction}


@dataclass
class ClaimModel:
    household: str
    code: str
    day: date
    status: ClaimStatus = ClaimStatus.pending
    reviewers: set[str] = field(default_factory=set)


@dataclass
class RedemptionModel:
    household: str
    product: str
    quantity: int
    points: int
    requested_on: date
    status: RedemptionStatus = RedemptionStatus.pending
    code: str = ""
    expires_at: datetime | None = None


@dataclass
class NoticeModel:
    id: int
    deadline: datetime
    locked: bool = False
    open_objections: set[int] = field(default_factory=set)


@dataclass
class Model:
    """What the village's books should say, worked out without the database."""

    quorum: int
    items: dict[str, RuleItem]
    base_score: int
    balance: dict[str, int] = field(default_factory=dict)  # only households whose account is open
    held: Counter[str] = field(default_factory=Counter)
    vetoed_months: dict[str, set[str]] = field(default_factory=dict)
    claims: dict[int, ClaimModel] = field(default_factory=dict)
    redemptions: dict[int, RedemptionModel] = field(default_factory=dict)
    stock: Counter[str] = field(default_factory=Counter)
    arrived: Counter[str] = field(default_factory=Counter)  # first stock and restocks
    left: Counter[str] = field(default_factory=Counter)  # written off or handed over
    notices: dict[str, NoticeModel] = field(default_factory=dict)
    objections: dict[int, tuple[str, str, bool]] = field(default_factory=dict)  # id → household, month, open

    def entry_month(self, on: date) -> str:
        month = Month.of(on)
        while str(month) in self.notices:
            month = month.shift(1)
        return str(month)

    def post(self, household: str, amount: int) -> None:
        self.balance.setdefault(household, self.base_score)
        self.balance[household] += amount

    def approval_refusal(self, claim: ClaimModel) -> str | None:
        item = self.items[claim.code]
        approved = [c for c in self.claims.values() if c.status == ClaimStatus.approved]
        same = [c for c in approved if c.household == claim.household and c.code == claim.code]
        if any(c.day == claim.day for c in same):
            return "duplicate_claim"
        if item.cap_count is not None and item.cap_period is not None:
            start, end = period_bounds(claim.day, item.cap_period)
            if sum(start <= c.day < end for c in same) >= item.cap_count:
                return "cap_reached"
        return None

    def review(self, claim_id: int, reviewer: str, approve: bool) -> str:
        """Apply one panel member's decision; return the claim's new status or the refusal code."""
        claim = self.claims[claim_id]
        if claim.status != ClaimStatus.pending:
            return "claim_already_decided"
        if reviewer in claim.reviewers:
            return "already_reviewed"
        if approve and len(claim.reviewers) + 1 >= self.quorum:
            refusal = self.approval_refusal(claim)
            if refusal:
                return refusal
            item = self.items[claim.code]
            self.post(claim.household, item.signed_points)
            if item.kind == ItemKind.veto:
                self.vetoed_months.setdefault(claim.household, set()).add(self.entry_month(claim.day))
            claim.status = ClaimStatus.approved
        elif not approve:
            claim.status = ClaimStatus.rejected
        claim.reviewers.add(reviewer)
        return claim.status.value

    def release(self, redemption: RedemptionModel, status: RedemptionStatus) -> None:
        self.balance[redemption.household] += redemption.points
        self.held[redemption.household] -= redemption.points
        self.stock[redemption.product] += redemption.quantity
        redemption.status = status

    def lock_if_due(self, month: str, now: datetime) -> None:
        found = self.notices[month]
        if now >= found.deadline and not found.open_objections:
            found.locked = True


def months_back(count: int) -> str:
    """This month (0), last month (1), … on the machine's clock."""
    return str(Month.current().shift(-count))


def rows(table: Table) -> dict[int, tuple]:
    return {row.id: tuple(row) for row in db.session.execute(select(table)).all()}


@dataclass
class BuiltVillage:
    world: World
    rows: Rows
    clock: datetime  # when its building ended


class VillageBooks(RuleBasedStateMachine):
    app: Flask
    villages: dict[datetime, BuiltVillage]  # by start: built once, copied back for each later example

    claims = Bundle("claims")
    redemptions = Bundle("redemptions")
    objections = Bundle("objections")

    @initialize(start=st.sampled_from(STARTS), quorum=st.sampled_from([1, 2]))
    def open_village(self, start: datetime, quorum: int) -> None:
        """A fresh world on a clock of our own: V1's books, two panel members, three stocked products."""
        wipe(self.app)
        built = self.villages.get(start)
        # A village built before is copied back, on the clock where its building ended.
        self.traveller = time_machine.travel(built.clock if built else start, tick=True)
        self.clock = self.traveller.start()
        self.context = self.app.app_context()
        self.context.push()
        if built:
            restore_rows(self.app, built.rows)
            self.world = copy.deepcopy(built.world)
        else:
            self.world = self.build_village()
            self.villages[start] = BuiltVillage(copy.deepcopy(self.world), saved_rows(self.app), now_utc())
        with unit_of_work(db.session) as s:
            s.execute(update(RuleBook).where(RuleBook.id == self.world.ids["rule_book"]).values(review_quorum=quorum))
            book = s.get_one(RuleBook, self.world.ids["rule_book"])
            items = {code: s.get_one(RuleItem, self.world.ids[f"item:{code}"]) for code in RECORDABLE}
            s.expunge_all()
        self.model = Model(quorum=quorum, items=items, base_score=book.base_score)
        self.model.stock.update({name: units for name, (_p, units, _l) in PRODUCTS.items()})
        self.model.arrived.update(self.model.stock)
        # build_world leaves one pending claim of H1 (P09 today) and a notice of a long-gone month.
        self.model.claims[self.world.ids["claim"]] = ClaimModel("H1", "P09", today_local())
        with unit_of_work(db.session) as s:
            old = s.get_one(MonthlyNotice, self.world.ids["notice"])
            self.model.notices[old.month] = NoticeModel(old.id, old.objection_deadline)
        self.entries = self.stock_entries = self.lines = {}
        self.snapshot()

    @staticmethod
    def build_village() -> World:
        with unit_of_work(db.session) as s:
            world = build_world(s)
            v1 = world.ids["V1"]
            extra = {
                "villager_h6": User(username="t_h6", role=Role.villager, household_id=world.ids["H6"]),
                "reviewer_2": User(username="t_reviewer_b", role=Role.reviewer, village_id=v1),
            }
            s.add_all(extra.values())
            s.flush()
            world.ids.update({f"user:{name}": user.id for name, user in extra.items()})
            open_all_month(s, world, "V1")
            for name, (points, units, limit) in PRODUCTS.items():
                world.ids[f"product:{name}"] = add_product(s, world, name, points, units, per_household_limit=limit)
        return world

    def teardown(self) -> None:
        if hasattr(self, "context"):
            db.session.remove()
            self.context.pop()
            self.traveller.stop()

    # -- helpers -------------------------------------------------------------------------------------------

    def attempt(self, action: Callable[[Session], Any]) -> Any:
        """One request: committed when it succeeds; refused (a domain error's code) and rolled back otherwise."""
        try:
            with unit_of_work(db.session) as s:
                return action(s)
        except DomainError as error:
            return error.code
        finally:
            db.session.expire_all()

    def id_of(self, key: str) -> int:
        return self.world.ids[key]

    def household_of(self, household_id: int) -> str:
        return next(h for h in VILLAGERS if self.id_of(h) == household_id)

    def staff(self, s: Session, name: str = "reviewer"):  # type: ignore[no-untyped-def]
        return acting(s, self.world, name)

    # -- claims --------------------------------------------------------------------------------------------

    @rule(
        target=claims,
        household=st.sampled_from(sorted(VILLAGERS)),
        code=st.sampled_from(RECORDABLE),
        days_ago=st.sampled_from(DAYS_AGO),
    )
    def record(self, household: str, code: str, days_ago: int):  # type: ignore[no-untyped-def]
        """A cadre records a good deed, a fault or a veto item for a household (no photos needed)."""
        return self.submit(household, code, days_ago, by_cadre=True)

    @rule(
        target=claims,
        household=st.sampled_from(sorted(VILLAGERS)),
        code=st.sampled_from(DECLARABLE),
        days_ago=st.sampled_from(DAYS_AGO),
    )
    def declare(self, household: str, code: str, days_ago: int):  # type: ignore[no-untyped-def]
        """A villager declares for their own household; a negative item is refused (invalid_request)."""
        return self.submit(household, code, days_ago, by_cadre=False)

    def submit(self, household: str, code: str, days_ago: int, *, by_cadre: bool):  # type: ignore[no-untyped-def]
        day = today_local() - timedelta(days=days_ago)
        pending_or_approved = (ClaimStatus.pending, ClaimStatus.approved)
        if not by_cadre and self.model.items[code].kind != ItemKind.positive:
            expected = "invalid_request"
        elif any(
            (c.household, c.code, c.day) == (household, code, day) and c.status in pending_or_approved
            for c in self.model.claims.values()
        ):
            expected = "duplicate_claim"
        else:
            expected = "pending"

        def act(s: Session) -> int:
            user, scope = acting(s, self.world, "cadre" if by_cadre else VILLAGERS[household])
            target = self.id_of(household) if by_cadre else None
            return submit_claim(
                s, scope, user, rule_item_id=self.id_of(f"item:{code}"), occurred_on=day, note="", household_id=target
            ).id

        got = self.attempt(act)
        assert (expected if isinstance(got, int) else got) == expected
        if not isinstance(got, int):
            return multiple()
        self.model.claims[got] = ClaimModel(household, code, day)
        return got

    @rule(claim=claims, reviewer=st.sampled_from(REVIEWERS), approve=st.booleans())
    def review(self, claim: int, reviewer: str, approve: bool) -> None:
        """Approve or reject one claim — also after it was decided (claim_already_decided) or by the same
        member twice (already_reviewed)."""
        expected = self.model.review(claim, reviewer, approve)

        def act(s: Session) -> str:
            user, scope = self.staff(s, reviewer)
            decided = approve_claim(s, scope, user, claim) if approve else reject_claim(s, scope, user, claim, "不符")
            return decided.status.value

        assert self.attempt(act) == expected

    @rule(picked=st.lists(claims, min_size=1, max_size=4), reviewer=st.sampled_from(REVIEWERS), approve=st.booleans())
    def batch_review(self, picked: list[int], reviewer: str, approve: bool) -> None:
        """Each claim of a batch stands or falls on its own."""
        expected = [self.model.review(claim, reviewer, approve) for claim in picked]

        def act(s: Session) -> list[str | None]:
            user, scope = self.staff(s, reviewer)
            return [o.status or o.error for o in review_claims(s, scope, user, picked, approve=approve, reason="不符")]

        assert self.attempt(act) == expected

    # -- the points supermarket ----------------------------------------------------------------------------

    @rule(
        target=redemptions,
        household=st.sampled_from(sorted(VILLAGERS)),
        product=st.sampled_from(sorted(PRODUCTS)),
        quantity=st.integers(1, 3),
    )
    def redeem(self, household: str, product: str, quantity: int):  # type: ignore[no-untyped-def]
        today = today_local()
        points, _units, limit = PRODUCTS[product]
        taken = sum(
            r.quantity
            for r in self.model.redemptions.values()
            if (r.household, r.product) == (household, product)
            and r.status in COUNTED_STATUSES
            and Month.of(r.requested_on) == Month.of(today)
        )
        if str(Month.of(today)) in self.model.vetoed_months.get(household, set()):
            expected = "redemption_vetoed"
        elif limit is not None and taken + quantity > limit:
            expected = "redemption_limit_reached"
        elif self.model.balance.get(household, self.model.base_score) < points * quantity:
            expected = "insufficient_points"
        elif self.model.stock[product] < quantity:
            expected = "out_of_stock"
        else:
            expected = "pending"

        def act(s: Session) -> int:
            user, scope = acting(s, self.world, VILLAGERS[household])
            return redemptions.request_redemption(s, scope, user, self.id_of(f"product:{product}"), quantity).id

        got = self.attempt(act)
        assert (expected if isinstance(got, int) else got) == expected
        if not isinstance(got, int):
            return multiple()
        self.model.post(household, -points * quantity)
        self.model.held[household] += points * quantity
        self.model.stock[product] -= quantity
        self.model.redemptions[got] = RedemptionModel(household, product, quantity, points * quantity, today)
        return got

    @rule(redemption=redemptions, action=st.sampled_from(REDEMPTION_ACTIONS))
    def act_on_any(self, redemption: int, action: str) -> None:
        """Any action on any redemption, valid in its state or not: cancel after approval, hand-over twice,
        approve after reject… must be refused with the right code."""
        self.act_on(redemption, action)

    @precondition(lambda self: self.open_redemptions())
    @rule(pick=st.integers(0, 99), choice=st.integers(0, 99))
    def act_on_an_open_one(self, pick: int, choice: int) -> None:
        """Most requests move on: a pending one is mostly approved, an approved one collected (or left to
        expire as time passes)."""
        still_open = self.open_redemptions()
        chosen = still_open[pick % len(still_open)]
        pending = self.model.redemptions[chosen].status == RedemptionStatus.pending
        actions = ["approve", "approve", "reject", "cancel"] if pending else ["hand_over", "wrong_code"]
        self.act_on(chosen, actions[choice % len(actions)])

    def open_redemptions(self) -> list[int]:
        return [k for k, r in self.model.redemptions.items() if r.status in OPEN]

    def act_on(self, redemption: int, action: str) -> None:
        if action == "cancel":
            self.cancel(redemption)
        elif action in ("approve", "reject"):
            self.decide_redemption(redemption, action == "approve")
        else:
            self.hand_over(redemption, right_code=action == "hand_over")

    def cancel(self, redemption: int) -> None:
        """The household changes its mind: only while pending (after approval: redemption_not_pending)."""
        model = self.model.redemptions[redemption]
        expected = "cancelled" if model.status == RedemptionStatus.pending else "redemption_not_pending"

        def act(s: Session) -> str:
            user, scope = acting(s, self.world, VILLAGERS[model.household])
            return redemptions.cancel_redemption(s, scope, user, redemption).status.value

        assert self.attempt(act) == expected
        if expected == "cancelled":
            self.model.release(model, RedemptionStatus.cancelled)

    def decide_redemption(self, redemption: int, approve: bool) -> None:
        model = self.model.redemptions[redemption]
        pending = model.status == RedemptionStatus.pending
        expected = ("approved" if approve else "rejected") if pending else "redemption_not_pending"

        def act(s: Session) -> tuple[str, str, datetime | None]:
            user, scope = self.staff(s)
            if approve:
                done = redemptions.approve_redemption(s, scope, user, redemption)
            else:
                done = redemptions.reject_redemption(s, scope, user, redemption, "库存核对有误")
            return done.status.value, done.pickup_code or "", done.expires_at

        got = self.attempt(act)
        assert (got if isinstance(got, str) else got[0]) == expected
        if expected == "approved":
            model.status, model.code, model.expires_at = RedemptionStatus.approved, got[1], got[2]
        elif expected == "rejected":
            self.model.release(model, RedemptionStatus.rejected)

    def hand_over(self, redemption: int, right_code: bool) -> None:
        """The keeper hands over against the pickup code: a wrong code, a second hand-over or an unapproved
        redemption is refused."""
        model = self.model.redemptions[redemption]
        if model.status != RedemptionStatus.approved:
            expected = "redemption_not_approved"
        else:
            expected = "handed_over" if right_code else "pickup_code_invalid"
        code = model.code if right_code else f"{(int(model.code or 0) + 1) % 10**6:06d}"

        def act(s: Session) -> str:
            user, scope = self.staff(s)
            return redemptions.hand_over(s, scope, user, redemption, code).status.value

        assert self.attempt(act) == expected
        if expected == "handed_over":
            model.status = RedemptionStatus.handed_over
            self.model.held[model.household] -= model.points
            self.model.left[model.product] += model.quantity

    @rule(product=st.sampled_from(sorted(PRODUCTS)), quantity=st.integers(1, 4), write_off=st.booleans())
    def stock_moves(self, product: str, quantity: int, write_off: bool) -> None:
        """Donated goods arrive, or spoiled ones are written off (never units held for villagers)."""
        expected = "out_of_stock" if write_off and self.model.stock[product] < quantity else "moved"
        move = stock.write_off if write_off else stock.restock

        def act(s: Session) -> str:
            _user, scope = self.staff(s)
            move(s, scope, self.id_of("user:reviewer"), self.id_of(f"product:{product}"), quantity, "盘点")
            return "moved"

        assert self.attempt(act) == expected
        if expected == "moved":
            self.model.stock[product] += -quantity if write_off else quantity
            (self.model.left if write_off else self.model.arrived)[product] += quantity

    @rule(hours=st.sampled_from([1, 24, 3 * 24, 8 * 24, 20 * 24]))
    def time_passes(self, hours: int) -> None:
        """The clock moves; the hourly jobs run: approved goods not collected in time expire (points and
        units back), and notices whose objection window passed quietly lock."""
        self.clock.shift(timedelta(hours=hours))
        now = now_utc()
        expected = [
            r for r in self.model.redemptions.values() if r.status == RedemptionStatus.approved and r.expires_at <= now
        ]
        assert self.attempt(lambda s: redemptions.expire_overdue(s, now)) == len(expected)
        for model in expected:
            self.model.release(model, RedemptionStatus.expired)
        self.attempt(notice.lock_due_notices)
        for month in self.model.notices:
            self.model.lock_if_due(month, now)

    # -- the monthly notice --------------------------------------------------------------------------------

    @precondition(lambda self: not {months_back(0), months_back(1)} <= set(self.model.notices))
    @rule(months_ago=st.integers(0, 1))
    def close_month(self, months_ago: int) -> None:
        month = months_back(months_ago)
        expected = "month_already_closed" if month in self.model.notices else "published"

        def act(s: Session) -> tuple[str, int, datetime]:
            user, scope = self.staff(s)
            closed = notice.close_month(s, scope, user, self.id_of("V1"), month)
            return closed.status.value, closed.id, closed.objection_deadline

        got = self.attempt(act)
        assert (got if isinstance(got, str) else got[0]) == expected
        if expected == "published":
            self.model.notices[month] = NoticeModel(got[1], got[2])

    @rule(target=objections, household=st.sampled_from(sorted(VILLAGERS)), months_ago=st.integers(0, 1))
    def object_to(self, household: str, months_ago: int):  # type: ignore[no-untyped-def]
        """Within the window anyone may object; before the month is closed (not_found) or after the window
        (objection_window_closed) nobody can."""
        month = months_back(months_ago)
        found = self.model.notices.get(month)
        if found is None:
            expected = "not_found"
        elif found.locked or now_utc() >= found.deadline:
            expected = "objection_window_closed"
        else:
            expected = "open"

        def act(s: Session) -> int:
            user, scope = acting(s, self.world, VILLAGERS[household])
            return notice.file_objection(s, scope, user, month, entry_id=None, text="有异议").id

        got = self.attempt(act)
        assert (expected if isinstance(got, int) else got) == expected
        if not isinstance(got, int):
            return multiple()
        found.open_objections.add(got)
        self.model.objections[got] = (household, month, True)
        return got

    @rule(objection=objections, uphold=st.booleans(), amount=st.integers(-5, 5))
    def answer(self, objection: int, uphold: bool, amount: int) -> None:
        """Uphold (a correction entry in the next open month) or dismiss; a second answer is refused."""
        household, month, is_open = self.model.objections[objection]
        expected = ("upheld" if uphold else "dismissed") if is_open else "objection_already_decided"

        def act(s: Session) -> str:
            user, scope = self.staff(s)
            if uphold:
                return notice.uphold_objection(s, scope, user, objection, amount=amount, reason="核实").status.value
            return notice.dismiss_objection(s, scope, user, objection, reason="不属实").status.value

        now = now_utc()
        assert self.attempt(act) == expected
        if is_open:
            self.model.objections[objection] = (household, month, False)
            self.model.notices[month].open_objections.discard(objection)
            if uphold and amount:
                self.model.post(household, amount)
            self.model.lock_if_due(month, now)

    @precondition(lambda self: len(self.model.notices) > 1)
    @rule(latest=st.booleans())
    def lock(self, latest: bool) -> None:
        """The panel locks a month by hand: refused while the window is open or objections wait."""
        found = self.model.notices[sorted(self.model.notices)[-1 if latest else -2]]
        if found.locked:
            expected = "locked"
        elif now_utc() < found.deadline:
            expected = "objection_window_open"
        elif found.open_objections:
            expected = "objections_pending"
        else:
            expected = "locked"

        def act(s: Session) -> str:
            user, scope = self.staff(s)
            return notice.lock_notice(s, scope, user, found.id).status.value

        assert self.attempt(act) == expected
        found.locked = expected == "locked"

    # -- invariants (after every step) ---------------------------------------------------------------------

    @invariant()
    def books_balance(self) -> None:
        assert balance_mismatches(db.session) == []
        assert stock_mismatches(db.session) == []

    @invariant()
    def nothing_negative(self) -> None:
        s = db.session
        assert s.scalar(select(func.count()).where(PointsAccount.held < 0)) == 0
        assert s.scalar(select(func.count()).where((Product.stock < 0) | (Product.held < 0))) == 0
        below_zero = s.scalars(
            select(LedgerEntry.kind).where(LedgerEntry.balance_after < 0, LedgerEntry.amount < 0)
        ).all()
        assert set(below_zero) <= MAY_GO_BELOW_ZERO, "only a deduction, veto or correction may go below zero"

    @invariant()
    def database_agrees_with_the_model(self) -> None:
        s = db.session
        accounts = {self.household_of(a.household_id): (a.balance, a.held) for a in s.scalars(select(PointsAccount))}
        expected = {h: (b, self.model.held[h]) for h, b in self.model.balance.items()}
        assert accounts == expected
        statuses = dict(s.execute(select(Claim.id, Claim.status)).all())
        assert statuses == {k: c.status for k, c in self.model.claims.items()}
        statuses = dict(s.execute(select(Redemption.id, Redemption.status)).all())
        assert statuses == {k: r.status for k, r in self.model.redemptions.items()}
        assert dict(s.execute(select(Product.name, Product.stock)).all()) == dict(self.model.stock)

    @invariant()
    def holds_match_open_redemptions_and_stock_is_conserved(self) -> None:
        s = db.session
        open_held = select(
            Redemption.household_id, Redemption.product_id, Redemption.points_held, Redemption.quantity
        ).where(Redemption.status.in_(OPEN))
        points, units = Counter[int](), Counter[int]()
        for household_id, product_id, held, quantity in s.execute(open_held):
            points[household_id] += held
            units[product_id] += quantity
        assert {a.household_id: a.held for a in s.scalars(select(PointsAccount)) if a.held} == +points
        for product in s.scalars(select(Product)):
            name = product.name
            assert product.held == units[product.id]
            # On the shelf = first stock + restocks − write-offs − handed over.
            assert product.stock + product.held == self.model.arrived[name] - self.model.left[name]

    @invariant()
    def every_hold_resolves_at_most_once(self) -> None:
        s = db.session
        points = Counter(
            s.execute(
                select(LedgerEntry.source_id, LedgerEntry.kind).where(LedgerEntry.source_type == "redemption")
            ).tuples()
        )
        units = Counter(
            s.execute(
                select(StockEntry.redemption_id, StockEntry.kind).where(StockEntry.redemption_id.isnot(None))
            ).tuples()
        )
        for redemption in s.scalars(select(Redemption)):
            rid, closed = redemption.id, redemption.status not in OPEN
            assert points[(rid, EntryKind.hold)] == units[(rid, StockKind.hold)] == 1
            assert points[(rid, EntryKind.release)] + points[(rid, EntryKind.spend)] == int(closed)
            assert units[(rid, StockKind.release)] + units[(rid, StockKind.hand_over)] == int(closed)
            handed = int(redemption.status == RedemptionStatus.handed_over)
            assert points[(rid, EntryKind.spend)] == units[(rid, StockKind.hand_over)] == handed

    @invariant()
    def per_household_limits_hold(self) -> None:
        taken: Counter[tuple[int, int, str]] = Counter()
        for r in db.session.scalars(select(Redemption).where(Redemption.status.in_(COUNTED_STATUSES))):
            taken[(r.household_id, r.product_id, str(Month.of(r.requested_on)))] += r.quantity
        limits = {self.id_of(f"product:{name}"): limit for name, (_p, _u, limit) in PRODUCTS.items()}
        assert all(limits[product] is None or n <= limits[product] for (_h, product, _m), n in taken.items())

    @invariant()
    def no_entry_or_published_line_ever_changes(self) -> None:
        self.snapshot()

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

    def snapshot(self) -> None:
        """Entries (points and stock) and published notice lines are append-only: compare with the last look."""
        for name, table in (
            ("entries", LedgerEntry.__table__),
            ("stock_entries", StockEntry.__table__),
            ("lines", NoticeLine.__table__),
        ):
            before, now = getattr(self, name), rows(table)
            assert {k: now.get(k) for k in before} == before, f"{name} changed"
            setattr(self, name, now)
        db.session.rollback()


def test_the_village_books_stay_consistent_under_any_sequence_of_operations(app: Flask) -> None:
    VillageBooks.app, VillageBooks.villages = app, {}
    run_state_machine_as_test(
        VillageBooks,
        settings=settings(
            max_examples=15,
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
