"""满意度测评 pages: schedule surveys, watch responses come in, enter paper sheets, results with charts,
Excel exports, questionnaire templates, and the alerts (约谈) list. Never a per-household answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from admin_ui.access import admin_required, bp, choice_arg, current_scope, form_int, int_arg, nav_item, page_arg
from admin_ui.charts import bar_option, gauge_option, pie_option
from admin_ui.export import EXPORT_MAX_ROWS, wants_xlsx, xlsx_response
from backend.db import db
from backend.errors import DomainError, Forbidden, InvalidRequest
from backend.surveys import queries, results, service, templates
from backend.surveys.models import (
    ALERT_STATUS_LABELS,
    QUESTION_KIND_LABELS,
    SAMPLE_FLAG_LABELS,
    SATISFACTION_SCALE,
    TARGET_KIND_LABELS,
    AlertStatus,
    QuestionKind,
    SampleFlag,
    Sampling,
    SurveyResult,
    TargetKind,
)
from backend.timeutil import LOCAL_TZ, today_local

nav_item(
    "admin.surveys",
    "满意度测评",
    "surveys",
    40,
    also_active=("admin.survey", "admin.new_survey", "admin.survey_templates"),
)
nav_item("admin.survey_alerts", "满意度预警", "surveys", 41)

TEMPLATE_FORM_ROWS = 10


def _flash_error(error: DomainError) -> None:
    """Roll back and say what is wrong; Chinese keys (第2题, 第3份) are shown, form field names are not."""
    db.session.rollback()
    details = "；".join(
        ("" if field.isascii() else f"{field}：") + "、".join(map(str, msgs))
        for field, msgs in (error.errors or {}).items()
    )
    flash(f"{error.message}{'（' + details + '）' if details else ''}", "error")


def _local_datetime(name: str) -> datetime:
    """A datetime-local input read as Beijing time."""
    try:
        return datetime.fromisoformat(request.form.get(name, "")).replace(tzinfo=LOCAL_TZ)
    except ValueError:
        raise InvalidRequest(errors={name: ["请填写日期和时间"]}) from None


# --- surveys list, create ------------------------------------------------------------------------


@bp.get("/surveys")
@admin_required
def surveys() -> str | Response:
    status = choice_arg("status", service.STATUS_LABELS)
    if wants_xlsx():
        rows = queries.survey_page(db.session, current_scope(), status=status, per_page=EXPORT_MAX_ROWS).items
        return xlsx_response(
            "满意度测评",
            "满意度测评",
            [
                "测评",
                "行政村",
                "测评对象",
                "期间",
                "开始",
                "结束",
                "状态",
                "邀请户数",
                "小程序答卷",
                "纸质答卷",
                "应答率",
                "满意度",
                "预警",
            ],
            (
                [
                    r.title,
                    r.village_name,
                    r.target,
                    r.period,
                    r.opens_at,
                    r.closes_at,
                    r.status_label,
                    r.progress.invited,
                    r.progress.phone,
                    r.progress.paper,
                    round(r.progress.response_rate, 4),
                    None if r.satisfaction is None or r.satisfaction.rate is None else round(r.satisfaction.rate, 4),
                    "是" if r.has_alert else "",
                ]
                for r in rows
            ),
        )
    page = queries.survey_page(db.session, current_scope(), status=status, page=page_arg())
    return render_template(
        "surveys.html",
        page=page,
        status=status,
        status_choices=service.STATUS_LABELS,
        can_manage=queries.can_manage(current_user),
    )


@bp.route("/surveys/new", methods=["GET", "POST"])
@admin_required
def new_survey() -> str | Response:
    can_manage = queries.can_manage(current_user)
    if not can_manage:
        if request.method == "POST":
            raise Forbidden("只有镇、县管理员可以安排测评")
        return render_template("survey_new.html", can_manage=False)
    if request.method == "POST":
        try:
            survey = service.create_survey(
                db.session,
                current_scope(),
                current_user,
                template_id=form_int("template_id") or 0,
                village_id=form_int("village_id") or 0,
                target_cadre_id=form_int("target_cadre_id"),
                period=request.form.get("period", ""),
                opens_at=_local_datetime("opens_at"),
                closes_at=_local_datetime("closes_at"),
                sampling=Sampling(request.form.get("sampling", "random")),
                sample_size=form_int("sample_size"),
                sample_flag=SampleFlag(request.form.get("sample_flag", "any")),
                seed=form_int("seed"),
            )
        except DomainError as error:
            _flash_error(error)
        except ValueError:
            _flash_error(InvalidRequest("抽样方式无效"))
        else:
            flash(f"已安排测评，抽取 {survey.invited_count} 户（随机种子 {survey.seed}）", "info")
            return redirect(url_for("admin.survey", survey_id=survey.id))
    today = today_local()
    return render_template(
        "survey_new.html",
        can_manage=True,
        templates=templates.templates_for(db.session, current_user),
        choices=queries.create_choices(db.session, current_scope()),
        sample_flags=SAMPLE_FLAG_LABELS,
        target_kinds=TARGET_KIND_LABELS,
        form=request.form,
        default_period=service.quarter_of(today),
        default_opens=f"{today.isoformat()}T08:00",
        default_size=service.DEFAULT_SAMPLE_SIZE,
    )


# --- one survey: live progress, results, actions ---------------------------------------------------


def _charts(result: SurveyResult) -> list[dict[str, Any]]:
    """A pie for each 满意/基本满意/不满意 question, bars for ratings and other choices; none for free text."""
    charts = []
    for question in result.questions:
        if question["kind"] == QuestionKind.text:
            continue
        labels = [
            label if question["kind"] != QuestionKind.rating else f"{label}分" for label, _n in question["counts"]
        ]
        values = [n for _label, n in question["counts"]]
        scale = question["kind"] == QuestionKind.single_choice and tuple(labels) == SATISFACTION_SCALE
        option = (
            pie_option(labels, values)
            if scale
            else bar_option(labels, values, horizontal=question["kind"] == QuestionKind.multiple_choice)
        )
        charts.append({"question": question, "option": option})
    return charts


@bp.get("/surveys/<int:survey_id>")
@admin_required
def survey(survey_id: int) -> str | Response:
    detail = queries.survey_detail(db.session, current_scope(), survey_id)
    if wants_xlsx():
        return _results_xlsx(detail)
    rate = detail.satisfaction.rate if detail.satisfaction else None
    return render_template(
        "survey.html",
        d=detail,
        charts=_charts(detail.result) if detail.result else [],
        gauge=None if rate is None else gauge_option(rate * 100, title="满意度", threshold_pct=detail.threshold_pct),
        kind_labels=QUESTION_KIND_LABELS,
        can_manage=queries.can_manage(current_user),
        min_provisional=results.MIN_PROVISIONAL_RESPONSES,
    )


def _results_xlsx(detail: queries.SurveyDetail) -> Response:
    result, counts = detail.result, detail.progress
    rows: list[list[object]] = [
        ["", "测评", "", detail.survey.title, None, None],
        ["", "测评对象", "", detail.target, None, None],
        ["", "邀请户数", "", "", counts.invited, None],
        ["", "小程序答卷", "", "", counts.phone, round(counts.response_rate, 4)],
        ["", "纸质答卷", "", "", counts.paper, None],
    ]
    if result is not None:
        satisfaction = results.satisfaction_of(result)
        rows.append(
            [
                "",
                "满意度（满意+基本满意或4分以上 / 计分答案）",
                "",
                "",
                satisfaction.satisfied,
                None if satisfaction.rate is None else round(satisfaction.rate, 4),
            ]
        )
        for q in result.questions:
            number = q["position"] + 1
            for label, n in q["counts"]:
                rows.append(
                    [
                        number,
                        q["prompt"],
                        QUESTION_KIND_LABELS[QuestionKind(q["kind"])],
                        label,
                        n,
                        round(n / q["answered"], 4) if q["answered"] else None,
                    ]
                )
            rows += [
                [number, q["prompt"], QUESTION_KIND_LABELS[QuestionKind.text], text, None, None] for text in q["texts"]
            ]
    return xlsx_response(
        f"测评结果-{detail.survey.id}", "测评结果", ["题号", "题目", "题型", "选项/回答", "票数", "占比"], rows
    )


@bp.get("/surveys/<int:survey_id>/progress")
@admin_required
def survey_progress(survey_id: int) -> Response:
    return jsonify(queries.live_progress(db.session, current_scope(), survey_id))


@bp.post("/surveys/<int:survey_id>/compile")
@admin_required
def compile_survey(survey_id: int) -> Response:
    results.request_compile(db.session, current_scope(), survey_id)
    flash("已提交统计任务，稍后刷新查看结果", "info")
    return redirect(url_for("admin.survey", survey_id=survey_id))


@bp.post("/surveys/<int:survey_id>/close")
@admin_required
def close_survey(survey_id: int) -> Response:
    try:
        results.close_early(db.session, current_scope(), current_user, survey_id)
    except DomainError as error:
        _flash_error(error)
    else:
        flash("测评已结束，正在统计并冻结结果", "info")
    return redirect(url_for("admin.survey", survey_id=survey_id))


@bp.post("/surveys/<int:survey_id>/paper")
@admin_required
def paper_responses(survey_id: int) -> Response:
    try:
        stored = service.enter_paper_text(
            db.session, current_scope(), current_user, survey_id, request.form.get("sheets", "")
        )
    except DomainError as error:
        _flash_error(error)
    else:
        flash(f"已录入 {stored} 份纸质问卷", "info")
    return redirect(url_for("admin.survey", survey_id=survey_id))


# --- templates ---------------------------------------------------------------------------------------


@bp.route("/survey-templates", methods=["GET", "POST"])
@admin_required
def survey_templates() -> str | Response:
    if request.method == "POST":
        try:
            county_id = templates.county_of_scope(db.session, current_user)
            preset = request.form.get("preset")
            if preset in templates.PRESETS:
                templates.install_preset(db.session, county_id, preset, actor_id=current_user.id)
            else:
                templates.create_template(
                    db.session,
                    county_id,
                    title=request.form.get("title", ""),
                    target_kind=TargetKind(request.form.get("target_kind", TargetKind.cadre)),
                    questions=_question_rows(),
                    actor_id=current_user.id,
                )
        except DomainError as error:
            _flash_error(error)
        except ValueError:
            _flash_error(InvalidRequest("测评对象无效"))
        else:
            flash("问卷模板已保存", "info")
            return redirect(url_for("admin.survey_templates"))
    can_manage = queries.can_manage(current_user)
    return render_template(
        "survey_templates.html",
        templates=templates.templates_for(db.session, current_user) if can_manage else [],
        presets=templates.PRESETS,
        kind_labels=QUESTION_KIND_LABELS,
        target_kinds=TARGET_KIND_LABELS,
        rows=range(TEMPLATE_FORM_ROWS),
        can_manage=can_manage,
        form=request.form,
    )


def _question_rows() -> list[templates.QuestionSpec]:
    """The form's fixed rows of (题型, 题目, 选项 separated by 、, 必答, 计入满意度); blank rows are skipped."""
    specs: list[templates.QuestionSpec] = []
    for i in range(TEMPLATE_FORM_ROWS):
        prompt = (request.form.get(f"q{i}_prompt") or "").strip()
        if not prompt:
            continue
        specs.append(
            {
                "kind": request.form.get(f"q{i}_kind", ""),
                "prompt": prompt,
                "options": [o for o in (request.form.get(f"q{i}_options") or "").split("、") if o.strip()],
                "required": bool(request.form.get(f"q{i}_required")),
                "scored": bool(request.form.get(f"q{i}_scored")),
            }
        )
    return specs


