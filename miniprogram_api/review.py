"""The village review panel (评议小组) on the phone: pending claims, approve, reject, batch."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import ValidationError, fields, validate, validates_schema

from backend.db import db
from backend.points import claims
from backend.points.models import ClaimStatus
from miniprogram_api import BASE
from miniprogram_api.points import ClaimSchema, claims_page, with_photos
from miniprogram_api.policy import ADMINS, allow, current_scope, current_user
from miniprogram_api.schemas import ApiSchema, Int, ListArgs, Page

blp = Blueprint("mp_review", __name__, url_prefix=f"{BASE}/review", description="评议审核")


class ReviewListArgs(ListArgs):
    status = fields.Enum(ClaimStatus, load_default=ClaimStatus.pending)


class RejectArgs(ApiSchema):
    reason = fields.String(required=True, validate=validate.Length(min=2, max=300))


class BatchArgs(ApiSchema):
    claim_ids = fields.List(Int(), required=True, validate=validate.Length(min=1, max=100))
    approve = fields.Boolean(required=True)
    reason = fields.String(load_default=None, validate=validate.Length(min=2, max=300))

    @validates_schema
    def _rejections_need_a_reason(self, data: dict, **_kwargs: object) -> None:
        if not data["approve"] and not data.get("reason"):
            raise ValidationError("驳回必须填写理由", "reason")


class BatchOutcomeSchema(ApiSchema):
    claim_id = Int()
    status = fields.String(allow_none=True)
    error = fields.String(allow_none=True)


class BatchResultSchema(ApiSchema):
    results = fields.List(fields.Nested(BatchOutcomeSchema))


@blp.route("/claims", methods=["GET"])
@allow(*ADMINS)
@blp.arguments(ReviewListArgs, location="query")
@blp.response(200, Page(ClaimSchema))
def pending_claims(args: dict) -> dict:
    """Claims of the caller's villages awaiting review (or in another status), oldest first."""
    return claims_page(args["status"], args, newest_first=False)


@blp.route("/claims/<int:claim_id>/approve", methods=["POST"])
@allow(*ADMINS)
@blp.response(200, ClaimSchema)
def approve(claim_id: int):  # type: ignore[no-untyped-def]
    """Approve a claim as this panel member (the points move at the village's quorum); the claim."""
    return with_photos([claims.approve_claim(db.session, current_scope(), current_user(), claim_id)])[0]


@blp.route("/claims/<int:claim_id>/reject", methods=["POST"])
@allow(*ADMINS)
@blp.arguments(RejectArgs)
@blp.response(200, ClaimSchema)
def reject(args: dict, claim_id: int):  # type: ignore[no-untyped-def]
    """Reject a claim with a reason, which ends it and tells the household; the claim."""
    return with_photos([claims.reject_claim(db.session, current_scope(), current_user(), claim_id, args["reason"])])[0]


@blp.route("/claims/batch", methods=["POST"])
@allow(*ADMINS)
@blp.arguments(BatchArgs)
@blp.response(200, BatchResultSchema)
def batch(args: dict) -> dict:
    """Approve or reject several claims at once; each claim's new status or error."""
    outcomes = claims.review_claims(
        db.session, current_scope(), current_user(), args["claim_ids"], approve=args["approve"], reason=args["reason"]
    )
    return {"results": outcomes}
