"""A village's monthly star rating for the phone: stars, grade, per-star scores, why stars were lost."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import fields, validate

from backend.auth.models import Role
from backend.db import db
from backend.months import Month
from backend.ratings.queries import VillageRating, village_rating
from miniprogram_api import BASE
from miniprogram_api.policy import allow, current_scope
from miniprogram_api.schemas import ApiSchema

blp = Blueprint("mp_ratings", __name__, url_prefix=BASE, description="村星级评定")


class RatingArgs(ApiSchema):
    month = fields.String(load_default=None, validate=validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$"))


class StarSchema(ApiSchema):
    code = fields.String()
    title = fields.String()
    standard = fields.Float()
    score = fields.Float()
    lit = fields.Boolean()
    lost_reason = fields.String()


def _result(attribute: str):  # type: ignore[no-untyped-def]
    return fields.Function(lambda v: getattr(v.result, attribute) if v.result else None, allow_none=True)


class VillageRatingSchema(ApiSchema):
    """A month not compiled yet answers compiled=false with empty scores (not an error: the phone shows "未汇总")."""

    village_id = fields.Function(lambda v: v.village.id)
    village_name = fields.Function(lambda v: v.village.name)
    month = fields.String()
    compiled = fields.Function(lambda v: v.result is not None)
    stars = _result("stars")
    grade = _result("grade")
    score = _result("score")
    flags = fields.Function(lambda v: v.result.flags if v.result else [])
    scheme = fields.Function(
        lambda v: (
            {"title": v.result.detail["scheme"]["title"], "version": v.result.detail["scheme"]["version"]}
            if v.result
            else None
        ),
        allow_none=True,
    )
    star_scores = fields.List(fields.Nested(StarSchema), attribute="stars")
    lost = fields.Function(
        lambda v: [{"code": s.code, "title": s.title, "reason": s.lost_reason} for s in v.stars if not s.lit]
    )


@blp.route("/ratings/villages/<int:village_id>", methods=["GET"])
@allow(*Role)
@blp.arguments(RatingArgs, location="query")
@blp.response(200, VillageRatingSchema)
def village(args: dict, village_id: int) -> VillageRating:
    """A village's star rating for a month (default last month): stars, grade, star scores, stars lost."""
    month = args["month"] or str(Month.current().shift(-1))
    return village_rating(db.session, current_scope(), village_id, month)
