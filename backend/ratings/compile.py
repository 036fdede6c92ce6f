"""Monthly compile: one run per county and month, fanned out per town as jobs, then finalized county-wide.

compile_month → CompileRun + one CompileUnit per town → job "ratings.compile_town" per unit (deterministic
ids) → each unit upserts its villages' results by natural key, with what each village's own results call for
(streak and interview alerts, 整改 items), and counts itself done once → the last unit enqueues
"ratings.finalize", which ranks (red flag, annual bottom share and its admonitions), applies the quota, and
records the diff against the previous run. Every step can be re-run and gives the same rows.

A worker killed mid-compile loses its job; the scheduled reconciler (`reconcile_runs`) finds the run that has
stopped moving and re-queues its unfinished towns, up to a number of attempts, then fails it with the reason.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import date, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Date, String, Text, and_, bindparam, cast, func, or_, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from backend.db import any_of, insert_many, read_rows, update_many
from backend.errors import InvalidRequest
from backend.jobs.outbox import enqueue, enqueue_many
from backend.jobs.tasks import RecordedError
from backend.months import Month
from backend.org.models import County, Post, Posting, Town, Village
from backend.ratings.evaluate import (
    Candidate,
    Entry,
    apply_quota,
    bottom_share,
    evaluate,
    rank,
    streak,
)
from backend.ratings.models import (
    AlertKind,
    CompileRun,
    CompileUnit,
    PartyMember,
    RatingAlert,
    RatingEntry,
    RatingResult,
    RatingScheme,
    Rectification,
    RectificationOrigin,
    RunStatus,
    SchemeKind,
    StarSheet,
)
from backend.ratings.providers import Period, Subject, gather, gather_many
from backend.ratings.schemes import schemes_in_force
from backend.timeutil import now_utc, to_local

log = logging.getLogger(__name__)

TRANSIENT = (OperationalError,)  # lost connection, deadlock, serialization failure, lock timeout
TRANSIENT_TRIES = 3


def previous_months(month: str, count: int) -> list[str]:
    """The `count` months ending with `month`, oldest first (crosses year boundaries)."""
    last = Month.parse(month)
    return [str(m) for m in last.shift(1 - count).through(last)]


def half_year_of(month: str) -> Period | None:
    """Half-year schemes are compiled with the month that closes the half (June, December)."""
    closing = Month.parse(month)
    if closing.month in (6, 12):
        return Period.half_year(f"{closing.year}-H{closing.month // 6}")
    return None


# --- starting and resuming a run ------------------------------------------------------------------


def _job_id(run: CompileRun, town_id: int) -> str:
    return f"ratings-compile-c{run.county_id}-{run.month}-r{run.id}-a{run.attempt}-t{town_id}"


class Started(NamedTuple):
    """What `compile_month` did: the run, and how many town jobs this call queued (none if it lost a race)."""

    run: CompileRun
    towns_queued: int


def compile_month(session: Session, county_id: int, month: str, actor_id: int | None = None) -> Started:
    """Start the county's compile for `month`, or resume its unfinished run (re-enqueue what is not done).

    A second call racing the first loses on the one-open-run index and gets the first call's run.
    """
    Month.parse(month)
    run = session.scalar(
        select(CompileRun)
        .where(CompileRun.county_id == county_id, CompileRun.month == month, CompileRun.finished_at.is_(None))
        .with_for_update()
    )
    if run is not None:
        pending = _next_attempt(session, run)
        _note(run, f"第{run.attempt}次尝试：手动续跑，{_what(pending)}已重新排队")
        return Started(run, len(pending))
    towns = list(session.scalars(select(Town.id).where(Town.county_id == county_id).order_by(Town.code)))
    try:
        with session.begin_nested():
            run = _new_run(session, county_id, month, len(towns), actor_id)
    except IntegrityError:
        raced = session.scalars(
            select(CompileRun).where(
                CompileRun.county_id == county_id, CompileRun.month == month, CompileRun.finished_at.is_(None)
            )
        ).one()
        return Started(raced, 0)
    session.add_all(CompileUnit(run_id=run.id, town_id=town_id) for town_id in towns)
    session.flush()
    _enqueue_towns(session, run, towns)
    return Started(run, len(towns))


def _new_run(session: Session, county_id: int, month: str, towns: int, actor_id: int | None = None) -> CompileRun:
    run = CompileRun(
        county_id=county_id,
        month=month,
        units_total=towns,
        started_by_id=actor_id,
        counts={},
        errors=[],
        notes=[],
        digest={},
        diff=[],
    )
    session.add(run)
    session.flush()
    return run


_VILLAGE_ROWS = (
    select(Village.id, Village.town_id, StarSheet.stage)
    .outerjoin(StarSheet, and_(StarSheet.village_id == Village.id, StarSheet.month == bindparam("month")))
    .order_by(Village.code)
)
_TOWN_VILLAGES = _VILLAGE_ROWS.where(Village.town_id == bindparam("town"))
_SOME_VILLAGES = _VILLAGE_ROWS.where(any_of(Village.id, "villages"))


def village_rows(session: Session, month: str, *, town_id: int | None = None, ids: Sequence[int] = ()) -> list[Any]:
    """A town's villages (or these), as plain rows (id, town_id, stage of the month's star sheet): all a compile
    reads of them."""
    if town_id is not None:
        return read_rows(session, _TOWN_VILLAGES, {"month": month, "town": town_id}).all()
    return read_rows(session, _SOME_VILLAGES, {"month": month, "villages": list(ids)}).all()


def _next_attempt(session: Session, run: CompileRun) -> list[int]:
    """Re-enqueue the run's unfinished towns (or its finish, when none is left) under the next attempt's job ids;
    returns those towns."""
    run.attempt += 1
    run.progressed_at = now_utc()
    session.flush()
    pending = list(
        session.scalars(
            select(CompileUnit.town_id)
            .where(CompileUnit.run_id == run.id, CompileUnit.finished_at.is_(None))
            .order_by(CompileUnit.id)
        )
    )
    _enqueue_towns(session, run, pending)
    return pending


def _what(pending: list[int]) -> str:
    """What an attempt re-queues, as the run's notes say it."""
    return f"{len(pending)} 个乡镇任务" if pending else "县级汇总"


