"""The caller's inbox on the phone (a villager's household's, a resident cadre's own): messages newest first with
the unread count, marking read."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import fields, validate

from backend.auth.models import Role
from backend.db import db
from backend.inbox import service
from backend.inbox.models import Notification
from miniprogram_api import BASE
from miniprogram_api.points import own_household_id
from miniprogram_api.policy import allow, current_user
from miniprogram_api.schemas import ApiSchema, Int, ListArgs, page

blp = Blueprint("mp_inbox", __name__, url_prefix=BASE, description="消息")


class NotificationSchema(ApiSchema):
    id = Int()
    kind = fields.String(
        metadata={
            "description": "claim_approved | claim_rejected | objection_answered | ... ; "
            "cadres: leave_approved | leave_rejected | problem_assigned"
        }
    )
    title = fields.String()
    body = fields.String()
    ref_type = fields.String(allow_none=True)
    ref_id = Int(allow_none=True)
    created_at = fields.DateTime()
    read = fields.Function(lambda n: n.read_at is not None)


class InboxPageSchema(ApiSchema):
    items = fields.List(fields.Nested(NotificationSchema))
    next_cursor = fields.String(allow_none=True)
    unread_count = Int()


class ReadArgs(ApiSchema):
    ids = fields.List(
        Int(),
        load_default=None,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "省略则全部标为已读"},
    )


class UnreadSchema(ApiSchema):
    unread_count = Int()


def own_inbox() -> service.Inbox:
    """A villager reads their household's messages, a cadre their own."""
    user = current_user()
    if user.role == Role.cadre:
        return service.Inbox(cadre_id=user.cadre_id)
    return service.Inbox(household_id=own_household_id())


@blp.route("/notifications", methods=["GET"])
@allow(Role.villager, Role.cadre)
@blp.arguments(ListArgs, location="query")
@blp.response(200, InboxPageSchema)
def list_notifications(args: dict) -> dict:
    """The caller's messages (a villager's household's, a cadre's own), newest first, with the unread count."""
    inbox = own_inbox()
    listing = page(db.session, service.inbox_query(inbox), Notification.id, args, newest_first=True)
    return {**listing, "unread_count": service.unread_count(db.session, inbox)}


@blp.route("/notifications/read", methods=["POST"])
@allow(Role.villager, Role.cadre)
@blp.arguments(ReadArgs)
@blp.response(200, UnreadSchema)
def mark_read(args: dict) -> dict:
    """Mark the caller's messages read (these ids, or all of them); the unread count after."""
    return {"unread_count": service.mark_read(db.session, own_inbox(), args["ids"])}
