"""Villager points: summary, ledger, the rule book in force, claims."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import fields, validate

from backend.auth.models import Role
from backend.db import db
from backend.errors import Forbidden
from backend.photos.service import photos_of
from backend.points import claims, honors, ledger, notice
from backend.points.models import Claim, ClaimStatus, LedgerEntry, Objection
from backend.points.rules import rules_in_force
from miniprogram_api import BASE
from miniprogram_api.policy import ADMINS, allow, current_scope, current_user, idempotent
from miniprogram_api.schemas import ApiSchema, Int, ListArgs, Page, page
from miniprogram_api.uploads import PhotoSchema

blp = Blueprint("mp_points", __name__, url_prefix=BASE, description="村民积分")


class HonorSchema(ApiSchema):
    kind = fields.String(metadata={"description": "rank（排名）| star（星级文明户）"})
    period = fields.String(metadata={"description": "2026-10 / 2026-Q4 / 2026"})
    title = fields.String()
    rank = Int(allow_none=True)
    stars = Int(allow_none=True)


class SummarySchema(ApiSchema):
    household_id = Int()
    balance = Int()
    held = Int()
    month = fields.Function(lambda s: {"month": s.month, "earned": s.earned, "deducted": s.deducted})
    vetoed_this_month = fields.Boolean()
    rank_in_village = Int(allow_none=True)
    honors = fields.List(fields.Nested(HonorSchema))


class LedgerEntrySchema(ApiSchema):
    id = Int()
    at = fields.DateTime(attribute="created_at")
    amount = Int()
    kind = fields.String()
    reason = fields.String()
    rule_item = fields.Function(lambda e: e.rule_item and {"id": e.rule_item.id, "code": e.rule_item.code})
    balance_after = Int()
    month = fields.String()


class RuleItemSchema(ApiSchema):
    id = Int()
    code = fields.String()
    kind = fields.String()
    title = fields.String()
    points = Int()
    evidence_required = fields.Boolean()
    cap = fields.Function(lambda i: i.cap_count and {"count": i.cap_count, "period": i.cap_period.value})


class RuleBookSchema(ApiSchema):
    id = Int()
    version = Int()
    title = fields.String()
    effective_from = fields.Date()
    base_score = Int()
    items = fields.List(fields.Nested(RuleItemSchema))


class RulesArgs(ApiSchema):
    village_id = Int(load_default=None)


class ClaimArgs(ApiSchema):
    rule_item_id = Int(required=True)
    occurred_on = fields.Date(required=True)
    note = fields.String(load_default="", validate=validate.Length(max=500))
    photo_ids = fields.List(fields.String(), load_default=list, validate=validate.Length(max=3))
    household_id = Int(load_default=None)


class ReviewSchema(ApiSchema):
    reviewer_id = Int()
    approve = fields.Boolean()
    reason = fields.String(allow_none=True)
    at = fields.DateTime()


class ClaimSchema(ApiSchema):
    id = Int()
    household_id = Int()
    village_id = Int()
    rule_item = fields.Nested(RuleItemSchema)
    occurred_on = fields.Date()
    note = fields.String()
    source = fields.String()
    status = fields.String()
    submitted_at = fields.DateTime()
    decided_at = fields.DateTime(allow_none=True)
    reject_reason = fields.String(allow_none=True)
    reviews = fields.List(fields.Nested(ReviewSchema))
    photos = fields.List(
        fields.Nested(PhotoSchema),
        attribute="evidence_photos",
        metadata={"description": "申报照片（签名链接，会过期）"},
    )


class ClaimListArgs(ListArgs):
    status = fields.Enum(ClaimStatus, load_default=None)


def with_photos(found: list[Claim]) -> list[Claim]:
    """Each claim's evidence photos, one query for the page (PhotoSchema signs their URLs for the caller)."""
    by_claim = photos_of(db.session, "claim", [claim.id for claim in found])
    for claim in found:
        claim.evidence_photos = by_claim.get(claim.id, [])
    return found


def claims_page(status: ClaimStatus | None, args: dict, *, newest_first: bool) -> dict:
    listing = page(db.session, claims.claims_query(current_scope(), status), Claim.id, args, newest_first=newest_first)
    return {**listing, "items": with_photos(listing["items"])}


def own_household_id() -> int:
    scope = current_scope()
    if scope.household_id is None:
        raise Forbidden("请先绑定户")
    return scope.household_id


@blp.route("/points/summary", methods=["GET"])
@allow(Role.villager)
@blp.response(200, SummarySchema)
def summary():  # type: ignore[no-untyped-def]
    """The household's balance, held points and this month's change, with its village rank and honors."""
    return honors.summary_with_honors(db.session, own_household_id())