def _note(run: CompileRun, text: str) -> None:
    """Add a line to the run's history, stamped with Beijing time as the admin reads it."""
    run.notes = [*run.notes, f"{to_local(now_utc()):%Y-%m-%d %H:%M} {text}"]


def _enqueue_towns(session: Session, run: CompileRun, towns: list[int]) -> None:
    """A job per town of the run still to compile, or the finish when none is left."""
    jobs = [(_job_id(run, town_id), {"run_id": run.id, "town_id": town_id}) for town_id in towns]
    enqueue_many(session, "ratings.compile_town", jobs)
    if not towns:
        _enqueue_finalize(session, run.id, run.attempt)


def _enqueue_finalize(session: Session, run_id: int, attempt: int) -> None:
    """Queue the county-wide finish once per attempt; a resume racing the last unit may try twice."""
    try:
        with session.begin_nested():
            enqueue(session, "ratings.finalize", job_id=f"ratings-finalize-r{run_id}-a{attempt}", run_id=run_id)
    except IntegrityError:
        log.info("finalize of run %s attempt %s already queued", run_id, attempt)


def compile_month_now(session: Session, county_id: int, month: str, inputs: Inputs | None = None) -> CompileRun:
    """The same compile in the caller's transaction, without jobs (demo seed, benchmark): one run, every
    town in turn, then the county-wide finish. `inputs` may hold values the caller gathered already."""
    Month.parse(month)
    towns = session.scalars(select(Town.id).where(Town.county_id == county_id).order_by(Town.code)).all()
    run = _new_run(session, county_id, month, len(towns))
    for town_id in towns:
        compile_villages(session, county_id, month, village_rows(session, month, town_id=town_id), run.id, inputs)
        session.add(CompileUnit(run_id=run.id, town_id=town_id, finished_at=now_utc()))
    run.units_done = len(towns)
    session.flush()
    finalize_run(session, run.id)
    return run


# --- one town -------------------------------------------------------------------------------------


_UNIT = (
    select(CompileUnit.finished_at, CompileRun.county_id, CompileRun.month, CompileRun.finished_at)
    .join(CompileRun, CompileRun.id == CompileUnit.run_id)
    .where(CompileUnit.run_id == bindparam("run"), CompileUnit.town_id == bindparam("town"))
    .with_for_update(of=CompileUnit.__table__)
)


def compile_town(session: Session, run_id: int, town_id: int) -> None:
    """Compile one town's villages for the run. The unit row is locked first, so a duplicate of this job
    waits for the other and then finds the unit done. Transient database errors are retried; any other
    error is recorded on the unit and the run (visible in the admin UI), the unit counts as done, and the
    job then fails (RecordedError: the runner commits the record, then fails the job)."""
    unit_done, county_id, month, run_done = read_rows(session, _UNIT, {"run": run_id, "town": town_id}).one()
    if unit_done is not None or run_done is not None:
        return
    error = None
    failure: Exception | None = None
    for attempt in range(1, TRANSIENT_TRIES + 1):
        try:
            with session.begin_nested():
                compile_villages(session, county_id, month, village_rows(session, month, town_id=town_id), run_id)
            error = None
            break
        except TRANSIENT as exc:
            log.warning("transient error compiling town %s (try %s): %s", town_id, attempt, type(exc).__name__)
            error = f"{type(exc).__name__}（重试{attempt}次仍失败）"
        except Exception as exc:  # not transient: retrying gives the same error; record it, then fail the job
            error = f"{type(exc).__name__}: {exc}"[:500]
            failure = exc
            break
    units, runs = CompileUnit.__table__, CompileRun.__table__
    session.execute(
        units.update()
        .where(units.c.run_id == run_id, units.c.town_id == town_id)
        .values(finished_at=now_utc(), error=error)
    )
    done = session.execute(
        runs.update()
        .where(runs.c.id == run_id)
        .values(units_done=runs.c.units_done + 1, progressed_at=now_utc())
        .returning(runs.c.units_done, runs.c.units_total, runs.c.attempt)
    ).one()
    if done.units_done >= done.units_total:
        _enqueue_finalize(session, run_id, done.attempt)
    if failure is not None:
        raise RecordedError(f"town {town_id} of compile run {run_id}: {error}") from failure


