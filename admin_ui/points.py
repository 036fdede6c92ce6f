"""积分 pages: the review queue (评议), the rule book editor, a household's ledger, a village's balances."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from admin_ui.access import (
    INT32_MAX,
    INT32_MIN,
    admin_required,
    ascii_int,
    bp,
    choice_arg,
    current_scope,
    form_ids,
    form_return_path,
    int_arg,
    nav_item,
    page_arg,
)
from admin_ui.export import EXPORT_MAX_ROWS, wants_xlsx, xlsx_response
from backend.db import db
from backend.errors import DomainError, InvalidRequest
from backend.org.queries import village_choices
from backend.points import queries as q
from backend.points import rules
from backend.points.claims import review_claims
from backend.points.models import CapPeriod, ClaimStatus, ItemKind, RuleBook
from backend.timeutil import to_local, today_local

nav_item("admin.points_review", "积分评议", "points", 40, also_active=("admin.points_history",))
nav_item("admin.points_overview", "积分总览", "points", 41, also_active=("admin.household_points",))
nav_item("admin.points_rules", "积分规则", "points", 42, also_active=("admin.points_rule_book",))

ERRORS = {cls.code: cls for cls in DomainError.__subclasses__()}


@bp.app_template_filter("local_minute")
def local_minute(moment: datetime | None) -> str:
    """A stored UTC time as the county reads it (Asia/Shanghai), to the minute."""
    return f"{to_local(moment):%Y-%m-%d %H:%M}" if moment is not None else ""


def _claim_filters(status: ClaimStatus | None) -> q.ClaimFilters:
    kind = choice_arg("kind", list(ItemKind))
    return q.ClaimFilters(
        status=status,
        village_id=int_arg("village"),
        kind=ItemKind(kind) if kind else None,
        month=q.parse_month(request.args.get("month")),
    )


CLAIM_HEADERS = ["编号", "行政村", "户号", "户主", "类别", "事项", "分值", "规则版本", "发生日期", "说明", "来源"]


def _claim_cells(c: q.ClaimRow) -> list[object]:
    return [
        c.id,
        c.village_name,
        c.household_number,
        c.head_name,
        c.kind_label,
        f"{c.item_code} {c.item_title}",
        c.points,
        c.rule_version,
        c.occurred_on,
        c.note,
        c.source_label,
    ]


def _claims_view(status: ClaimStatus | None, template: str) -> str | Response:
    scope = current_scope()
    filters = _claim_filters(status)
    if wants_xlsx():
        rows = q.claim_page(db.session, scope, filters, per_page=EXPORT_MAX_ROWS).items
        if status == ClaimStatus.pending:
            headers = [*CLAIM_HEADERS, "提交人", "提交时间", "已同意/需同意"]
            cells = ([*_claim_cells(c), c.submitter, c.submitted_at, f"{c.approvals}/{c.quorum}"] for c in rows)
            return xlsx_response("积分评议-待审", "待评议", headers, cells)
        headers = [*CLAIM_HEADERS, "结果", "评议人", "驳回理由", "评议时间"]
        cells = (
            [*_claim_cells(c), c.status_label, "、".join(c.reviewed_by), c.reject_reason or "", c.decided_at]
            for c in rows
        )
        return xlsx_response("积分评议-已审", "已评议", headers, cells)
    return render_template(
        template,
        page=q.claim_page(db.session, scope, filters, page=page_arg()),
        filters=filters,
        village_choices=village_choices(db.session, scope),
        kind_labels=q.ITEM_KIND_LABELS,
    )


@bp.get("/points/review")
@admin_required
def points_review() -> str | Response:
    return _claims_view(ClaimStatus.pending, "points_review.html")


@bp.get("/points/review/history")
@admin_required
def points_history() -> str | Response:
    return _claims_view(None, "points_history.html")


def _back_to_queue() -> Response:
    """Back to the queue page the form came from (same filters and page), never anywhere else."""
    return redirect(form_return_path("back", "/admin/points/review") or url_for("admin.points_review"))


def _review(claim_ids: list[int], *, approve: bool, reason: str | None) -> Response:
    """Each claim in its own savepoint (review_claims): say which went through and why the others did not.

    A single claim outside the caller's villages (or gone) is an error page, not a note on the queue.
    """
    outcomes = review_claims(db.session, current_scope(), current_user, claim_ids, approve=approve, reason=reason)
    if len(outcomes) == 1 and outcomes[0].error is not None:
        error = ERRORS.get(outcomes[0].error)
        if error is not None and error.status in (403, 404):
            raise error()
    done = [o.claim_id for o in outcomes if o.error is None]
    waiting = [o.claim_id for o in outcomes if o.status == ClaimStatus.pending]
    if done:
        verb = "同意" if approve else "驳回"
        message = f"已{verb} {len(done)} 条申报（编号 {'、'.join(map(str, done))}）"
        if waiting:
            message += f"；其中 {len(waiting)} 条还需其他评议成员同意"
        flash(message, "info")
    for outcome in outcomes:
        if outcome.error is not None:
            message = ERRORS[outcome.error].message if outcome.error in ERRORS else outcome.error
            flash(f"编号 {outcome.claim_id}：{message}", "error")
    return _back_to_queue()


@bp.post("/points/claims/<int:claim_id>/approve")
@admin_required
def points_approve(claim_id: int) -> Response:
    return _review([claim_id], approve=True, reason=None)


@bp.post("/points/claims/<int:claim_id>/reject")
@admin_required
def points_reject(claim_id: int) -> Response:
    reason = (request.form.get("reason") or "").strip()
    if len(reason) < 2 or len(reason) > 300:
        flash(f"编号 {claim_id}：驳回必须填写理由（2–300 字）", "error")
        return _back_to_queue()
    return _review([claim_id], approve=False, reason=reason)


@bp.post("/points/claims/batch-approve")
@admin_required
def points_batch_approve() -> Response:
    ids = form_ids("claim_id")
    if not ids:
        flash("请先勾选要同意的申报", "error")
        return _back_to_queue()
    return _review(ids, approve=True, reason=None)


# --- 积分规则 ---


@bp.get("/points/rules")
@admin_required
def points_rules() -> str:
    scope = current_scope()
    choices = village_choices(db.session, scope)
    village_id = int_arg("village") or (choices[0][0] if choices else None)
    if village_id is None:
        raise InvalidRequest("管辖范围内没有行政村")
    chain, in_force = rules.rule_book_chain(db.session, scope, current_user, village_id)
    return render_template(
        "points_rules.html",
        chain=chain,
        in_force=in_force,
        village_id=village_id,
        village_choices=choices,
        today=today_local(),
        tomorrow=today_local() + timedelta(days=1),
        level_labels={"county": "县级", "town": "乡镇级", "village": "村级"},
    )


@bp.post("/points/rules/<level>/<int:owner_id>/versions")
@admin_required
def points_new_version(level: str, owner_id: int) -> Response:
    owner = rules.load_owner(db.session, level, owner_id)
    try:
        effective_from = date.fromisoformat(request.form.get("effective_from") or "")
    except ValueError as exc:
        raise InvalidRequest("请填写生效日期", errors={"effective_from": ["请填写生效日期"]}) from exc
    book = rules.start_version(db.session, current_user, owner, effective_from)
    flash(f"已新建第 {book.version} 版（复制自当前版本），可编辑至 {effective_from.isoformat()} 生效前", "info")
    return redirect(url_for("admin.points_rule_book", book_id=book.id))


RULE_HEADERS = ["编号", "类别", "事项", "分值", "需照片佐证", "上限次数", "上限周期"]


@bp.get("/points/rulebooks/<int:book_id>")
@admin_required
def points_rule_book(book_id: int) -> str | Response:
    book, owner = rules.load_book(db.session, current_scope(), current_user, book_id)
    if wants_xlsx():
        return xlsx_response(
            f"积分规则-{owner.name}-第{book.version}版",
            f"第{book.version}版",
            RULE_HEADERS,
            (
                [
                    i.code,
                    q.ITEM_KIND_LABELS[i.kind],
                    i.title,
                    i.signed_points,
                    "是" if i.evidence_required else "否",
                    i.cap_count,
                    q.CAP_PERIOD_LABELS[i.cap_period] if i.cap_period else None,
                ]
                for i in book.items
            ),
        )
    return _rule_book_page(book, owner, book, book.items)


def _rule_book_page(
    book: RuleBook, owner: rules.Owner, settings: RuleBook | rules.VersionChanges, items: Sequence[object]
) -> str:
    """The version page; a draft shows the editor filled from `settings`/`items` (saved, or just posted)."""
    return render_template(
        "points_rule_book.html",
        book=book,
        owner=owner,
        settings=settings,
        items=items,
        editable=rules.is_draft(book) and rules.may_edit(current_user, owner),
        kind_labels=q.ITEM_KIND_LABELS,
        period_labels=q.CAP_PERIOD_LABELS,
        blank_rows=3,
        today=today_local(),
        one_day=timedelta(days=1),
    )


def _form_int(name: str, errors: dict[str, list[str]], label: str, *, required: bool = True) -> int | None:
    raw = (request.form.get(name) or "").strip()
    if not raw and not required:
        return None
    value = ascii_int(raw)
    if value is None:
        errors[name] = [f"{label}应为整数"]
    elif not INT32_MIN <= value <= INT32_MAX:
        errors[name], value = [f"{label}超出范围"], None
    return value


def _parse_changes(fallback_date: date) -> tuple[rules.VersionChanges, dict[str, list[str]]]:
    """The editor form: settings plus rows item-<n>-*; empty new rows and ticked 删除 rows are dropped.

    Always returns what was typed (unreadable numbers as 0/empty) with the reasons, so the editor can be
    shown again without losing the rest of the user's edits.
    """
    errors: dict[str, list[str]] = {}
    items: list[rules.ItemInput] = []
    for n in range(min(_form_int("item_count", errors, "事项数") or 0, 500)):
        field = f"item-{n}-"
        title = (request.form.get(field + "title") or "").strip()
        code = request.form.get(field + "code") or None
        if request.form.get(field + "remove") or (code is None and not title):
            continue
        kind = request.form.get(field + "kind")
        period = request.form.get(field + "cap_period") or None
        if kind not in list(ItemKind) or (period is not None and period not in list(CapPeriod)):
            errors[field + "kind"] = ["类别或周期无效"]
            continue
        points = _form_int(field + "points", errors, "分值")
        cap_count = _form_int(field + "cap_count", errors, "上限次数", required=False)
        items.append(
            rules.ItemInput(
                code=code,
                kind=ItemKind(kind),
                title=title,
                points=points or 0,
                evidence_required=bool(request.form.get(field + "evidence")),
                cap_count=cap_count,
                cap_period=CapPeriod(period) if period else None,
            )
        )
    try:
        effective_from = date.fromisoformat(request.form.get("effective_from") or "")
    except ValueError:
        errors["effective_from"] = ["请填写生效日期"]
        effective_from = fallback_date
    base_score = _form_int("base_score", errors, "基础分")
    quorum = _form_int("review_quorum", errors, "评议通过人数")
    changes = rules.VersionChanges(
        title=request.form.get("title") or "",
        effective_from=effective_from,
        base_score=base_score or 0,
        review_quorum=quorum or 0,
        veto_blocks_redemption=bool(request.form.get("veto_blocks_redemption")),
        items=items,
    )
    return changes, errors


@bp.post("/points/rulebooks/<int:book_id>")
@admin_required
def points_save_rule_book(book_id: int) -> tuple[str, int] | Response:
    book, owner = rules.editable_book(db.session, current_scope(), current_user, book_id)  # 403/409 first
    changes, errors = _parse_changes(book.effective_from)
    try:
        if errors:
            raise InvalidRequest("请检查填写的内容", errors=errors)
        book = rules.update_version(db.session, current_scope(), current_user, book_id, changes)
    except InvalidRequest as error:
        # The editor again, as typed, with the reasons (422: the request rolls back; nothing was written).
        for key, problems in (error.errors or {}).items():
            flash(f"{_field_label(key)}：{'；'.join(problems)}", "error")
        flash(error.message, "error")
        return _rule_book_page(book, owner, changes, changes.items), 422
    flash(f"第 {book.version} 版已保存，{book.effective_from.isoformat()} 起生效", "info")
    return redirect(url_for("admin.points_rule_book", book_id=book.id))


def _field_label(key: str) -> str:
    labels = {"title": "标题", "effective_from": "生效日期", "base_score": "基础分", "review_quorum": "评议通过人数"}
    if key.startswith("items."):
        return f"第 {key.removeprefix('items.')} 个事项"
    return labels.get(key, "事项" if key.startswith("item") else key)


@bp.post("/points/rulebooks/<int:book_id>/discard")
@admin_required
def points_discard_rule_book(book_id: int) -> Response:
    owner = rules.discard_version(db.session, current_scope(), current_user, book_id)
    flash("未生效的版本已撤销", "info")
    village = owner.id if owner.__tablename__ == "village" else None
    return redirect(url_for("admin.points_rules", village=village))


# --- 积分总览 and a household's ledger ---


@bp.get("/points/overview")
@admin_required
def points_overview() -> str | Response:
    scope = current_scope()
    choices = village_choices(db.session, scope)
    village_id = int_arg("village") or (choices[0][0] if choices else None)
    if village_id is None:
        raise InvalidRequest("管辖范围内没有行政村")
    sort = choice_arg("sort", q.OVERVIEW_SORTS) or "balance"
    month = q.parse_month(request.args.get("month"))
    if wants_xlsx():
        data = q.village_balances(db.session, scope, village_id, sort=sort, month=month, per_page=EXPORT_MAX_ROWS)
        return xlsx_response(
            f"积分总览-{data.village_name}-{data.month}",
            "积分总览",
            ["户号", "户主", "可用积分", "冻结积分", f"{data.month}加分", f"{data.month}扣分", "一票否决"],
            (
                [r.household_number, r.head_name, r.balance, r.held, r.earned, r.deducted, "是" if r.vetoed else ""]
                for r in data.rows.items
            ),
        )
    return render_template(
        "points_overview.html",
        data=q.village_balances(db.session, scope, village_id, sort=sort, month=month, page=page_arg()),
        sort=sort,
        sorts=q.OVERVIEW_SORTS,
        village_choices=choices,
    )


LEDGER_HEADERS = [
    "时间",
    "记账月份",
    "类型",
    "变动",
    "冻结变动",
    "变动后余额",
    "事项/原因",
    "事项编号",
    "规则版本",
    "经办人",
]


@bp.get("/households/<int:household_id>/points")
@admin_required
def household_points(household_id: int) -> str | Response:
    scope = current_scope()
    month = q.parse_month(request.args.get("month"))
    if wants_xlsx():
        name, rows = q.ledger_export(db.session, scope, household_id, month)
        return xlsx_response(
            f"积分台账-{name}",
            "积分台账",
            LEDGER_HEADERS,
            (
                [
                    e.at,
                    e.month,
                    e.kind_label,
                    e.amount,
                    e.held_delta,
                    e.balance_after,
                    e.reason,
                    e.item_code,
                    e.rule_version,
                    e.actor,
                ]
                for e in rows
            ),
        )
    return render_template(
        "household_points.html",
        ledger=q.household_ledger(db.session, scope, household_id, month=month, page=page_arg()),
        month=month,
        months=q.last_months(12)[::-1],
    )
