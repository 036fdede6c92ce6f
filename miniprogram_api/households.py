"""Households in the caller's scope: a villager sees their own, cadres and admins their villages."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import fields, validate

from backend.auth.models import Role
from backend.db import db
from backend.org import queries
from backend.org.models import Household
from backend.org.queries import HOUSEHOLD_FLAGS
from miniprogram_api import BASE
from miniprogram_api.policy import ALL_ROLES, allow, current_scope, current_user
from miniprogram_api.schemas import ApiSchema, Int, ListArgs, MaskedIdNumber, MaskedName, MaskedPhone, Page, page

blp = Blueprint("mp_households", __name__, url_prefix=BASE, description="户与成员")


class ResidentSchema(ApiSchema):
    id = Int()
    name = MaskedName()
    relation = fields.String()
    is_head = fields.Boolean()
    gender = fields.String()
    phone = MaskedPhone()
    id_number = MaskedIdNumber()


class HouseholdSchema(ApiSchema):
    id = Int()
    village_id = Int()
    grid_id = Int()
    number = fields.String()
    address = fields.String()
    flags = fields.Function(queries.household_flags)
    residents = fields.List(fields.Nested(ResidentSchema))


class ContactSchema(ApiSchema):
    name = fields.String(metadata={"description": "脱敏姓名"})
    relation = fields.String()
    is_head = fields.Boolean()
    phone = fields.String(metadata={"description": "完整手机号：帮扶责任人联系包联户用"})


class PairedHouseholdSchema(ApiSchema):
    household_id = Int()
    number = fields.String()
    village_id = Int()
    village_name = fields.String()
    contacts = fields.List(fields.Nested(ContactSchema))


class PairedHouseholdsSchema(ApiSchema):
    items = fields.List(fields.Nested(PairedHouseholdSchema))


class HouseholdListArgs(ListArgs):
    village_id = Int(load_default=None)
    flag = fields.String(load_default=None, validate=validate.OneOf(list(HOUSEHOLD_FLAGS)))
    q = fields.String(load_default=None, validate=validate.Length(max=40))


@blp.route("/households", methods=["GET"])
@allow(Role.cadre, Role.reviewer, Role.town_admin, Role.county_admin)
@blp.arguments(HouseholdListArgs, location="query")
@blp.response(200, Page(HouseholdSchema))
def list_households(args: dict) -> dict:
    """Households in the caller's villages with masked members; filter by village, flag, 户号 or name."""
    stmt = queries.households_query(current_scope(), village_id=args["village_id"], flag=args["flag"], search=args["q"])
    return page(db.session, stmt, Household.id, args)


@blp.route("/households/<int:household_id>", methods=["GET"])
@allow(*ALL_ROLES)
@blp.response(200, HouseholdSchema)
def get_household(household_id: int):  # type: ignore[no-untyped-def]
    """One household with its members, masked: a villager's own, or one in the caller's villages."""
    return queries.household_detail(db.session, current_scope(), household_id)


@blp.route("/households/paired", methods=["GET"])
@allow(Role.cadre)
@blp.response(200, PairedHouseholdsSchema)
def paired_households() -> dict:
    """The caller's own paired households (包联户) today, with their members' full phone numbers to call."""
    return {"items": queries.paired_households(db.session, current_scope(), current_user().cadre_id)}