_ENTRIES = select(
    RatingEntry.subject_type,
    RatingEntry.period,
    RatingEntry.subject_id,
    RatingEntry.key,
    RatingEntry.stage,
    RatingEntry.value,
    RatingEntry.reason,
).where(
    or_(
        and_(
            RatingEntry.subject_type == "village",
            any_of(RatingEntry.period, "village_periods"),
            any_of(RatingEntry.subject_id, "villages"),
        ),
        and_(
            RatingEntry.subject_type == "cadre",
            RatingEntry.period == bindparam("month"),
            any_of(RatingEntry.subject_id, "cadres"),
        ),
        and_(
            RatingEntry.subject_type == "party_member",
            RatingEntry.period == bindparam("month"),
            any_of(RatingEntry.subject_id, "members"),
        ),
    )
)


def _entries(
    session: Session, village_periods: list[str], villages: list[int], month: str, cadres: list[int], members: list[int]
) -> dict[tuple[str, str, int], dict[str, list[Entry]]]:
    """The raters' entries of a town's subjects in one query (villages for the month and its half year, first
    secretaries and party members for the month); keyed by (subject type, period, subject id), then entry key."""
    out: dict[tuple[str, str, int], dict[str, list[Entry]]] = defaultdict(lambda: defaultdict(list))
    params = {
        "village_periods": village_periods,
        "villages": villages,
        "month": month,
        "cadres": cadres,
        "members": members,
    }
    for subject_type, period, subject_id, key, stage, value, reason in read_rows(session, _ENTRIES, params):
        out[(subject_type, period, subject_id)][key].append(Entry(stage.value, value, reason))
    return out


def _input_keys(definition: dict[str, Any]) -> set[str]:
    keys = {i["input"] for i in definition.get("indicators", []) if i.get("input")}
    keys |= {v["input"] for i in definition.get("indicators", []) for v in i.get("vetoes", []) if v.get("input")}
    keys |= {r["input"] for r in definition.get("ranking", {}).get("yellow_card_inputs", [])}
    return keys


class Inputs:
    """Provider values per subject and period, each key gathered once even when several schemes name it;
    `prefetch` fills the cache for many subjects with the batch providers (one query per town, not per village)
    and skips what is cached already, so a caller that looked the inputs up first (the demo) pays once."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.cache: dict[tuple[Subject, str], dict[str, dict[str, Any]]] = {}
        self.named: dict[int, tuple[str, ...]] = {}

    def named_by(self, scheme: RatingScheme) -> tuple[str, ...]:
        """The inputs a scheme version names, sorted as its results list them; worked out once, not per result."""
        if scheme.id not in self.named:
            self.named[scheme.id] = tuple(sorted(_input_keys(scheme.definition)))
        return self.named[scheme.id]

    def prefetch(self, keys: set[str], subjects: list[Subject], period: Period) -> None:
        missing = {k for k in keys for s in subjects if k not in self.cache.get((s, period.label), {})}
        if not missing:
            return
        for subject, values in gather_many(self.session, missing, subjects, period).items():
            self.cache.setdefault((subject, period.label), {}).update(values)

    def __call__(self, keys: Collection[str], subject: Subject, period: Period) -> dict[str, dict[str, Any]]:
        have = self.cache.setdefault((subject, period.label), {})
        missing = set(keys) - have.keys()
        if missing:
            have.update(gather(self.session, missing, subject, period))
        return {key: have[key] for key in sorted(keys)}


def _result_row(
    inputs: Inputs,
    scheme: RatingScheme,
    subject: Subject,
    period: Period,
    entries: dict[str, list[Entry]],
    where: tuple[int, int, int],
    run_id: int | None,
    category: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Evaluate one subject under one scheme: the RatingResult row, its detail naming every input's records."""
    gathered = inputs(inputs.named_by(scheme), subject, period)
    values = {k: (v["value"] if v["available"] else None) for k, v in gathered.items()}
    result = evaluate(scheme.kind.value, scheme.definition, values, entries, category)
    detail = {
        "scheme": {"id": scheme.id, "version": scheme.version, "title": scheme.title},
        "inputs": gathered,
        "indicators": [dict(vars(i)) for i in result.indicators],  # asdict deep-copies: 5× slower
        "bonus": result.bonus,
        "deduction": result.deduction,
        "grade_before_quota": result.grade,
        **({"category": category} if category else {}),
        **extra,
    }
    county_id, town_id, village_id = where
    return {
        "kind": scheme.kind,
        "subject_type": subject.type,
        "subject_id": subject.id,
        "period": period.label,
        "county_id": county_id,
        "town_id": town_id,
        "village_id": village_id,
        "scheme_id": scheme.id,
        "score": result.score,
        "stars": result.stars,
        "grade": result.grade,
        "rank": None,
        "flags": result.flags,
        "detail": detail,
        "run_id": run_id,
        "updated_at": now_utc(),
    }


