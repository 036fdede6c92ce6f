"""Cadre work on the phone: 到岗 check-ins, 请假, 日纪实, 入户走访 with coverage, 问题台账.

GPS goes in, never comes back out: responses say only whether a position was recorded.

Work a cadre captures offline (check-ins, daily records, visits, starting and closing a problem) is sent later
with its `captured_at` and an `Idempotency-Key`, both fixed when it was captured: the capture time decides the
business day, the server keeps its own receipt time too, and a resent item gets the first answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_smorest import Blueprint
from marshmallow import fields, validate

from backend.auth.models import Role
from backend.crypto import mask_name
from backend.db import db
from backend.months import Month
from backend.photos.service import may_view, photos_of
from backend.records import checkins, daily_records, problems, visits
from backend.records.checkins import CHECKIN_MAX_PHOTOS
from backend.records.daily_records import effective
from backend.records.models import (
    CATEGORY_LABELS,
    DailyRecord,
    LeaveRequest,
    LeaveStatus,
    Problem,
    ProblemStatus,
    RecordCategory,
    Visit,
    VisitKind,
)
from backend.records.problems import RaisedProblem
from backend.timeutil import today_local
from miniprogram_api import BASE
from miniprogram_api.policy import ADMINS, allow, current_scope, current_user, idempotent
from miniprogram_api.schemas import ApiSchema, Int, ListArgs, Page, page
from miniprogram_api.uploads import PhotoSchema

blp = Blueprint("mp_records", __name__, url_prefix=BASE, description="驻村工作")

READERS = (Role.cadre, *ADMINS)


MAX_PHOTOS = 9


def _with_evidence(owner_type: str, items: Iterable[Any]) -> None:
    """Attach each item's photos (one query for the page) for the schemas below to read."""
    items = list(items)
    found = photos_of(db.session, owner_type, [item.id for item in items])
    for item in items:
        item.evidence = found.get(item.id, [])


def _photos(obj: Any) -> list[dict]:
    """Each photo the caller may see as the uploads API shows it, plus its duplicate flag."""
    scope = current_scope()
    schema = PhotoSchema()
    return [
        {**schema.dump(p), "flag": p.flag.value if p.flag else None}
        for p in getattr(obj, "evidence", [])
        if may_view(scope, p)
    ]


class MonthArgs(ApiSchema):
    month = fields.String(load_default=None, metadata={"description": "YYYY-MM（北京时间），默认本月"})


def _month(args: dict) -> Month:
    return Month.parse(args["month"], default=Month.current())


class MonthListArgs(ListArgs, MonthArgs):
    village_id = Int(load_default=None)
    cadre_id = Int(load_default=None)


Latitude = validate.Range(min=-90, max=90)
Longitude = validate.Range(min=-180, max=180)


def photo_ids_field(max_count: int = MAX_PHOTOS) -> fields.List:
    return fields.List(
        fields.String(validate=validate.Length(min=1, max=64)),
        load_default=list,
        validate=validate.Length(max=max_count),
        metadata={"description": "先经 POST /uploads 上传得到的照片 id"},
    )


def captured_at_field() -> fields.AwareDateTime:
    return fields.AwareDateTime(
        load_default=None,
        metadata={
            "description": "离线采集时间（ISO 8601，带时区），在手机上保存时记下；不填为服务器收到的时间。"
            "按它计入哪一天；不能晚于当前时间，也不能早于 CAPTURE_MAX_AGE_DAYS（默认 7）天前"
        },
    )


def captured_at_out() -> fields.DateTime:
    return fields.DateTime(allow_none=True, metadata={"description": "手机上的采集时间；为空表示收到即采集"})


# --- 到岗 ---


class CheckinArgs(ApiSchema):
    lat = fields.Float(required=True, validate=Latitude)
    lng = fields.Float(required=True, validate=Longitude)
    accuracy = fields.Float(required=True, validate=validate.Range(min=0, max=100_000))
    village_id = Int(load_default=None)
    captured_at = captured_at_field()
    photo_ids = photo_ids_field(CHECKIN_MAX_PHOTOS)


class CheckinSchema(ApiSchema):
    id = Int()
    at = fields.DateTime(metadata={"description": "服务器收到的时间"})
    captured_at = captured_at_out()
    date = fields.Date(attribute="local_date", metadata={"description": "计入考勤的日期（按采集时间，北京时间）"})
    in_fence = fields.Boolean()
    village_id = Int()
    photos = fields.Function(_photos)


class AttendanceSchema(ApiSchema):
    month = fields.Function(lambda a: str(a.month))
    days_on_post = Int()
    leave_days = Int()
    required_days = Int(attribute="required")
    met = fields.Boolean()
    days = fields.Function(lambda a: [{"date": d.isoformat(), "status": s} for d, s in a.calendar])


