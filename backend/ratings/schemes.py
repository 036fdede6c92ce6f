"""Assessment schemes as data: versioned per county and kind, validated on save, five presets.

Definition shape (JSON, checked by DefinitionSchema):
  period        "month" | "half_year"
  indicators    [{code, title, group?, content?, max, input?, vetoes: [{code, title, input?, min?}]}]
                score = rater's entry if any, else max × input rate (0..1) if the input is available, else 0
  grades        [{min, label, tone}] highest first; on stars (ten_star) or on the score (others)
  star_ratio    ten_star: a star is lost below this share of its standard score (or on a veto)
  quota         hundred_point: {grade, share, fallback, tie_break: [indicator codes]} (see evaluate.apply_quota)
  base, bonuses, deductions, categories   thousand_point / party_member: base + Σ + bonus − deduction
  ranking       ranking: {red_flag_places, yellow_card_inputs: [{input, min, title}], annual_bottom_share}
  alerts        {low_stars, high_stars, streak_months, satisfaction_below, rectify_days}
"""

from __future__ import annotations

from datetime import date
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.errors import InvalidRequest, NotFound
from backend.org.models import Village
from backend.ratings.models import RatingScheme, SchemeKind
from backend.ratings.providers import PROVIDERS, Period


class VetoSchema(Schema):
    code = fields.String(required=True, validate=validate.Length(1, 20))
    title = fields.String(required=True, validate=validate.Length(1, 120))
    input = fields.String(validate=validate.OneOf(sorted(PROVIDERS)))
    min = fields.Float()


class IndicatorSchema(Schema):
    code = fields.String(required=True, validate=validate.Length(1, 20))
    title = fields.String(required=True, validate=validate.Length(1, 60))
    group = fields.String(load_default="")
    content = fields.String(load_default="")
    max = fields.Float(required=True, validate=validate.Range(min=0, min_inclusive=False))
    input = fields.String(validate=validate.OneOf(sorted(PROVIDERS)), allow_none=True, load_default=None)
    vetoes = fields.List(fields.Nested(VetoSchema), load_default=list)


class GradeSchema(Schema):
    min = fields.Float(required=True)
    label = fields.String(required=True, validate=validate.Length(1, 20))
    tone = fields.String(load_default="mid", validate=validate.OneOf(["good", "ok", "mid", "bad"]))


class CountedSchema(Schema):
    code = fields.String(required=True, validate=validate.Length(1, 20))
    title = fields.String(required=True, validate=validate.Length(1, 120))
    points = fields.Float(required=True, validate=validate.Range(min=0))
    max = fields.Float(allow_none=True, load_default=None)
    categories = fields.List(fields.String(validate=validate.OneOf(list("ABCDEF"))), load_default=list)


class QuotaSchema(Schema):
    grade = fields.String(required=True)
    share = fields.Float(required=True, validate=validate.Range(min=0, max=1))
    fallback = fields.String(required=True)
    tie_break = fields.List(fields.String(), load_default=list)


class YellowCardSchema(Schema):
    input = fields.String(required=True, validate=validate.OneOf(sorted(PROVIDERS)))
    min = fields.Float(required=True)
    title = fields.String(required=True)


class RankingSchema(Schema):
    red_flag_places = fields.Integer(load_default=1, validate=validate.Range(min=0))
    yellow_card_inputs = fields.List(fields.Nested(YellowCardSchema), load_default=list)
    annual_bottom_share = fields.Float(load_default=0.1, validate=validate.Range(min=0, max=1))


class AlertsSchema(Schema):
    low_stars = fields.Integer(load_default=6)
    high_stars = fields.Integer(load_default=9)
    streak_months = fields.Integer(load_default=2, validate=validate.Range(min=1, max=12))
    satisfaction_below = fields.Float(load_default=0.7, validate=validate.Range(min=0, max=1))
    rectify_days = fields.Integer(load_default=30, validate=validate.Range(min=1, max=365))


class DefinitionSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in SchemeKind]))
    period = fields.String(load_default="month", validate=validate.OneOf(["month", "half_year"]))
    indicators = fields.List(fields.Nested(IndicatorSchema), load_default=list)
    grades = fields.List(fields.Nested(GradeSchema), required=True, validate=validate.Length(min=1))
    star_ratio = fields.Float(validate=validate.Range(min=0, max=1, min_inclusive=False))
    quota = fields.Nested(QuotaSchema, allow_none=True, load_default=None)
    base = fields.Float(load_default=0)
    bonuses = fields.List(fields.Nested(CountedSchema), load_default=list)
    deductions = fields.List(fields.Nested(CountedSchema), load_default=list)
    categories = fields.Dict(keys=fields.String(validate=validate.OneOf(list("ABCDEF"))), values=fields.String())
    ranking = fields.Nested(RankingSchema, load_default=lambda: RankingSchema().load({}))
    alerts = fields.Nested(AlertsSchema, load_default=lambda: AlertsSchema().load({}))

    @validates_schema
    def _consistent(self, data: dict[str, Any], **_: Any) -> None:
        codes = [i["code"] for i in data["indicators"]]
        codes += [v["code"] for i in data["indicators"] for v in i["vetoes"]]
        codes += [b["code"] for b in data["bonuses"]] + [d["code"] for d in data["deductions"]]
        if len(codes) != len(set(codes)):
            raise ValidationError("指标、否决项、加减分项的编号不能重复", "indicators")
        mins = [g["min"] for g in data["grades"]]
        if mins != sorted(mins, reverse=True) or len(set(mins)) != len(mins):
            raise ValidationError("等次须按下限从高到低排列且不重复", "grades")
        labels = {g["label"] for g in data["grades"]}
        if data["kind"] == SchemeKind.ten_star and "star_ratio" not in data:
            raise ValidationError("星级评定须设置失星比例", "star_ratio")
        if data["kind"] in (SchemeKind.ten_star, SchemeKind.hundred_point, SchemeKind.ranking) and not codes:
            raise ValidationError("至少需要一个指标", "indicators")
        quota = data.get("quota")
        if quota and not {quota["grade"], quota["fallback"]} <= labels:
            raise ValidationError("名额限制的等次须是已定义的等次", "quota")
        if quota and not set(quota["tie_break"]) <= set(codes):
            raise ValidationError("同分比较的指标须是已定义的指标", "quota")


def validate_definition(definition: dict[str, Any]) -> dict[str, Any]:
    try:
        return DefinitionSchema().load(definition)
    except ValidationError as exc:
        raise InvalidRequest("考核方案定义有误", errors={"definition": exc.messages}) from exc


def create_scheme_version(
    session: Session,
    county_id: int,
    definition: dict[str, Any],
    *,
    title: str,
    effective_from: date,
    actor_id: int | None = None,
) -> RatingScheme:
    """Add the next version of a county's scheme of this kind. Effective from the first day of a month:
    a month is always judged by one version. Earlier versions stay untouched (results point at them)."""
    if effective_from.day != 1:
        raise InvalidRequest(errors={"effective_from": ["生效日期须为某月1日"]})
    clean = validate_definition(definition)
    kind = SchemeKind(clean["kind"])
    version = (
        session.scalar(
            select(func.max(RatingScheme.version)).where(RatingScheme.county_id == county_id, RatingScheme.kind == kind)
        )
        or 0
    ) + 1
    scheme = RatingScheme(
        county_id=county_id,
        kind=kind,
        version=version,
        title=title,
        effective_from=effective_from,
        definition=clean,
        created_by_id=actor_id,
    )
    session.add(scheme)
    session.flush()
    return scheme


def schemes_in_force(session: Session, county_id: int, on: date) -> dict[SchemeKind, RatingScheme]:
    """Per kind, the version in force on `on` (latest effective_from ≤ on, then highest version)."""
    rows = session.scalars(
        select(RatingScheme)
        .where(RatingScheme.county_id == county_id, RatingScheme.effective_from <= on)
        .order_by(RatingScheme.kind, RatingScheme.effective_from, RatingScheme.version)
    )
    return {row.kind: row for row in rows}


def install_presets(
    session: Session, county_id: int, effective_from: date, actor_id: int | None = None
) -> list[RatingScheme]:
    from backend.ratings.presets import PRESETS

    return [
        create_scheme_version(
            session,
            county_id,
            preset["definition"],
            title=preset["title"],
            effective_from=effective_from,
            actor_id=actor_id,
        )
        for preset in PRESETS.values()
    ]


def star_definition(session: Session, village: Village, month: str) -> dict[str, Any]:
    """The definition of the ten-star scheme in force for a village's month: what its raters score against."""
    scheme = schemes_in_force(session, village.town.county_id, Period.month(month).start).get(SchemeKind.ten_star)
    if scheme is None:
        raise NotFound("本县尚未设置星级评定方案")
    return scheme.definition