# Built once: every town's job runs them.
_MEMBERS = (
    select(PartyMember.id, PartyMember.village_id, PartyMember.category)
    .where(any_of(PartyMember.village_id, "villages"))
    .order_by(PartyMember.id)
)
_POSTED = (
    select(Posting.id, Posting.village_id, Posting.cadre_id, Posting.post, Posting.start_on, Posting.end_on)
    .where(
        any_of(Posting.village_id, "villages"),
        Posting.post.in_([Post.team_leader, Post.first_secretary]),
        Posting.start_on <= bindparam("end", type_=Date),
        (Posting.end_on.is_(None)) | (Posting.end_on >= bindparam("start", type_=Date)),
    )
    .order_by(Posting.id.desc())
)


def compile_villages(
    session: Session,
    county_id: int,
    month: str,
    villages: list[Any],
    run_id: int | None = None,
    inputs: Inputs | None = None,
) -> int:
    """Evaluate every scheme in force for these villages (all of `county_id`) and upsert the results, noting
    the run that wrote them."""
    period = Period.month(month)
    schemes = schemes_in_force(session, county_id, period.start)
    half = half_year_of(month)
    half_schemes = schemes_in_force(session, county_id, half.start) if half else {}
    ids = [v.id for v in villages]
    where = {v.id: (county_id, v.town_id, v.id) for v in villages}
    posted = _posted(session, ids, period)
    secretaries = sorted({(p.cadre_id, p.village_id) for p in posted if p.post == Post.first_secretary})
    members = read_rows(session, _MEMBERS, {"villages": ids}).all()
    entries = _entries(
        session,
        [month] + ([half.label] if half else []),
        ids,
        month,
        [cadre_id for cadre_id, _village in secretaries],
        [m.id for m in members],
    )
    inputs = inputs or Inputs(session)
    village_subjects = [Subject("village", v.id, v.id) for v in villages]
    cadre_subjects = [Subject("cadre", c, v) for c, v in dict(secretaries).items()]
    monthly_keys = set().union(
        *(
            _input_keys(schemes[k].definition)
            for k in (SchemeKind.ten_star, SchemeKind.ranking, SchemeKind.hundred_point)
            if k in schemes
        )
    )
    # Villages and first secretaries together: a village-level input (coverage, closure) is computed once.
    inputs.prefetch(monthly_keys, village_subjects + cadre_subjects, period)
    if half and SchemeKind.thousand_point in half_schemes:
        inputs.prefetch(_input_keys(half_schemes[SchemeKind.thousand_point].definition), village_subjects, half)
    rows: list[dict[str, Any]] = []
    for village in villages:
        subject = Subject("village", village.id, village.id)
        village_entries = entries.get(("village", month, village.id), {})
        if SchemeKind.ten_star in schemes:
            stage = str(village.stage or "open")
            rows.append(
                _result_row(
                    inputs,
                    schemes[SchemeKind.ten_star],
                    subject,
                    period,
                    village_entries,
                    where[village.id],
                    run_id,
                    sheet_stage=stage,
                )
            )
        if SchemeKind.ranking in schemes:
            rows.append(
                _result_row(
                    inputs, schemes[SchemeKind.ranking], subject, period, village_entries, where[village.id], run_id
                )
            )
        if half and SchemeKind.thousand_point in half_schemes:
            rows.append(
                _result_row(
                    inputs,
                    half_schemes[SchemeKind.thousand_point],
                    subject,
                    half,
                    entries.get(("village", half.label, village.id), {}),
                    where[village.id],
                    run_id,
                )
            )
    if SchemeKind.hundred_point in schemes:
        for cadre_id, village_id in dict(secretaries).items():
            rows.append(
                _result_row(
                    inputs,
                    schemes[SchemeKind.hundred_point],
                    Subject("cadre", cadre_id, village_id),
                    period,
                    entries.get(("cadre", month, cadre_id), {}),
                    where[village_id],
                    run_id,
                )
            )
    if SchemeKind.party_member in schemes:
        for member_id, village_id, category in members:
            rows.append(
                _result_row(
                    inputs,
                    schemes[SchemeKind.party_member],
                    Subject("party_member", member_id, village_id),
                    period,
                    entries.get(("party_member", month, member_id), {}),
                    where[village_id],
                    run_id,
                    category,
                )
            )
    # Upserted by natural key: a re-run replaces the month's results.
    insert_many(session, RatingResult.__table__, rows, ("kind", "subject_type", "subject_id", "period"), update=True)
    if SchemeKind.ten_star in schemes:
        leaders = _leaders(posted, period.end)
        _village_alerts_and_rectifications(session, county_id, month, ids, schemes[SchemeKind.ten_star], rows, leaders)
    return len(rows)