@blp.route("/points/ledger", methods=["GET"])
@allow(Role.villager)
@blp.arguments(ListArgs, location="query")
@blp.response(200, Page(LedgerEntrySchema))
def ledger_entries(args: dict) -> dict:
    """The household's points ledger, newest first, each entry with the balance after it."""
    return page(db.session, ledger.ledger_query(own_household_id()), LedgerEntry.id, args, newest_first=True)


@blp.route("/rules", methods=["GET"])
@allow(*Role)
@blp.arguments(RulesArgs, location="query")
@blp.response(200, RuleBookSchema)
def rules(args: dict):  # type: ignore[no-untyped-def]
    """The points rule book the village uses today (callers covering several villages name one)."""
    return rules_in_force(db.session, current_scope(), args["village_id"])


@blp.route("/claims", methods=["POST"])
@allow(Role.villager, Role.cadre)
@idempotent
@blp.arguments(ClaimArgs)
@blp.response(201, ClaimSchema)
def submit(args: dict):  # type: ignore[no-untyped-def]
    """File a points claim for a rule item, with evidence photos; the claim, pending review."""
    claim = claims.submit_claim(
        db.session,
        current_scope(),
        current_user(),
        rule_item_id=args["rule_item_id"],
        occurred_on=args["occurred_on"],
        note=args["note"],
        household_id=args["household_id"],
        photo_ids=args["photo_ids"],
    )
    return with_photos([claim])[0]


@blp.route("/claims", methods=["GET"])
@allow(Role.villager, Role.cadre)
@blp.arguments(ClaimListArgs, location="query")
@blp.response(200, Page(ClaimSchema))
def list_claims(args: dict) -> dict:
    """Claims the caller may see (a villager's household's, a cadre's villages'), newest first."""
    return claims_page(args["status"], args, newest_first=True)


class NoticeLineSchema(ApiSchema):
    household_id = Int()
    household_number = fields.String()
    name = fields.String(attribute="masked_name", metadata={"description": "户主姓名（脱敏）"})
    earned = Int()
    deducted = Int()
    balance = Int(metadata={"description": "月末积分"})
    vetoed = fields.Boolean()


class NoticeEntrySchema(ApiSchema):
    id = Int()
    household_id = Int()
    at = fields.DateTime(attribute="created_at")
    kind = fields.String()
    amount = Int()
    reason = fields.String()
    rule_item = fields.Function(lambda e: e.rule_item and {"id": e.rule_item.id, "code": e.rule_item.code})


class ObjectionSchema(ApiSchema):
    id = Int()
    household_id = Int()
    entry_id = Int(allow_none=True)
    text = fields.String()
    status = fields.String(metadata={"description": "open | upheld（成立，已更正）| dismissed（不成立）"})
    submitted_at = fields.DateTime()
    decided_at = fields.DateTime(allow_none=True)
    answer = fields.String(allow_none=True)
    correction_entry_id = Int(allow_none=True)


class PublicationSchema(ApiSchema):
    village_id = fields.Function(lambda p: p.notice.village_id)
    village_name = fields.String()
    month = fields.Function(lambda p: p.notice.month)
    status = fields.Function(lambda p: p.notice.status.value)
    published_at = fields.Function(lambda p: p.notice.published_at.isoformat())
    objection_deadline = fields.Function(lambda p: p.notice.objection_deadline.isoformat())
    objection_open = fields.Boolean()
    locked_at = fields.Function(lambda p: p.notice.locked_at and p.notice.locked_at.isoformat())
    lines = fields.Function(lambda p: NoticeLineSchema(many=True).dump(p.notice.lines))
    entries = fields.Function(
        lambda p: [
            {**NoticeEntrySchema().dump(e), "household_number": p.household_numbers.get(e.household_id)}
            for e in p.entries
        ]
    )
    objections = fields.List(fields.Nested(ObjectionSchema))


class PublicationArgs(ApiSchema):
    village_id = Int(load_default=None)


class ObjectionArgs(ApiSchema):
    entry_id = Int(load_default=None)
    text = fields.String(required=True, validate=validate.Length(min=2, max=500))


@blp.route("/publications/<month>", methods=["GET"])
@allow(Role.villager, *ADMINS)
@blp.arguments(PublicationArgs, location="query")
@blp.response(200, PublicationSchema)
def get_publication(args: dict, month: str):  # type: ignore[no-untyped-def]
    """A village's monthly points notice (公示): lines, entries, objections, whether objecting is open."""
    return notice.publication(db.session, current_scope(), month, args["village_id"])


@blp.route("/publications/<month>/objections", methods=["POST"])
@allow(Role.villager)
@idempotent
@blp.arguments(ObjectionArgs)
@blp.response(201, ObjectionSchema)
def object_to_publication(args: dict, month: str) -> Objection:
    """Object to the month's notice or one of its entries while the window is open; the objection."""
    return notice.file_objection(
        db.session, current_scope(), current_user(), month, entry_id=args["entry_id"], text=args["text"]
    )