@blp.route("/checkins", methods=["POST"])
@allow(Role.cadre)
@idempotent
@blp.arguments(CheckinArgs)
@blp.response(201, CheckinSchema)
def check_in(args: dict):  # type: ignore[no-untyped-def]
    """Check in (到岗) at the cadre's position, with photos; the check-in, saying if it was inside the fence."""
    checkin = checkins.check_in(db.session, current_scope(), current_user(), **args)
    _with_evidence("checkin", [checkin])
    return checkin


@blp.route("/attendance", methods=["GET"])
@allow(Role.cadre)
@blp.arguments(MonthArgs, location="query")
@blp.response(200, AttendanceSchema)
def attendance(args: dict):  # type: ignore[no-untyped-def]
    """The cadre's attendance for a month: days on post, leave days, days required, a day-by-day calendar."""
    return checkins.own_attendance(db.session, current_user(), _month(args))


# --- 请假 ---


class LeaveArgs(ApiSchema):
    start_on = fields.Date(required=True)
    end_on = fields.Date(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=2, max=300))
    village_id = Int(load_default=None)


class LeaveSchema(ApiSchema):
    id = Int()
    cadre_id = Int()
    village_id = Int()
    start_on = fields.Date()
    end_on = fields.Date()
    days = Int()
    reason = fields.String()
    status = fields.String()
    requested_at = fields.DateTime()
    decided_at = fields.DateTime(allow_none=True)
    decision_note = fields.String(allow_none=True)


class LeaveListArgs(ListArgs):
    status = fields.Enum(LeaveStatus, load_default=None)


@blp.route("/leaves", methods=["POST"])
@allow(Role.cadre)
@idempotent
@blp.arguments(LeaveArgs)
@blp.response(201, LeaveSchema)
def request_leave(args: dict):  # type: ignore[no-untyped-def]
    """Request leave (请假) for a range of days; the request, pending approval."""
    return checkins.request_leave(db.session, current_scope(), current_user(), **args)


@blp.route("/leaves", methods=["GET"])
@allow(*READERS)
@blp.arguments(LeaveListArgs, location="query")
@blp.response(200, Page(LeaveSchema))
def list_leaves(args: dict) -> dict:
    """Leave requests, newest first: a cadre's own, an admin's villages'."""
    stmt = checkins.leaves_query(current_scope(), current_user(), args["status"])
    return page(db.session, stmt, LeaveRequest.id, args, newest_first=True)


# --- 问题 (shared by records and visits) ---


class RaisedProblemArgs(ApiSchema):
    description = fields.String(required=True, validate=validate.Length(min=2, max=500))
    deadline = fields.Date(load_default=None)
    owner_cadre_id = Int(load_default=None)


def problems_field() -> fields.List:
    return fields.List(fields.Nested(RaisedProblemArgs), load_default=list, validate=validate.Length(max=20))


def _raised(args: dict) -> list[RaisedProblem]:
    return [RaisedProblem(**item) for item in args.pop("problems")]


class ProblemSchema(ApiSchema):
    id = Int()
    village_id = Int()
    household_id = Int(allow_none=True)
    source_type = fields.String()
    source_id = Int()
    description = fields.String()
    owner_cadre_id = Int()
    deadline = fields.Date()
    status = fields.String()
    overdue = fields.Function(lambda p: p.is_overdue(today_local()))
    raised_at = fields.DateTime()
    raised_captured_at = captured_at_out()
    started_at = fields.DateTime(allow_none=True)
    started_captured_at = captured_at_out()
    closed_at = fields.DateTime(allow_none=True)
    closed_captured_at = captured_at_out()
    closing_evidence = fields.String(allow_none=True)
    photos = fields.Function(_photos)


# --- 日纪实 ---


class DailyRecordArgs(ApiSchema):
    date = fields.Date(required=True)
    category = fields.Enum(RecordCategory, required=True)
    content = fields.String(required=True, validate=validate.Length(min=2, max=5000))
    place = fields.String(required=True, validate=validate.Length(min=1, max=120))
    lat = fields.Float(load_default=None, validate=Latitude)
    lng = fields.Float(load_default=None, validate=Longitude)
    photo_ids = photo_ids_field()
    household_ids = fields.List(Int(), load_default=list, validate=validate.Length(max=50))
    village_id = Int(load_default=None)
    problems = problems_field()
    captured_at = captured_at_field()


class EditArgs(ApiSchema):
    category = fields.Enum(RecordCategory, load_default=None)
    content = fields.String(load_default=None, validate=validate.Length(min=2, max=5000))
    place = fields.String(load_default=None, validate=validate.Length(min=1, max=120))
    household_ids = fields.List(Int(), load_default=None, validate=validate.Length(max=50))