# --- county-wide finish ---------------------------------------------------------------------------


def finalize_run(session: Session, run_id: int) -> None:
    run = session.scalars(select(CompileRun).where(CompileRun.id == run_id).with_for_update()).one()
    if run.finished_at is not None:
        return
    digest = result_digest(finalize_month(session, run.county_id, run.month))
    previous = session.scalar(
        select(CompileRun.digest)
        .where(
            CompileRun.county_id == run.county_id, CompileRun.month == run.month, CompileRun.finished_at.is_not(None)
        )
        .order_by(CompileRun.id.desc())
        .limit(1)
    )
    run.digest = digest
    run.diff = diff_digests(previous, digest) if previous is not None else []
    errors = list(
        session.scalars(select(CompileUnit.error).where(CompileUnit.run_id == run.id, CompileUnit.error.is_not(None)))
    )
    counts: dict[str, int] = defaultdict(int)
    for key in digest:
        counts[key.split(":")[0]] += 1
    counts["alerts"], counts["rectifications"] = session.execute(
        select(
            *(
                select(func.count())
                .where(model.county_id == run.county_id, model.period == run.month)
                .scalar_subquery()
                for model in (RatingAlert, Rectification)
            )
        )
    ).one()
    run.counts, run.errors = dict(counts), errors
    run.status = RunStatus.failed if errors else RunStatus.finished
    run.finished_at = now_utc()


class _Result(NamedTuple):
    """A result as the finish reads it: all but its large detail."""

    id: int
    kind: str
    subject_type: str
    subject_id: int
    period: str
    village_id: int
    score: float
    stars: int | None
    grade: str
    rank: int | None
    flags: list[str]


def _month_results(session: Session, county_id: int, month: str) -> list[_Result]:
    """The month's results (and its half year's) as just upserted, read once for ranking, quota and digest. Kinds
    and flags come as text and the flags are parsed in one go: per-row JSON and enum handling was most of a large
    county's finish."""
    half = half_year_of(month)
    t = RatingResult.__table__.c
    rows = read_rows(
        session,
        select(
            t.id,
            cast(t.kind, String),
            t.subject_type,
            t.subject_id,
            t.period,
            t.village_id,
            t.score,
            t.stars,
            t.grade,
            t.rank,
            cast(t.flags, Text),
        ).where(t.county_id == county_id, t.period.in_([month] + ([half.label] if half else []))),
    ).all()
    flags = json.loads(f"[{','.join(row[-1] for row in rows)}]")
    return [_Result(*row[:-1], flagged) for row, flagged in zip(rows, flags, strict=True)]


def _update_results(session: Session, changes: list[dict[str, Any]]) -> None:
    """Write the finish's changes ({"id", column: value…}, the same columns in each) in one statement. Result
    objects the session holds are expired, so ORM readers in the same transaction see the new values."""
    update_many(session, RatingResult.__table__, changes)
    for obj in list(session.identity_map.values()):
        if isinstance(obj, RatingResult):
            session.expire(obj)


def finalize_month(session: Session, county_id: int, month: str) -> list[_Result]:
    """County-wide steps: ranking with red flag / annual bottom share and its admonitions, the excellence quota.
    (Each village's own alerts and 整改 items come with its results, in its town's job.) Returns the month's
    results as they now stand."""
    session.flush()
    results = _month_results(session, county_id, month)
    schemes = schemes_in_force(session, county_id, Period.month(month).start)
    changed: dict[int, _Result] = {}
    if SchemeKind.ranking in schemes:
        names = dict(
            session.execute(select(Village.id, Village.code).join(Town).where(Town.county_id == county_id)).all()
        )
        ranking = [r for r in results if r.kind == SchemeKind.ranking and r.period == month]
        ranked = _finalize_ranking(session, county_id, month, schemes[SchemeKind.ranking], names, ranking)
        changed.update((r.id, r) for r in ranked)
        _admonitions(session, county_id, month, ranked)
    if SchemeKind.hundred_point in schemes:
        assessed = [r for r in results if r.kind == SchemeKind.hundred_point and r.period == month]
        quota = schemes[SchemeKind.hundred_point].definition.get("quota")
        changed.update((r.id, r) for r in _apply_quota(session, assessed, quota))
    session.flush()
    return [changed.get(r.id, r) for r in results]


