"""Villager points: summary, ledger, the rule book in force, claims."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import fields, validate

from backend.auth.models import Role
from backend.db import db
from backend.errors import Forbidden
from backend.points import claims, ledger
from backend.points.models import Claim, ClaimStatus, LedgerEntry
from backend.points.rules import rules_in_force
from miniprogram_api import BASE
from miniprogram_api.policy import allow, current_scope, current_user, idempotent
from miniprogram_api.schemas import ApiSchema, ListArgs, Page, page

blp = Blueprint("mp_points", __name__, url_prefix=BASE, description="村民积分")


class MonthSchema(ApiSchema):
    month = fields.String()
    earned = fields.Integer()
    deducted = fields.Integer()


class SummarySchema(ApiSchema):
    household_id = fields.Integer()
    balance = fields.Integer()
    held = fields.Integer()
    month = fields.Function(lambda s: {"month": s.month, "earned": s.earned, "deducted": s.deducted})
    vetoed_this_month = fields.Boolean()
    rank_in_village = fields.Integer(allow_none=True)
    honors = fields.Function(lambda s: [])


class LedgerEntrySchema(ApiSchema):
    id = fields.Integer()
    at = fields.DateTime(attribute="created_at")
    amount = fields.Integer()
    kind = fields.String()
    reason = fields.String()
    rule_item = fields.Function(lambda e: e.rule_item and {"id": e.rule_item.id, "code": e.rule_item.code})
    balance_after = fields.Integer()
    month = fields.String()


class RuleItemSchema(ApiSchema):
    id = fields.Integer()
    code = fields.String()
    kind = fields.String()
    title = fields.String()
    points = fields.Integer()
    evidence_required = fields.Boolean()
    cap = fields.Function(lambda i: i.cap_count and {"count": i.cap_count, "period": i.cap_period.value})


class RuleBookSchema(ApiSchema):
    id = fields.Integer()
    version = fields.Integer()
    title = fields.String()
    effective_from = fields.Date()
    base_score = fields.Integer()
    items = fields.List(fields.Nested(RuleItemSchema))


class RulesArgs(ApiSchema):
    village_id = fields.Integer(load_default=None)


class ClaimArgs(ApiSchema):
    rule_item_id = fields.Integer(required=True)
    occurred_on = fields.Date(required=True)
    note = fields.String(load_default="", validate=validate.Length(max=500))
    photo_ids = fields.List(fields.String(), load_default=list, validate=validate.Length(max=3))
    household_id = fields.Integer(load_default=None)


class ReviewSchema(ApiSchema):
    reviewer_id = fields.Integer()
    approve = fields.Boolean()
    reason = fields.String(allow_none=True)
    at = fields.DateTime()


class ClaimSchema(ApiSchema):
    id = fields.Integer()
    household_id = fields.Integer()
    village_id = fields.Integer()
    rule_item = fields.Nested(RuleItemSchema)
    occurred_on = fields.Date()
    note = fields.String()
    source = fields.String()
    status = fields.String()
    submitted_at = fields.DateTime()
    decided_at = fields.DateTime(allow_none=True)
    reject_reason = fields.String(allow_none=True)
    reviews = fields.List(fields.Nested(ReviewSchema))


class ClaimListArgs(ListArgs):
    status = fields.Enum(ClaimStatus, load_default=None)


def own_household_id() -> int:
    scope = current_scope()
    if scope.household_id is None:
        raise Forbidden("请先绑定户")
    return scope.household_id


@blp.route("/points/summary", methods=["GET"])
@allow(Role.villager)
@blp.response(200, SummarySchema)
def summary():  # type: ignore[no-untyped-def]
    return ledger.household_summary(db.session, own_household_id())


@blp.route("/points/ledger", methods=["GET"])
@allow(Role.villager)
@blp.arguments(ListArgs, location="query")
@blp.response(200, Page(LedgerEntrySchema))
def ledger_entries(args: dict) -> dict:
    return page(db.session, ledger.ledger_query(own_household_id()), LedgerEntry.id, args, newest_first=True)


@blp.route("/rules", methods=["GET"])
@allow(*Role)
@blp.arguments(RulesArgs, location="query")
@blp.response(200, RuleBookSchema)
def rules(args: dict):  # type: ignore[no-untyped-def]
    return rules_in_force(db.session, current_scope(), args["village_id"])


@blp.route("/claims", methods=["POST"])
@allow(Role.villager, Role.cadre)
@idempotent
@blp.arguments(ClaimArgs)
@blp.response(201, ClaimSchema)
def submit(args: dict):  # type: ignore[no-untyped-def]
    return claims.submit_claim(
        db.session,
        current_scope(),
        current_user(),
        rule_item_id=args["rule_item_id"],
        occurred_on=args["occurred_on"],
        note=args["note"],
        household_id=args["household_id"],
    )


@blp.route("/claims", methods=["GET"])
@allow(Role.villager, Role.cadre)
@blp.arguments(ClaimListArgs, location="query")
@blp.response(200, Page(ClaimSchema))
def list_claims(args: dict) -> dict:
    return page(db.session, claims.claims_query(current_scope(), args["status"]), Claim.id, args, newest_first=True)
