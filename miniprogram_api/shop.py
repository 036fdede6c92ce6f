"""The points supermarket on the phone: villagers browse and redeem; the review panel (shop keeper)
approves, rejects and hands over with the pickup code."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Response, current_app, g
from flask_smorest import Blueprint
from marshmallow import fields, validate

from backend.auth.models import Role
from backend.db import db
from backend.errors import PickupCodeInvalid
from backend.extensions import limiter
from backend.shop import redemptions, stock
from backend.shop.models import Product, Redemption, RedemptionStatus
from miniprogram_api import BASE
from miniprogram_api.policy import ADMINS, allow, current_scope, current_user, idempotent
from miniprogram_api.schemas import ApiSchema, Int, ListArgs, Page, page

blp = Blueprint("mp_shop", __name__, url_prefix=f"{BASE}/shop", description="积分超市")
review_blp = Blueprint("mp_shop_review", __name__, url_prefix=f"{BASE}/review", description="积分超市审核与领取")

PICKUP_CODE_RATE_LIMIT = "5 per 10 minutes"


class ProductSchema(ApiSchema):
    id = Int()
    name = fields.String()
    unit = fields.String()
    description = fields.String()
    image_url = fields.String(allow_none=True)
    thumb_url = fields.String(allow_none=True)
    points = Int()
    stock = Int()
    per_household_limit = Int(allow_none=True)
    limit_period = fields.String()


class ProductListArgs(ListArgs):
    village_id = Int(load_default=None)


class RedeemArgs(ApiSchema):
    product_id = Int(required=True)
    quantity = Int(load_default=1, validate=validate.Range(min=1, max=redemptions.MAX_QUANTITY))


class RedemptionSchema(ApiSchema):
    id = Int()
    household_id = Int()
    village_id = Int()
    product = fields.Function(lambda r: {"id": r.product.id, "name": r.product.name, "unit": r.product.unit})
    quantity = Int()
    unit_points = Int()
    points_held = Int()
    status = fields.String()
    requested_on = fields.Date()
    created_at = fields.DateTime()
    decided_at = fields.DateTime(allow_none=True)
    reject_reason = fields.String(allow_none=True)
    expires_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)


class OwnRedemptionSchema(RedemptionSchema):
    """The household's own view also carries its pickup code while the goods wait."""

    pickup_code = fields.Function(lambda r: r.pickup_code if r.status == RedemptionStatus.approved else None)


class PickupCodeSchema(RedemptionSchema):
    pickup_code = fields.String()


class RedemptionListArgs(ListArgs):
    status = fields.Enum(RedemptionStatus, load_default=None)


class ReviewRedemptionListArgs(ListArgs):
    status = fields.Enum(RedemptionStatus, load_default=RedemptionStatus.pending)


class RedemptionRejectArgs(ApiSchema):
    reason = fields.String(required=True, validate=validate.Length(min=2, max=300))


def pickup_code_field() -> fields.String:
    return fields.String(required=True, validate=validate.Regexp(r"^\s*\d{6}\s*$", error="取货码为 6 位数字"))


class HandOverArgs(ApiSchema):
    pickup_code = pickup_code_field()


class PickupLookupArgs(ApiSchema):
    pickup_code = pickup_code_field()
    village_id = Int(load_default=None, metadata={"description": "管几个村时可指明；不指明则在所管的村里找"})


@blp.route("/products", methods=["GET"])
@allow(*Role)
@blp.arguments(ProductListArgs, location="query")
@blp.response(200, Page(ProductSchema))
def products(args: dict) -> dict:
    """Products on a village's shelf now: points, stock, household limit and photo URLs."""
    scope = current_scope()
    result = page(db.session, stock.shelf_query(scope, args["village_id"]), Product.id, args)
    return {**result, "items": stock.shelf_items(db.session, scope, result["items"])}


@blp.route("/redemptions", methods=["POST"])
@allow(Role.villager)
@idempotent
@blp.arguments(RedeemArgs)
@blp.response(201, OwnRedemptionSchema)
def redeem(args: dict):  # type: ignore[no-untyped-def]
    """Ask for goods for the household, setting its points and the stock aside; the pending redemption."""
    return redemptions.request_redemption(
        db.session, current_scope(), current_user(), args["product_id"], args["quantity"]
    )