def _apply_quota(session: Session, assessed: list[_Result], quota: dict[str, Any] | None) -> list[_Result]:
    """Cap the grade county-wide and write back only the results whose grade or flags change (a first compile
    wrote every result with its grade before the quota); returns those. The large detail is read only where
    needed: the grade before the quota of results capped by an earlier finish, the tie-break scores of those
    who reach the cap."""
    before = {r.id: r.grade for r in assessed}
    capped = [r.id for r in assessed if "quota_capped" in r.flags]
    if capped:  # an earlier finish lowered their grade; the detail keeps the one they earned
        t = RatingResult.__table__.c
        earned = select(t.id, t.detail["grade_before_quota"].as_string()).where(t.id.in_(capped))
        before.update(session.execute(earned).tuples().all())
    demoted = {}
    if quota:
        contenders = [r.id for r in assessed if before[r.id] == quota["grade"]]
        tie_breaks = _tie_breaks(session, contenders, quota["tie_break"])
        demoted = apply_quota(
            [Candidate(r.id, r.score, before[r.id], tie_breaks.get(r.id, ())) for r in assessed], quota
        )
    changed = []
    for r in assessed:
        grade = demoted.get(r.id, before[r.id])
        flags = sorted({*r.flags, "quota_capped"} if r.id in demoted else set(r.flags) - {"quota_capped"})
        if grade != r.grade or flags != sorted(r.flags):
            changed.append(r._replace(grade=grade, flags=flags))
    _update_results(session, [{"id": r.id, "grade": r.grade, "flags": r.flags} for r in changed])
    return changed


def _tie_breaks(session: Session, result_ids: list[int], codes: list[str]) -> dict[int, tuple[float, ...]]:
    """Per result, its scores on the scheme's tie-break indicators, in the scheme's order."""
    if not result_ids:
        return {}
    t = RatingResult.__table__.c
    out = {}
    for result_id, detail in session.execute(select(t.id, t.detail).where(t.id.in_(result_ids))):
        scores = {i["code"]: i["score"] for i in detail["indicators"]}
        out[result_id] = tuple(scores[code] for code in codes)
    return out


def _finalize_ranking(
    session: Session, county_id: int, month: str, scheme: RatingScheme, names: dict, ranking: list[_Result]
) -> list[_Result]:
    """Ranks, the red flag and the annual bottom share; writes back the results whose rank or flags change and
    returns every ranking result as it now stands."""
    rules = scheme.definition["ranking"]
    ranks = rank([(r.id, r.score, names.get(r.village_id, "")) for r in ranking])
    bottom: set[int] = set()
    december = Month.parse(month)
    if december.month == 12:
        year = [str(m) for m in Month(december.year, 1).through(december)]
        totals: dict[int, list[float]] = defaultdict(list)
        for village_id, score in session.execute(
            select(RatingResult.village_id, RatingResult.score).where(
                RatingResult.county_id == county_id,
                RatingResult.kind == SchemeKind.ranking,
                RatingResult.period.in_(year),
            )
        ):
            totals[village_id].append(score)
        annual = rank([(v, sum(s) / len(s), names.get(v, "")) for v, s in totals.items()])
        bottom = bottom_share(annual, rules["annual_bottom_share"])
    ranked = []
    for r in ranking:
        flags = set(r.flags) - {"red_flag", "annual_bottom"}
        if ranks[r.id] <= rules["red_flag_places"]:
            flags.add("red_flag")
        if r.village_id in bottom:
            flags.add("annual_bottom")
        ranked.append(r._replace(rank=ranks[r.id], flags=sorted(flags)))
    before = {r.id: r for r in ranking}
    _update_results(
        session,
        [
            {"id": r.id, "rank": r.rank, "flags": r.flags}
            for r in ranked
            if (r.rank, r.flags) != (before[r.id].rank, sorted(before[r.id].flags))
        ],
    )
    return ranked


def _posted(session: Session, village_ids: list[int], period: Period) -> list[Any]:
    """The first secretaries and team leaders posted in these villages at any time of the period (one query for
    both the 100-point subjects and who answers for the stars)."""
    return list(read_rows(session, _POSTED, {"villages": village_ids, "start": period.start, "end": period.end}))


def _leaders(posted: list[Any], on: date) -> dict[int, int]:
    """Per village, the team leader posted on `on` (else the first secretary): who answers for its stars."""
    current = [p for p in posted if p.start_on <= on and (p.end_on is None or p.end_on >= on)]
    secretaries = {p.village_id: p.cadre_id for p in current if p.post == Post.first_secretary}
    leaders = {p.village_id: p.cadre_id for p in current if p.post == Post.team_leader}
    return secretaries | leaders


def _satisfaction(detail: dict[str, Any]) -> float | None:
    """The survey rate if its provider delivered one, else the rater's score on the satisfaction indicator."""
    for ind in detail["indicators"]:
        if ind["input"] == "survey_satisfaction_rate":
            if ind["input_value"] is not None:
                return ind["input_value"]
            return ind["score"] / ind["max"] if ind["origin"] != "none" else None
    return None


_STAR_HISTORY = select(RatingResult.village_id, RatingResult.period, RatingResult.stars).where(
    any_of(RatingResult.village_id, "villages"),
    RatingResult.kind == SchemeKind.ten_star,
    any_of(RatingResult.period, "months"),
)

