"""Excel 导入 pages: download a template, upload a file, watch its dry run, read the preview and problems,
confirm. The run is named by a query argument, so the page can be left and opened again from the list."""

from __future__ import annotations

from io import BytesIO

from flask import flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from admin_ui.access import admin_required, bp, form_int, int_arg, nav_item, page_arg
from backend.auth.models import Role
from backend.db import db
from backend.errors import InvalidRequest
from backend.org.imports import queries, service
from backend.org.imports.sheets import TEMPLATES
from backend.org.imports.templates import template_workbook
from backend.timeutil import today_local

nav_item("admin.imports", "Excel导入", "org", 90)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.url_value_preprocessor
def _allow_a_county_s_workbook(endpoint: str | None, _values: dict[str, object] | None) -> None:
    """A county's households file (~20 MB for 100,000 households) is larger than the app's body limit. Set here
    because URL preprocessors run before every before_request hook, and the CSRF check reads the form."""
    if endpoint == "admin.import_upload":
        request.max_content_length = service.MAX_FILE_BYTES + 64 * 1024


@bp.get("/imports")
@admin_required
def imports() -> str | Response:
    run_id = int_arg("run")
    if run_id is None:
        return render_template(
            "imports.html",
            page=queries.run_page(db.session, current_user, page=page_arg()),
            templates=TEMPLATES.values(),
            can_import=current_user.role in (Role.county_admin, Role.town_admin),
        )
    run = queries.load_run(db.session, current_user, run_id)
    if request.args.get("format") == "json":
        return jsonify(queries.run_status(run))
    return render_template("import_run.html", run=run, status=queries.run_status(run), action_labels=service.ACTIONS)


@bp.get("/imports/template")
@admin_required
def import_template() -> Response:
    template = TEMPLATES.get(request.args.get("kind") or "", next(iter(TEMPLATES.values())))
    return send_file(
        BytesIO(template_workbook(template.key)),
        mimetype=XLSX,
        as_attachment=True,
        download_name=f"{template.title}导入模板-{today_local().isoformat()}.xlsx",
    )


@bp.post("/imports")
@admin_required
def import_upload() -> Response:
    upload = request.files.get("file")
    if upload is None:
        raise InvalidRequest("请选择要上传的文件", errors={"file": ["请选择文件"]})
    run = service.start_import(db.session, current_user, upload.filename or "", upload.read())
    return redirect(url_for("admin.imports", run=run.id))


@bp.post("/imports/confirm")
@admin_required
def import_confirm() -> Response:
    run = queries.load_run(db.session, current_user, form_int("run_id", required=True) or 0)
    service.confirm_import(db.session, current_user, run)
    flash("已确认，正在导入", "info")
    return redirect(url_for("admin.imports", run=run.id))


@bp.post("/imports/retry")
@admin_required
def import_retry() -> Response:
    run = queries.load_run(db.session, current_user, form_int("run_id", required=True) or 0)
    again = service.retry_import(db.session, current_user, run)
    return redirect(url_for("admin.imports", run=again.id))