class AmendArgs(ApiSchema):
    reason = fields.String(required=True, validate=validate.Length(min=2, max=300))
    category = fields.Enum(RecordCategory, load_default=None)
    content = fields.String(load_default=None, validate=validate.Length(min=2, max=5000))
    place = fields.String(load_default=None, validate=validate.Length(min=1, max=120))


class AmendmentSchema(ApiSchema):
    id = Int()
    at = fields.DateTime()
    author_id = Int()
    reason = fields.String()
    category = fields.String()
    content = fields.String()
    place = fields.String()


class DailyRecordSchema(ApiSchema):
    id = Int()
    date = fields.Date(attribute="record_date")
    category = fields.Function(lambda r: effective(r).category.value)
    category_label = fields.Function(lambda r: CATEGORY_LABELS[effective(r).category])
    content = fields.Function(lambda r: effective(r).content)
    place = fields.Function(lambda r: effective(r).place)
    village_id = Int()
    cadre_id = Int()
    author_id = Int()
    household_ids = fields.Function(lambda r: [h.id for h in r.households])
    has_location = fields.Function(lambda r: r.location is not None)
    photos = fields.Function(_photos)
    created_at = fields.DateTime()
    captured_at = captured_at_out()
    updated_at = fields.DateTime(allow_none=True)
    editable = fields.Function(lambda r: r.created_on == today_local() and not r.amendments)
    amendments = fields.List(fields.Nested(AmendmentSchema))


def _record_out(record: DailyRecord) -> DailyRecord:
    _with_evidence("daily_record", [record])
    return record


@blp.route("/daily-records", methods=["POST"])
@allow(Role.cadre)
@idempotent
@blp.arguments(DailyRecordArgs)
@blp.response(201, DailyRecordSchema)
def create_daily_record(args: dict):  # type: ignore[no-untyped-def]
    """Write a daily record (日纪实), optionally raising problems; the record."""
    raised = _raised(args)
    record = daily_records.create_record(
        db.session, current_scope(), current_user(), record_date=args.pop("date"), problems=raised, **args
    )
    return _record_out(record)


@blp.route("/daily-records", methods=["GET"])
@allow(*READERS)
@blp.arguments(MonthListArgs, location="query")
@blp.response(200, Page(DailyRecordSchema))
def list_daily_records(args: dict) -> dict:
    """Daily records of a month in the caller's scope, newest first, with their photos."""
    stmt = daily_records.records_query(
        current_scope(), _month(args), cadre_id=args["cadre_id"], village_id=args["village_id"]
    )
    result = page(db.session, stmt, DailyRecord.id, args, newest_first=True)
    _with_evidence("daily_record", result["items"])
    return result


@blp.route("/daily-records/<int:record_id>/edit", methods=["POST"])
@allow(Role.cadre)
@idempotent
@blp.arguments(EditArgs)
@blp.response(200, DailyRecordSchema)
def edit_daily_record(args: dict, record_id: int):  # type: ignore[no-untyped-def]
    """Edit one's own daily record on the day it was written (later: amend it); the record."""
    return _record_out(daily_records.edit_record(db.session, current_scope(), current_user(), record_id, **args))


@blp.route("/daily-records/<int:record_id>/amendments", methods=["POST"])
@allow(Role.cadre)
@idempotent
@blp.arguments(AmendArgs)
@blp.response(201, DailyRecordSchema)
def amend_daily_record(args: dict, record_id: int):  # type: ignore[no-untyped-def]
    """Amend (补正) one's own daily record with a reason, keeping the original; the record."""
    return _record_out(daily_records.amend_record(db.session, current_scope(), current_user(), record_id, **args))


# --- 入户走访 ---


class VisitArgs(ApiSchema):
    household_id = Int(required=True)
    kind = fields.Enum(VisitKind, load_default=VisitKind.visit)
    purpose = fields.String(required=True, validate=validate.Length(min=1, max=200))
    findings = fields.String(required=True, validate=validate.Length(min=1, max=5000))
    lat = fields.Float(load_default=None, validate=Latitude)
    lng = fields.Float(load_default=None, validate=Longitude)
    photo_ids = photo_ids_field()
    problems = problems_field()
    captured_at = captured_at_field()


class VisitSchema(ApiSchema):
    id = Int()
    household_id = Int()
    village_id = Int()
    cadre_id = Int()
    kind = fields.String()
    at = fields.DateTime()
    captured_at = captured_at_out()
    date = fields.Date(attribute="local_date")
    purpose = fields.String()
    findings = fields.String()
    has_location = fields.Function(lambda v: v.location is not None)
    photos = fields.Function(_photos)


class VisitResultSchema(VisitSchema):
    problems = fields.List(fields.Nested(ProblemSchema))