# --- alerts --------------------------------------------------------------------------------------------


@bp.get("/survey-alerts")
@admin_required
def survey_alerts() -> str | Response:
    raw = choice_arg("status", ALERT_STATUS_LABELS)
    status = AlertStatus(raw) if raw else None
    rows = queries.alert_rows(db.session, current_scope(), status)
    if wants_xlsx():
        return xlsx_response(
            "满意度预警",
            "满意度预警",
            ["测评", "行政村", "测评对象", "期间", "满意度", "预警线", "状态", "约谈/整改情况", "预警时间"],
            (
                [
                    r.survey_title,
                    r.village_name,
                    r.target,
                    r.period,
                    round(r.satisfaction.rate or 0, 4),
                    r.threshold_pct / 100,
                    r.status_label,
                    r.note,
                    r.created_at,
                ]
                for r in rows
            ),
        )
    return render_template(
        "survey_alerts.html",
        rows=rows,
        status=raw,
        status_choices=ALERT_STATUS_LABELS,
        can_manage=queries.can_manage(current_user),
        is_county=current_user.county_id is not None,
        threshold_pct=results.threshold_for(db.session, templates.county_of_user(db.session, current_user)),
        selected=int_arg("alert"),
    )


@bp.post("/survey-alerts/<int:alert_id>")
@admin_required
def update_survey_alert(alert_id: int) -> Response:
    try:
        results.update_alert(
            db.session,
            current_scope(),
            current_user,
            alert_id,
            AlertStatus(request.form.get("status", "")),
            request.form.get("note", ""),
        )
    except DomainError as error:
        _flash_error(error)
    except ValueError:
        _flash_error(InvalidRequest("状态无效"))
    else:
        flash("预警处理情况已保存", "info")
    return redirect(url_for("admin.survey_alerts"))


@bp.post("/survey-alerts/threshold")
@admin_required
def survey_threshold() -> Response:
    try:
        results.set_threshold(db.session, current_user, form_int("threshold_pct") or 0)
    except DomainError as error:
        _flash_error(error)
    else:
        flash("满意度预警线已保存，对此后结束的测评生效", "info")
    return redirect(url_for("admin.survey_alerts"))