@blp.route("/redemptions", methods=["GET"])
@allow(Role.villager)
@blp.arguments(RedemptionListArgs, location="query")
@blp.response(200, Page(OwnRedemptionSchema))
def my_redemptions(args: dict) -> dict:
    """The household's redemptions, newest first, with the pickup code while goods wait."""
    stmt = redemptions.redemptions_query(current_scope(), args["status"])
    return page(db.session, stmt, Redemption.id, args, newest_first=True)


@blp.route("/redemptions/<int:redemption_id>/cancel", methods=["POST"])
@allow(Role.villager)
@idempotent
@blp.response(200, OwnRedemptionSchema)
def cancel(redemption_id: int):  # type: ignore[no-untyped-def]
    """Cancel a redemption still awaiting review, releasing its points and stock; the redemption."""
    return redemptions.cancel_redemption(db.session, current_scope(), current_user(), redemption_id)


@blp.route("/redemptions/<int:redemption_id>/qr.svg", methods=["GET"])
@allow(Role.villager)
@blp.doc(responses={200: {"description": "取货二维码 (SVG)", "content": {"image/svg+xml": {}}}})
def pickup_qr(redemption_id: int) -> Response:
    """An approved redemption's pickup code as a QR image (SVG) for the keeper to scan."""
    svg = redemptions.pickup_qr_svg(db.session, current_scope(), redemption_id)
    response = Response(svg, mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "private, no-store"
    return response


@review_blp.route("/redemptions", methods=["GET"])
@allow(*ADMINS)
@review_blp.arguments(ReviewRedemptionListArgs, location="query")
@review_blp.response(200, Page(RedemptionSchema))
def review_list(args: dict) -> dict:
    """Redemptions of the caller's villages awaiting review (or in another status), oldest first."""
    return page(db.session, redemptions.redemptions_query(current_scope(), args["status"]), Redemption.id, args)


@review_blp.route("/redemptions/<int:redemption_id>/approve", methods=["POST"])
@allow(*ADMINS)
@review_blp.response(200, PickupCodeSchema)
def approve(redemption_id: int):  # type: ignore[no-untyped-def]
    """Approve a redemption; the redemption with the pickup code the villager will show."""
    return redemptions.approve_redemption(db.session, current_scope(), current_user(), redemption_id)


@review_blp.route("/redemptions/<int:redemption_id>/reject", methods=["POST"])
@allow(*ADMINS)
@review_blp.arguments(RedemptionRejectArgs)
@review_blp.response(200, RedemptionSchema)
def reject(args: dict, redemption_id: int):  # type: ignore[no-untyped-def]
    """Reject a redemption with a reason, releasing its points and stock; the redemption."""
    return redemptions.reject_redemption(db.session, current_scope(), current_user(), redemption_id, args["reason"])


def _wrong_code_answered(_response: Response) -> bool:
    return bool(g.get("pickup_code_wrong"))


# Only wrong codes count against the limit: guessing is throttled, a busy keeper is not.
pickup_code_limit = limiter.limit(
    lambda: current_app.config.get("PICKUP_CODE_RATE_LIMIT", PICKUP_CODE_RATE_LIMIT),
    deduct_when=_wrong_code_answered,
)


@contextmanager
def _counting_wrong_codes() -> Iterator[None]:
    try:
        yield
    except PickupCodeInvalid:
        g.pickup_code_wrong = True
        raise


@review_blp.route("/redemptions/by-pickup-code", methods=["GET"])
@allow(*ADMINS)
@pickup_code_limit
@review_blp.arguments(PickupLookupArgs, location="query")
@review_blp.response(200, RedemptionSchema)
def find_by_pickup_code(args: dict):  # type: ignore[no-untyped-def]
    """The redemption waiting for pickup that a code names, so the keeper sees the goods before handing them over."""
    with _counting_wrong_codes():
        found = redemptions.find_by_pickup_code(db.session, current_scope(), args["village_id"], args["pickup_code"])
    return db.session.get_one(Redemption, found)


@review_blp.route("/redemptions/<int:redemption_id>/hand-over", methods=["POST"])
@allow(*ADMINS)
@pickup_code_limit
@review_blp.arguments(HandOverArgs)
@review_blp.response(200, RedemptionSchema)
def hand_over(args: dict, redemption_id: int):  # type: ignore[no-untyped-def]
    """Hand the goods over against the villager's pickup code, spending the held points; the redemption."""
    with _counting_wrong_codes():
        return redemptions.hand_over(db.session, current_scope(), current_user(), redemption_id, args["pickup_code"])
