"""An import's life: upload → dry run (a job) → the admin confirms → re-check and apply (a job), all in the
`ImportRun` row, so the admin can leave the page and come back. Nothing is written before the confirmation,
and the apply writes the whole file in its job's one transaction or nothing."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, defer

from backend.audit.service import Place, place_of_town, record
from backend.auth.models import Role, User
from backend.auth.scope import scope_for
from backend.errors import Conflict, Forbidden, InvalidRequest
from backend.jobs.outbox import enqueue
from backend.jobs.tasks import RecordedError
from backend.org.imports.apply import apply_plan
from backend.org.imports.models import ImportRun, ImportStatus
from backend.org.imports.parse import Problem, parse_workbook
from backend.org.imports.validate import ImportScope, Plan, check
from backend.org.models import Town
from backend.timeutil import now_utc

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 40 * 1024 * 1024  # a county of 100,000 households is ~20 MB
MAX_PROBLEMS = 500  # listed on the page; the count says how many more there are
ACTIONS = {"create": "新增", "update": "修改", "same": "不变"}
CHECK_TASK, APPLY_TASK = "org.import_check", "org.import_apply"
ACCOUNT_CHANGED = Problem("", 0, "", "上传者的账号已停用或管辖范围已改变，请重新上传")


def import_scope(session: Session, user: User) -> ImportScope:
    """A county admin imports for the county, a town admin for its town's villages; nobody else imports."""
    if not user.is_active or user.role not in (Role.county_admin, Role.town_admin):
        raise Forbidden("只有县、乡镇管理员可以导入")
    village_ids = scope_for(session, user).village_ids
    if user.role == Role.county_admin:
        assert user.county_id is not None
        return ImportScope(user.county_id, None, village_ids)
    town = session.get(Town, user.town_id)
    assert town is not None
    return ImportScope(town.county_id, town.id, village_ids)


def start_import(session: Session, user: User, file_name: str, data: bytes) -> ImportRun:
    scope = import_scope(session, user)
    if not data:
        raise InvalidRequest("请选择要上传的文件", errors={"file": ["请选择文件"]})
    if len(data) > MAX_FILE_BYTES:
        raise InvalidRequest("文件过大（最大40MB），请分成几个文件导入", errors={"file": ["文件过大"]})
    if not data.startswith(b"PK\x03\x04"):
        raise InvalidRequest("请上传 .xlsx 格式的 Excel 文件", errors={"file": ["不是 .xlsx 文件"]})
    run = ImportRun(
        user_id=user.id,
        county_id=scope.county_id,
        town_id=scope.town_id,
        file_name=(file_name or "导入.xlsx")[-200:],
        file_data=data,
        status=ImportStatus.checking,
        progress=0,
    )
    session.add(run)
    session.flush()
    enqueue(session, CHECK_TASK, job_id=f"import-check-{run.id}", run_id=run.id)
    return run


def confirm_import(session: Session, user: User, run: ImportRun) -> None:
    """Queue the apply once: a second click (or a second tab) finds the run no longer waiting."""
    import_scope(session, user)
    moved = session.execute(
        update(ImportRun)
        .where(ImportRun.id == run.id, ImportRun.status == ImportStatus.ready)
        .values(status=ImportStatus.applying, progress=0, progressed_at=now_utc())
    )
    if moved.rowcount != 1:
        raise Conflict("该导入不在待确认状态，请刷新页面")
    session.expire(run)
    enqueue(session, APPLY_TASK, job_id=f"import-apply-{run.id}", run_id=run.id)


def check_run(session: Session, run_id: int) -> None:
    """The dry run: parse, check against the database, keep the preview and the problems; write nothing else."""
    run = session.get(ImportRun, run_id)
    if run is None or run.status != ImportStatus.checking:
        return  # a repeated job: already done
    try:
        plan = _plan(session, run, progress_reporter(session, run_id, 0, 100))
    except Exception as exc:
        _failed(run, "检查文件时出错，没有写入任何数据：请重新上传，仍出错请联系技术支持")
        raise RecordedError(f"import {run_id}: dry run failed") from exc
    _keep_outcome(run, plan)
    run.status = ImportStatus.invalid if plan.problems else ImportStatus.ready
    run.checked_at = now_utc()


def apply_run(session: Session, run_id: int) -> None:
    """Re-check the file against the database as it is now, then write all of it, or nothing and say why."""
    run = session.get(ImportRun, run_id)
    if run is None or run.status != ImportStatus.applying:
        return
    user = session.get(User, run.user_id)
    assert user is not None
    # The run row is changed only after the writes: its progress is written meanwhile on another connection.
    try:
        plan = _plan(session, run, progress_reporter(session, run_id, 0, 50))
        if not plan.problems:
            with session.begin_nested():
                apply_plan(session, plan, run.county_id, progress_reporter(session, run_id, 50, 100))
                _audit(session, user, run, plan)
    except Exception as exc:
        _failed(run, "写入时出错，本次导入没有写入任何数据")
        raise RecordedError(f"import {run_id}: apply failed") from exc
    _keep_outcome(run, plan)
    if plan.problems:
        run.status, run.checked_at = ImportStatus.invalid, now_utc()
    else:
        run.status, run.progress, run.applied_at = ImportStatus.applied, 100, now_utc()