class CoverageRowSchema(ApiSchema):
    household_id = Int()
    household_number = fields.String()
    village_id = Int()
    cadre_id = Int()
    cadre_name = fields.Function(lambda r: mask_name(r.cadre_name))
    visits = Int()
    period = fields.String()
    period_visits = Int()
    visits_required = Int()
    contacts = Int()
    contacts_required = Int()
    last_visit_on = fields.Date(allow_none=True)
    met = fields.Boolean()


class CoverageSchema(ApiSchema):
    month = fields.String()
    items = fields.List(fields.Nested(CoverageRowSchema))


@blp.route("/visits", methods=["POST"])
@allow(Role.cadre)
@idempotent
@blp.arguments(VisitArgs)
@blp.response(201, VisitResultSchema)
def record_visit(args: dict):  # type: ignore[no-untyped-def]
    """Record a household visit (入户走访), optionally raising problems; the visit and those problems."""
    raised = _raised(args)
    visit, created = visits.record_visit(db.session, current_scope(), current_user(), problems=raised, **args)
    _with_evidence("visit", [visit])
    visit.problems = created
    return visit


@blp.route("/visits", methods=["GET"])
@allow(*READERS)
@blp.arguments(MonthListArgs, location="query")
@blp.response(200, Page(VisitSchema))
def list_visits(args: dict) -> dict:
    """Household visits of a month in the caller's scope, newest first, with their photos."""
    stmt = visits.visits_query(current_scope(), _month(args), cadre_id=args["cadre_id"], village_id=args["village_id"])
    result = page(db.session, stmt, Visit.id, args, newest_first=True)
    _with_evidence("visit", result["items"])
    return result


class CoverageArgs(MonthArgs):
    village_id = Int(load_default=None)
    gaps = fields.Boolean(load_default=False, metadata={"description": "只看未达标的户（逾期名单）"})


@blp.route("/visits/coverage", methods=["GET"])
@allow(*READERS)
@blp.arguments(CoverageArgs, location="query")
@blp.response(200, CoverageSchema)
def visit_coverage(args: dict) -> dict:
    """Paired households (包联户) against the county's rule: a cadre's own, an admin's whole scope."""
    month = _month(args)
    user = current_user()
    rows = visits.coverage(
        db.session,
        current_scope(),
        month,
        cadre_id=user.cadre_id if user.role == Role.cadre else None,
        village_id=args["village_id"],
    )
    return {"month": str(month), "items": [r for r in rows if not (args["gaps"] and r.met)]}


# --- 问题台账 ---


class ProblemListArgs(ListArgs):
    status = fields.Enum(ProblemStatus, load_default=None)
    overdue = fields.Boolean(load_default=False)
    village_id = Int(load_default=None)
    mine = fields.Boolean(load_default=False, metadata={"description": "只看我负责的"})


class StartArgs(ApiSchema):
    captured_at = captured_at_field()


class CloseArgs(StartArgs):
    evidence = fields.String(required=True, validate=validate.Length(min=2, max=2000))
    photo_ids = photo_ids_field()


def _problem_out(problem: Problem) -> Problem:
    _with_evidence("problem_closing", [problem])
    return problem


@blp.route("/problems", methods=["GET"])
@allow(*READERS)
@blp.arguments(ProblemListArgs, location="query")
@blp.response(200, Page(ProblemSchema))
def list_problems(args: dict) -> dict:
    """Problems (问题台账) in the caller's scope, newest first; filter by status, overdue, village, mine."""
    user = current_user()
    stmt = problems.problems_query(
        current_scope(),
        status=args["status"],
        overdue=args["overdue"],
        village_id=args["village_id"],
        owner_cadre_id=user.cadre_id if args["mine"] else None,
    )
    result = page(db.session, stmt, Problem.id, args, newest_first=True)
    _with_evidence("problem_closing", result["items"])
    return result


@blp.route("/problems/<int:problem_id>/start", methods=["POST"])
@allow(Role.cadre)
@idempotent
@blp.arguments(StartArgs, required=False)
@blp.response(200, ProblemSchema)
def start_problem(args: dict, problem_id: int):  # type: ignore[no-untyped-def]
    """Start work on an open problem (no body, or its capture time); the problem, now in progress."""
    return _problem_out(problems.start_problem(db.session, current_scope(), current_user(), problem_id, **args))


@blp.route("/problems/<int:problem_id>/close", methods=["POST"])
@allow(Role.cadre)
@idempotent
@blp.arguments(CloseArgs)
@blp.response(200, ProblemSchema)
def close_problem(args: dict, problem_id: int):  # type: ignore[no-untyped-def]
    """Close (销号) a problem with what was done and photos; the problem, now closed."""
    closed = problems.close_problem(db.session, current_scope(), current_user(), problem_id, **args)
    return _problem_out(closed)