VILLAGE_ALERTS = (AlertKind.accountability, AlertKind.commendation, AlertKind.interview)


def _village_alerts_and_rectifications(
    session: Session,
    county_id: int,
    month: str,
    village_ids: list[int],
    scheme: RatingScheme,
    rows: list[dict[str, Any]],
    leaders: dict[int, int],
) -> None:
    """What a village's own results call for, written with them: streak alerts over its months (this one
    included, just upserted), the interview alert below the satisfaction line, and 整改 items for each lost
    star, veto and yellow card. `rows` are the town's result rows of this compile."""
    thresholds = scheme.definition["alerts"]
    n = thresholds["streak_months"]
    window = previous_months(month, n)
    period = Period.month(month)
    history: dict[int, dict[str, int | None]] = defaultdict(dict)
    for village_id, period_label, stars in read_rows(
        session, _STAR_HISTORY, {"villages": village_ids, "months": window}
    ):
        history[village_id][period_label] = stars
    sheets = [r for r in rows if r["kind"] == SchemeKind.ten_star]
    wanted: dict[tuple[AlertKind, int], str] = {}
    for r in sheets:
        village_id = r["village_id"]
        series = [history[village_id].get(m) for m in window]
        if streak(series, lambda s: s <= thresholds["low_stars"], n):
            wanted[(AlertKind.accountability, village_id)] = (
                f"连续{n}个月星级不高于{thresholds['low_stars']}星（本月{r['stars']}星），约谈问责驻村工作队长"
            )
        if streak(series, lambda s: s >= thresholds["high_stars"], n):
            wanted[(AlertKind.commendation, village_id)] = (
                f"连续{n}个月达到{thresholds['high_stars']}星以上（本月{r['stars']}星），通报表扬"
            )
        rate = _satisfaction(r["detail"])
        if rate is not None and rate < thresholds["satisfaction_below"] - 1e-9:
            wanted[(AlertKind.interview, village_id)] = (
                f"群众满意率{rate:.0%}，低于{thresholds['satisfaction_below']:.0%}，约谈提醒"
            )
    _sync_alerts(session, county_id, month, VILLAGE_ALERTS, wanted, leaders, village_ids)
    deadline = period.end + timedelta(days=thresholds["rectify_days"])
    items: list[tuple[int, RectificationOrigin, str, str]] = []
    for r in sheets:
        for ind in r["detail"]["indicators"]:
            if ind["vetoes"]:
                title = f"{ind['title']}：{'、'.join(ind['vetoes'])}"
                items.append((r["village_id"], RectificationOrigin.veto, ind["code"], title))
            elif ind["lit"] is False:
                title = f"失星「{ind['title']}」：{ind['lost_reason']}"
                items.append((r["village_id"], RectificationOrigin.lost_star, ind["code"], title))
    for r in rows:
        if r["kind"] == SchemeKind.ranking and "yellow_card" in r["flags"]:
            items.append((r["village_id"], RectificationOrigin.yellow_card, "YC", "月度排名黄牌警示：存在重大问题"))
    # Inserted unless the natural key exists: tracked items (evidence, closure) are never overwritten by a re-run.
    insert_many(
        session,
        Rectification.__table__,
        [
            {
                "county_id": county_id,
                "village_id": village_id,
                "period": month,
                "origin": origin,
                "origin_code": code,
                "title": title[:200],
                "owner_cadre_id": leaders.get(village_id),
                "deadline": deadline,
                "evidence": "",
                "closed": False,
                "created_at": now_utc(),
            }
            for village_id, origin, code, title in items
        ],
        ("village_id", "period", "origin", "origin_code"),
    )


def _admonitions(session: Session, county_id: int, month: str, ranking: list[_Result]) -> None:
    """诫勉谈话 for the villages in the annual ranking's bottom share (December only): county-wide, in the finish."""
    wanted = {
        (AlertKind.admonition, r.village_id): "年度排名位列后10%，对单位负责人进行诫勉谈话"
        for r in ranking
        if "annual_bottom" in r.flags
    }
    if Month.parse(month).month != 12:
        return  # only December has an annual bottom share, so no other month ever has an admonition
    period = Period.month(month)
    leaders = (
        _leaders(_posted(session, [village_id for _kind, village_id in wanted], period), period.end) if wanted else {}
    )
    _sync_alerts(session, county_id, month, (AlertKind.admonition,), wanted, leaders)


_ALERTS = select(RatingAlert.id, RatingAlert.kind, RatingAlert.village_id, RatingAlert.message).where(
    RatingAlert.county_id == bindparam("county"),
    RatingAlert.period == bindparam("month"),
    any_of(RatingAlert.kind, "kinds"),
)
_VILLAGES_ALERTS = _ALERTS.where(any_of(RatingAlert.village_id, "villages"))