def retry_import(session: Session, user: User, run: ImportRun) -> ImportRun:
    """A failed run's file uploaded again, as a new run from its dry run: nothing of the failed one was written."""
    if run.status != ImportStatus.failed:
        raise Conflict("只有导入失败的记录可以重新导入")
    return start_import(session, user, run.file_name, run.file_data)


def reconcile_runs(session: Session, stale_after: timedelta) -> list[int]:
    """Fail every 检查中/导入中 run that has not moved for `stale_after`: its job was lost (a worker killed mid-job,
    a job that never ran), and the page would wait forever. Nothing is half-written (an apply writes in its job's
    one transaction), so the file can be imported again. `stale_after` is far longer than RQ's job timeout: a job
    still at work is never failed under it. Returns the ids of the runs failed."""
    stale = session.scalars(
        select(ImportRun)
        .where(
            ImportRun.status.in_((ImportStatus.checking, ImportStatus.applying)),
            ImportRun.progressed_at < now_utc() - stale_after,
        )
        .options(defer(ImportRun.file_data))
        .order_by(ImportRun.id)
        .with_for_update(skip_locked=True)
    ).all()
    minutes = f"{stale_after.total_seconds() / 60:g}"
    for run in stale:
        step = "检查" if run.status == ImportStatus.checking else "导入"
        _failed(run, f"{step}超过{minutes}分钟没有进展（后台任务中断），已停止，没有写入任何数据。请点“重新导入”再试")
        log.warning("import %s: no progress for %s minutes, marked failed", run.id, minutes)
    return [run.id for run in stale]


def _failed(run: ImportRun, message: str) -> None:
    """A job that broke off says so on the page (which stops waiting for it); its writes are rolled back."""
    run.status, run.error = ImportStatus.failed, message


def _plan(session: Session, run: ImportRun, progress: Callable[[float], None]) -> Plan:
    user = session.get(User, run.user_id)
    assert user is not None
    try:
        scope: ImportScope | None = import_scope(session, user)
    except Forbidden:
        scope = None
    if scope is None or (scope.county_id, scope.town_id) != (run.county_id, run.town_id):
        return Plan(problems=[ACCOUNT_CHANGED])
    return check(session, parse_workbook(run.file_data), scope, progress)


def _keep_outcome(run: ImportRun, plan: Plan) -> None:
    run.error = None  # a job that finished after all outlives the reconciler's note
    run.counts = {sheet: outcome.counts for sheet, outcome in plan.outcomes.items()}
    run.preview = {sheet: outcome.samples for sheet, outcome in plan.outcomes.items()}
    run.problems = [p._asdict() for p in plan.problems[:MAX_PROBLEMS]]
    run.problem_count = len(plan.problems)


def _audit(session: Session, user: User, run: ImportRun, plan: Plan) -> None:
    """One audit row per applied import, with the counts per sheet (no row per imported person)."""
    counts = {
        sheet: "，".join(f"{ACTIONS[action]}{n}" for action, n in outcome.counts.items())
        for sheet, outcome in plan.outcomes.items()
    }
    place = place_of_town(session, run.town_id) if run.town_id else Place(county_id=run.county_id)
    summary = f"导入 {run.file_name}：" + "；".join(f"{sheet}{text_}" for sheet, text_ in counts.items())
    record(session, user, "import.apply", "import", run.id, summary, place, {s: [None, c] for s, c in counts.items()})


def progress_reporter(session: Session, run_id: int, low: int, high: int) -> Callable[[float], None]:
    """Progress of a running job for the page's bar, written on a connection of its own so the page sees it
    before the job commits. PostgreSQL only: SQLite has one writer, which the job is (the embedded mode runs
    jobs during the request anyway). A failed write of progress never stops the import."""
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return lambda _fraction: None
    engine = bind.engine
    shown = {"percent": low, "at": 0.0}

    def report(fraction: float) -> None:
        percent = low + int((high - low) * min(max(fraction, 0.0), 1.0))
        now = time.monotonic()
        if percent <= shown["percent"] or now - shown["at"] < 0.5:
            return
        shown.update(percent=percent, at=now)
        try:
            with engine.begin() as connection:
                connection.execute(text("SET LOCAL lock_timeout = '1s'"))
                connection.execute(
                    update(ImportRun).where(ImportRun.id == run_id).values(progress=percent, progressed_at=now_utc())
                )
        except SQLAlchemyError:
            log.warning("import %s: progress not written", run_id, exc_info=True)

    return report
