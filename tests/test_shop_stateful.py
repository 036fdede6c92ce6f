"""Random sequences of redemptions, decisions, hand-overs, cancellations, expiries, restocks, write-offs and
point credits: after every step the books balance, nothing is negative, and every hold resolves at most once."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from sqlalchemy import func, select

from backend.auth.models import User
from backend.db import db, unit_of_work
from backend.errors import DomainError
from backend.points import claims
from backend.points.ledger import balance_mismatches
from backend.points.models import LedgerEntry, PointsAccount
from backend.shop import redemptions, stock
from backend.shop.models import Product, Redemption, RedemptionStatus, StockEntry, StockKind
from backend.shop.stock import stock_mismatches
from backend.timeutil import now_utc
from tests.conftest import wipe
from tests.factories import build_world
from tests.factories_shop import add_product, staff_scope, stock_shop, villager_scope

HOUSEHOLDS = (("H1", "villager"), ("H2", "villager_neighbour"))
OPEN = (RedemptionStatus.pending, RedemptionStatus.approved)


def test_the_shop_books_stay_consistent_under_any_sequence_of_operations(app: Flask) -> None:
    class ShopMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            wipe(app)
            with app.app_context(), unit_of_work(db.session) as s:
                self.world = build_world(s)
                stock_shop(s, self.world)
                self.products = [self.world.ids["product:rice"], add_product(s, self.world, "香皂", 5, 6)]
            self.redemption_ids: list[int] = []
            self.moved_out = Counter[int]()  # units written off or handed over, per product
            self.arrived = Counter({self.products[0]: 10, self.products[1]: 6})

        def attempt(self, action) -> object:  # type: ignore[no-untyped-def]
            """One request: committed if it succeeds, rolled back if refused (as the request boundary does)."""
            with app.app_context():
                try:
                    with unit_of_work(db.session) as s:
                        return action(s)
                except DomainError:
                    return None
                finally:
                    db.session.remove()

        def user(self, s, key: str) -> User:  # type: ignore[no-untyped-def]
            return s.get_one(User, self.world.ids[f"user:{key}"])

        @rule(who=st.sampled_from(HOUSEHOLDS), product=st.integers(0, 1), quantity=st.integers(1, 3))
        def redeem(self, who: tuple[str, str], product: int, quantity: int) -> None:
            household, user = who
            made = self.attempt(
                lambda s: (
                    redemptions.request_redemption(
                        s,
                        villager_scope(self.world, household, "V1", user),
                        self.user(s, user),
                        self.products[product],
                        quantity,
                    ).id
                )
            )
            if made is not None:
                self.redemption_ids.append(made)

        def in_status(self, status: RedemptionStatus) -> list[int]:
            with app.app_context():
                found = list(db.session.scalars(select(Redemption.id).where(Redemption.status == status)))
                db.session.remove()
            return found

        @precondition(lambda self: self.redemption_ids)
        @rule(
            pick=st.integers(0, 1000), decision=st.sampled_from(["approve", "reject", "cancel", "hand_over", "wrong"])
        )
        def decide_any(self, pick: int, decision: str) -> None:
            """Any decision on any redemption, valid in its state or not."""
            self.decide(self.redemption_ids[pick % len(self.redemption_ids)], decision)

        @rule(pick=st.integers(0, 1000), decision=st.sampled_from(["approve", "reject", "cancel"]))
        def decide_a_pending_one(self, pick: int, decision: str) -> None:
            pending = self.in_status(RedemptionStatus.pending)
            if pending:
                self.decide(pending[pick % len(pending)], decision)

        @rule(pick=st.integers(0, 1000), decision=st.sampled_from(["hand_over", "wrong", "cancel"]))
        def collect_an_approved_one(self, pick: int, decision: str) -> None:
            approved = self.in_status(RedemptionStatus.approved)
            if approved:
                self.decide(approved[pick % len(approved)], decision)

        def decide(self, redemption_id: int, decision: str) -> None:
            staff = staff_scope(self.world, "V1")

            def act(s):  # type: ignore[no-untyped-def]
                reviewer = self.user(s, "reviewer")
                if decision == "approve":
                    return redemptions.approve_redemption(s, staff, reviewer, redemption_id)
                if decision == "reject":
                    return redemptions.reject_redemption(s, staff, reviewer, redemption_id, "抽查驳回")
                if decision == "cancel":
                    owner = s.get_one(Redemption, redemption_id).household_id
                    household, user = next((h, u) for h, u in HOUSEHOLDS if self.world.ids[h] == owner)
                    scope = villager_scope(self.world, household, "V1", user)
                    return redemptions.cancel_redemption(s, scope, self.user(s, user), redemption_id)
                code = s.get_one(Redemption, redemption_id).pickup_code or ""
                if decision == "wrong":
                    code = f"{(int(code or 0) + 1) % 10**6:06d}"
                done = redemptions.hand_over(s, staff, reviewer, redemption_id, code)
                return done.product_id, done.quantity

            handed = self.attempt(act)
            if decision == "hand_over" and handed is not None:
                product_id, quantity = handed
                self.moved_out[product_id] += quantity
            assert not (decision == "wrong" and handed is not None), "a wrong pickup code handed goods over"

        @rule()
        def time_passes(self) -> None:
            self.attempt(lambda s: redemptions.expire_overdue(s, now_utc() + timedelta(days=8)))

        @rule(product=st.integers(0, 1), quantity=st.integers(1, 5), write_off=st.booleans())
        def stock_moves(self, product: int, quantity: int, write_off: bool) -> None:
            product_id = self.products[product]
            move = stock.write_off if write_off else stock.restock
            done = self.attempt(
                lambda s: move(
                    s, staff_scope(self.world, "V1"), self.world.ids["user:reviewer"], product_id, quantity, "盘点"
                )
            )
            if done is not None:
                (self.moved_out if write_off else self.arrived)[product_id] += quantity

        @rule(who=st.sampled_from(HOUSEHOLDS), item=st.sampled_from(["P01", "P02", "P04", "P05", "P06"]))
        def good_deed_credited(self, who: tuple[str, str], item: str) -> None:
            household, user = who

            def credit(s):  # type: ignore[no-untyped-def]
                scope = villager_scope(self.world, household, "V1", user)
                claim = claims.submit_claim(
                    s,
                    scope,
                    self.user(s, user),
                    rule_item_id=self.world.ids[f"item:{item}"],
                    occurred_on=date.today(),
                    note="",
                )
                return claims.approve_claim(s, staff_scope(self.world, "V1"), self.user(s, "reviewer"), claim.id)

            self.attempt(credit)

        @invariant()
        def books_balance_and_nothing_is_negative(self) -> None:
            with app.app_context():
                s = db.session
                assert balance_mismatches(s) == []
                assert stock_mismatches(s) == []
                assert s.scalar(select(func.count()).where((PointsAccount.balance < 0) | (PointsAccount.held < 0))) == 0
                for product in s.scalars(select(Product)):
                    assert product.stock >= 0 and product.held >= 0
                    open_units = s.scalar(
                        select(func.coalesce(func.sum(Redemption.quantity), 0)).where(
                            Redemption.product_id == product.id, Redemption.status.in_(OPEN)
                        )
                    )
                    assert product.held == open_units
                    # Conservation: on the shelf = arrived − written off − handed over.
                    assert product.stock + product.held == self.arrived[product.id] - self.moved_out[product.id]
                db.session.remove()

        @invariant()
        def every_hold_resolves_at_most_once(self) -> None:
            with app.app_context():
                s = db.session
                points = Counter(
                    (source_id, kind.value)
                    for source_id, kind in s.execute(
                        select(LedgerEntry.source_id, LedgerEntry.kind).where(LedgerEntry.source_type == "redemption")
                    )
                )
                units = Counter(
                    (rid, kind.value)
                    for rid, kind in s.execute(
                        select(StockEntry.redemption_id, StockEntry.kind).where(StockEntry.redemption_id.isnot(None))
                    )
                )
                for redemption in s.scalars(select(Redemption)):
                    closes = points[(redemption.id, "release")] + points[(redemption.id, "spend")]
                    assert points[(redemption.id, "hold")] == 1 and units[(redemption.id, StockKind.hold.value)] == 1
                    assert closes == (0 if redemption.status in OPEN else 1), redemption.status
                    spent = redemption.status == RedemptionStatus.handed_over
                    assert points[(redemption.id, "spend")] == units[(redemption.id, "hand_over")] == int(spent)
                db.session.remove()

    run_state_machine_as_test(
        ShopMachine,
        settings=settings(
            max_examples=15, stateful_step_count=20, deadline=None, suppress_health_check=list(HealthCheck)
        ),
    )
    wipe(app)