def _sync_alerts(
    session: Session,
    county_id: int,
    month: str,
    kinds: tuple[AlertKind, ...],
    wanted: dict[tuple[AlertKind, int], str],
    leaders: dict[int, int],
    village_ids: list[int] | None = None,
) -> None:
    """Make the month's alerts of these kinds (of these villages, else the county's) exactly `wanted`: a re-run
    after an upheld objection drops an alert no longer due and updates the others in place (same id and date).
    Plain rows and statements: each town's job runs it, and the ORM's load and flush cost more than the rows."""
    params = {"county": county_id, "month": month, "kinds": list(kinds), "villages": village_ids}
    existing = {
        (kind, village_id): (alert_id, message)
        for alert_id, kind, village_id, message in read_rows(
            session, _ALERTS if village_ids is None else _VILLAGES_ALERTS, params
        )
    }
    table = RatingAlert.__table__
    stale = [alert_id for key, (alert_id, _message) in existing.items() if key not in wanted]
    if stale:
        session.execute(table.delete().where(table.c.id.in_(stale)))
    update_many(
        session,
        table,
        [
            {"id": alert_id, "message": wanted[key]}
            for key, (alert_id, message) in existing.items()
            if key in wanted and message != wanted[key]
        ],
    )
    insert_many(
        session,
        table,
        [
            {
                "kind": kind,
                "county_id": county_id,
                "village_id": village_id,
                "period": month,
                "cadre_id": leaders.get(village_id),
                "message": message,
                "created_at": now_utc(),
            }
            for (kind, village_id), message in sorted(wanted.items())
            if (kind, village_id) not in existing
        ],
    )


def result_digest(results: list[_Result]) -> dict[str, list[Any]]:
    """What a run produced, keyed by natural key: the basis of the diff between runs."""
    return {
        f"{r.kind}:{r.subject_type}:{r.subject_id}:{r.period}": [r.score, r.stars, r.grade, r.rank, sorted(r.flags)]
        for r in results
    }


def diff_digests(before: dict[str, list[Any]], after: dict[str, list[Any]]) -> list[dict[str, Any]]:
    changes = []
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key):
            changes.append({"key": key, "before": before.get(key), "after": after.get(key)})
    return changes


def compile_counties(session: Session, month: str) -> list[int]:
    """The month-end schedule: compile `month` for every county that has a scheme."""
    counties = session.scalars(select(RatingScheme.county_id).distinct().order_by(RatingScheme.county_id)).all()
    return [compile_month(session, county_id, month).run.id for county_id in counties]


# --- runs a killed worker left hanging ------------------------------------------------------------


def reconcile_runs(session: Session, unit_timeout: timedelta, max_attempts: int) -> list[int]:
    """Every unfinished run that has not moved for `unit_timeout` lost a job (a worker killed mid-compile): give it
    its next attempt, which re-queues exactly its unfinished towns, or after `max_attempts` fail it with the reason.
    Returns the ids of the runs it acted on.

    A run locked by a job at work (a town counting itself done, the finish, a resume) is moving and skipped. A
    re-queued town whose first job is in fact still at work is harmless: its unit's row lock makes the new job
    wait and then find the unit done."""
    stuck = session.scalars(
        select(CompileRun)
        .where(CompileRun.finished_at.is_(None), CompileRun.progressed_at < now_utc() - unit_timeout)
        .order_by(CompileRun.id)
        .with_for_update(skip_locked=True)
    ).all()
    for run in stuck:
        if run.attempt >= max_attempts:
            _give_up(session, run, unit_timeout)
        else:
            pending = _next_attempt(session, run)
            _note(run, f"第{run.attempt}次尝试：{_what(pending)}超时，已重新排队")
    return [run.id for run in stuck]


def _give_up(session: Session, run: CompileRun, unit_timeout: timedelta) -> None:
    """Fail a run whose last attempt stopped too: its units stay unfinished and a late job finds the run done."""
    towns = session.scalars(
        select(Town.name)
        .join(CompileUnit, CompileUnit.town_id == Town.id)
        .where(CompileUnit.run_id == run.id, CompileUnit.finished_at.is_(None))
        .order_by(Town.code)
    ).all()
    what = f"乡镇任务（{'、'.join(towns)}）" if towns else "县级汇总"
    minutes = f"{unit_timeout.total_seconds() / 60:g}"
    run.errors = [
        *run.errors,
        f"汇总未完成：{what}尝试{run.attempt}次，每次超过{minutes}分钟没有进展，已放弃。"
        "请确认后台任务进程（flask worker）在运行，再重新发起汇总",
    ]
    run.status = RunStatus.failed
    run.finished_at = now_utc()
    _note(run, f"第{run.attempt}次尝试仍超时，已放弃，汇总标记为失败")


def resolve_county(session: Session, county: str) -> int:
    """A county by its 6-digit code or its id (the CLI accepts either)."""
    found = session.scalar(select(County.id).where(County.code == county))
    if found is None and county.isdigit():
        found = session.scalar(select(County.id).where(County.id == int(county)))
    if found is None:
        raise InvalidRequest(errors={"county": [f"县 {county} 不存在"]})
    return found
