"""问题台账: problems raised in visits or daily records; open → in_progress → closed (销号) with evidence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Date, Select, bindparam, select
from sqlalchemy.orm import Session

from backend.auth.models import Role, User
from backend.auth.scope import Scope, active_posting_filter, filter_villages
from backend.db import any_of, read_rows
from backend.errors import Forbidden, InvalidRequest, NotFound, NotInScope, ProblemStateConflict
from backend.inbox.service import notify
from backend.org.models import Posting
from backend.photos.service import attach_photos
from backend.records.common import capture, settings_for_village
from backend.records.models import Capture, Problem, ProblemStatus
from backend.timeutil import today_local


@dataclass(frozen=True)
class RaisedProblem:
    """A problem as written in a visit or record: what, and optionally who owns it and by when."""

    description: str
    deadline: date | None = None
    owner_cadre_id: int | None = None


def raise_problems(
    session: Session,
    user: User,
    *,
    raised: list[RaisedProblem],
    village_id: int,
    household_id: int | None,
    source_type: str,
    source_id: int,
    default_owner_id: int,
    moment: Capture,
) -> list[Problem]:
    """Ledger items for each problem, raised when their visit or record was captured (`moment`): the owner must
    be posted in the village that day, the default owner is the author, deadlines run from that day."""
    if not raised:
        return []
    deadline_days = settings_for_village(session, village_id).problem_deadline_days
    day = moment.day
    problems = []
    for index, item in enumerate(raised):
        owner = item.owner_cadre_id or default_owner_id
        if owner != default_owner_id and not _posted_in(session, owner, village_id, day):
            raise InvalidRequest(errors={f"problems.{index}.owner_cadre_id": ["责任人须是在本村驻村的干部"]})
        if item.deadline is not None and item.deadline < day:
            raise InvalidRequest(errors={f"problems.{index}.deadline": ["办结时限不能早于提出问题的当天"]})
        problems.append(
            Problem(
                village_id=village_id,
                household_id=household_id,
                source_type=source_type,
                source_id=source_id,
                description=item.description,
                owner_cadre_id=owner,
                deadline=item.deadline or day + timedelta(days=deadline_days),
                raised_by_id=user.id,
                raised_at=moment.received_at,
                raised_captured_at=moment.captured_at,
            )
        )
    session.add_all(problems)
    session.flush()
    for problem in problems:
        if problem.owner_cadre_id != default_owner_id:
            _tell_owner(session, problem)
    return problems


def _tell_owner(session: Session, problem: Problem) -> None:
    """A problem raised by someone else and handed to this cadre reaches them in their 消息."""
    notify(
        session,
        cadre_id=problem.owner_cadre_id,
        kind="problem_assigned",
        title="有问题交给您办理",
        body=f"{problem.description}，请在{problem.deadline:%m月%d日}前办结",
        ref_type="problem",
        ref_id=problem.id,
    )


def _posted_in(session: Session, cadre_id: int, village_id: int, on: date) -> bool:
    return (
        session.scalar(
            select(Posting.id).where(
                Posting.cadre_id == cadre_id, Posting.village_id == village_id, active_posting_filter(on)
            )
        )
        is not None
    )


def problems_query(
    scope: Scope,
    *,
    status: ProblemStatus | None = None,
    overdue: bool = False,
    village_id: int | None = None,
    owner_cadre_id: int | None = None,
) -> Select[tuple[Problem]]:
    """The ledger within scope; `overdue` keeps items past their deadline that are still open."""
    stmt = filter_villages(select(Problem), scope, Problem.village_id)
    if scope.household_id is not None:
        stmt = stmt.where(Problem.id.is_(None))  # villagers read no ledger
    if status is not None:
        stmt = stmt.where(Problem.status == status)
    if overdue:
        stmt = stmt.where(Problem.status != ProblemStatus.closed, Problem.deadline < today_local())
    if village_id is not None:
        stmt = stmt.where(Problem.village_id == village_id)
    if owner_cadre_id is not None:
        stmt = stmt.where(Problem.owner_cadre_id == owner_cadre_id)
    return stmt


def _lock(session: Session, scope: Scope, user: User, problem_id: int) -> Problem:
    problem = session.scalar(
        select(Problem).where(Problem.id == problem_id).with_for_update().execution_options(populate_existing=True)
    )
    if problem is None:
        raise NotFound("问题不存在")
    if not scope.covers_village(problem.village_id) or scope.household_id is not None:
        raise NotInScope()
    if user.role != Role.cadre:
        raise Forbidden("问题由驻村干部办理")
    return problem


def start_problem(
    session: Session, scope: Scope, user: User, problem_id: int, *, captured_at: datetime | None = None
) -> Problem:
    problem = _lock(session, scope, user, problem_id)
    if problem.status != ProblemStatus.open:
        raise ProblemStateConflict("只有待办理的问题可以开始办理")
    moment = capture(captured_at)
    problem.status = ProblemStatus.in_progress
    problem.started_at, problem.started_captured_at = moment.received_at, moment.captured_at
    session.flush()
    return problem


def close_problem(
    session: Session,
    scope: Scope,
    user: User,
    problem_id: int,
    *,
    evidence: str,
    photo_ids: list[str],
    captured_at: datetime | None = None,
) -> Problem:
    """销号: a cadre of the village closes it with what was done, and a photo when there is one. Closed offline,
    it is on time by the day it was captured."""
    problem = _lock(session, scope, user, problem_id)
    if problem.status == ProblemStatus.closed:
        raise ProblemStateConflict("该问题已销号")
    moment = capture(captured_at)
    if problem.started_at is None:
        problem.started_at, problem.started_captured_at = moment.received_at, moment.captured_at
    problem.status = ProblemStatus.closed
    problem.closed_at, problem.closed_captured_at = moment.received_at, moment.captured_at
    problem.closed_by_id = user.id
    problem.closing_evidence = evidence
    session.flush()
    attach_photos(
        session,
        actor=scope,
        photo_ids=photo_ids,
        owner_type="problem_closing",
        owner_id=problem.id,
        village_id=problem.village_id,
        household_id=problem.household_id,
    )
    return problem


@dataclass(frozen=True)
class Closure:
    """Problems of a village due in a period (deadline inside it) and those closed (销号) by their deadline.

    On time means closed on or before the deadline's business day in Asia/Shanghai, by the day the closure was
    captured (`Problem.closed`): closed offline on the deadline and sent the next morning is on time.
    """

    due: list[int]
    on_time: list[int]

    @property
    def rate(self) -> float | None:
        """No problem due is no data (None): there is nothing to close."""
        return len(self.on_time) / len(self.due) if self.due else None

    @property
    def late(self) -> list[int]:
        kept = set(self.on_time)
        return [i for i in self.due if i not in kept]


_DUE = (
    select(Problem.village_id, Problem.id, Problem.deadline, Problem.closed_at, Problem.closed_captured_at)
    .where(
        any_of(Problem.village_id, "villages"),
        Problem.deadline >= bindparam("first", type_=Date),
        Problem.deadline <= bindparam("last", type_=Date),
    )
    .order_by(Problem.id)
)


def closure(session: Session, village_ids: list[int], first: date, last: date) -> dict[int, Closure]:
    """Per village, problems due between `first` and `last` (inclusive business days). One query."""
    rows = read_rows(session, _DUE, {"villages": village_ids, "first": first, "last": last})
    due: dict[int, list[int]] = {v: [] for v in village_ids}
    on_time: dict[int, list[int]] = {v: [] for v in village_ids}
    for village_id, problem_id, deadline, closed_at, closed_captured_at in rows:
        due[village_id].append(problem_id)
        if closed_at is not None and Capture(closed_at, closed_captured_at).day <= deadline:
            on_time[village_id].append(problem_id)
    return {v: Closure(due[v], on_time[v]) for v in village_ids}
