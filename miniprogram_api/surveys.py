"""Masses' satisfaction surveys on the phone: what this household is asked, and its one anonymous answer.

No `@idempotent` on the answer on purpose: an idempotency record would keep the user id, a time
and a hash of the (low-entropy, guessable) answers side by side. A retry of a delivered answer
gets 409 `survey_already_answered`, which the phone treats as done.
"""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import fields, validate

from backend.auth.models import Role
from backend.db import db
from backend.surveys import service
from miniprogram_api import BASE
from miniprogram_api.policy import allow, current_scope
from miniprogram_api.schemas import ApiSchema, Int

blp = Blueprint("mp_surveys", __name__, url_prefix=BASE, description="群众满意度测评")


class QuestionSchema(ApiSchema):
    id = Int()
    kind = fields.String(metadata={"description": "rating (1–5) | single_choice | multiple_choice | text"})
    prompt = fields.String()
    options = fields.List(fields.String())
    required = fields.Boolean()


class PendingSurveySchema(ApiSchema):
    id = Int()
    title = fields.String()
    period = fields.String()
    opens_at = fields.DateTime()
    closes_at = fields.DateTime()
    anonymous = fields.Constant(True)
    questions = fields.Function(lambda s: QuestionSchema(many=True).dump(s.template.questions))


class PendingPageSchema(ApiSchema):
    items = fields.List(fields.Nested(PendingSurveySchema))
    next_cursor = fields.String(allow_none=True)


class AnswerSchema(ApiSchema):
    question_id = Int(required=True)
    value = fields.Raw(
        required=True,
        allow_none=True,
        metadata={"description": "rating: 1–5; single_choice: an option; multiple_choice: [options]; text: string"},
    )


class ResponseArgs(ApiSchema):
    answers = fields.List(fields.Nested(AnswerSchema), required=True, validate=validate.Length(max=50))


class ReceivedSchema(ApiSchema):
    survey_id = Int()
    status = fields.Constant("received")


@blp.route("/surveys/pending", methods=["GET"])
@allow(Role.villager)
@blp.response(200, PendingPageSchema)
def pending() -> dict:
    """Open surveys this household is invited to and has not answered: a handful at most, so always one page."""
    return {"items": service.pending_for_household(db.session, current_scope()), "next_cursor": None}


@blp.route("/surveys/<int:survey_id>/responses", methods=["POST"])
@allow(Role.villager)
@blp.arguments(ResponseArgs)
@blp.response(201, ReceivedSchema)
def respond(args: dict, survey_id: int) -> dict:
    """Answer once per household. The reply carries no response id: nothing links the phone to its answers."""
    service.submit_response(db.session, current_scope(), survey_id, args["answers"])
    return {"survey_id": survey_id}
