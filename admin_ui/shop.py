"""积分超市 pages: the redemption queue (approve, reject, hand over by pickup code), products and
their stock (restock with a donor note, write-off, ledger), windows and pickup days; Excel exports."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from admin_ui.access import (
    act,
    admin_required,
    bp,
    current_scope,
    form_int,
    form_return_path,
    form_text,
    int_arg,
    nav_item,
    page_arg,
)
from admin_ui.export import EXPORT_MAX_ROWS, wants_xlsx, xlsx_response
from backend.db import db
from backend.errors import InvalidRequest, PickupCodeInvalid
from backend.extensions import limiter
from backend.org.queries import village_choices
from backend.points.models import CapPeriod
from backend.shop import queries, redemptions, settings, stock
from backend.shop.models import RedemptionStatus, WindowCadence
from backend.timeutil import today_local

nav_item("admin.shop_redemptions", "兑换审核", "shop", 60)
nav_item("admin.shop_products", "积分超市", "shop", 61, also_active=("admin.shop_product",))

PICKUP_CODE_RATE_LIMIT = "5 per 10 minutes"


# --- 兑换审核 ---


@bp.get("/shop/redemptions")
@admin_required
def shop_redemptions() -> str | Response:
    scope = current_scope()
    status_arg = request.args.get("status", "pending")
    status = RedemptionStatus(status_arg) if status_arg in RedemptionStatus.__members__ else None
    filters = {"village_id": int_arg("village"), "status": status}
    if wants_xlsx():
        rows = queries.redemption_page(db.session, scope, **filters, per_page=EXPORT_MAX_ROWS).items
        return xlsx_response(
            "积分兑换",
            "积分兑换",
            ["编号", "行政村", "户号", "商品", "数量", "冻结积分", "状态", "申请时间", "领取期限", "驳回理由"],
            (
                [
                    r.id,
                    r.village_name,
                    r.household_number,
                    r.product_name,
                    r.quantity,
                    r.points_held,
                    r.status_label,
                    r.created_at,
                    r.expires_at,
                    r.reject_reason,
                ]
                for r in rows
            ),
        )
    return render_template(
        "shop_redemptions.html",
        page=queries.redemption_page(db.session, scope, **filters, page=page_arg()),
        filters=filters,
        status_arg=status_arg if status else "all",
        status_choices=list(queries.STATUS_LABELS.items()),
        village_choices=village_choices(db.session, scope),
    )


def _back_to_queue() -> str:
    """The queue page the form came from (same filters and page), never anywhere else."""
    return form_return_path("next", "/admin/shop/redemptions") or url_for("admin.shop_redemptions")


@bp.post("/shop/redemptions/<int:redemption_id>/approve")
@admin_required
def shop_redemption_approve(redemption_id: int) -> Response:
    return act(
        lambda: redemptions.approve_redemption(db.session, current_scope(), current_user, redemption_id),
        "已通过，取货码已发送给农户",
        _back_to_queue(),
    )


@bp.post("/shop/redemptions/<int:redemption_id>/reject")
@admin_required
def shop_redemption_reject(redemption_id: int) -> Response:
    def reject() -> None:
        reason = form_text("reason", 300)
        if len(reason) < 2:
            raise InvalidRequest("请填写驳回理由")
        redemptions.reject_redemption(db.session, current_scope(), current_user, redemption_id, reason)

    return act(reject, "已驳回，积分和库存已退回", _back_to_queue())


def _wrong_code_answered(_response: Response) -> bool:
    return bool(g.get("pickup_code_wrong"))


@bp.post("/shop/hand-over")
@admin_required
@limiter.limit(
    lambda: current_app.config.get("PICKUP_CODE_RATE_LIMIT", PICKUP_CODE_RATE_LIMIT),
    deduct_when=_wrong_code_answered,
)
def shop_hand_over() -> Response:
    """The keeper types the villager's pickup code (and the village, if they keep several shops)."""

    def hand_over() -> None:
        scope = current_scope()
        code = form_text("pickup_code", 10)
        village_id = form_int("village_id") or (next(iter(scope.village_ids)) if len(scope.village_ids) == 1 else None)
        if village_id is None:
            raise InvalidRequest("请选择行政村")
        try:
            found = redemptions.find_by_pickup_code(db.session, scope, village_id, code)
            redemptions.hand_over(db.session, scope, current_user, found, code)
        except PickupCodeInvalid:
            g.pickup_code_wrong = True
            raise

    return act(hand_over, "已核销取货码，商品已领取", _back_to_queue())


# --- 商品与库存 ---


@bp.get("/shop/products")
@admin_required
def shop_products() -> str | Response:
    scope = current_scope()
    village_id = int_arg("village")
    if wants_xlsx():
        rows = queries.product_page(db.session, scope, village_id=village_id, per_page=EXPORT_MAX_ROWS).items
        return xlsx_response(
            "积分超市商品",
            "商品",
            ["编号", "行政村", "商品", "单位", "兑换积分", "可兑库存", "已预留", "每户限兑", "状态"],
            (
                [
                    p.id,
                    p.village_name,
                    p.name,
                    p.unit,
                    p.points,
                    p.stock,
                    p.held,
                    p.limit_label,
                    "在售" if p.is_active else "下架",
                ]
                for p in rows
            ),
        )
    choices = village_choices(db.session, scope)
    selected = village_id or (choices[0][0] if len(choices) == 1 else None)
    return render_template(
        "shop_products.html",
        page=queries.product_page(db.session, scope, village_id=village_id, page=page_arg()),
        village_id=village_id,
        village_choices=choices,
        shop_settings=queries.village_settings(db.session, scope, selected, today_local()) if selected else None,
        period_choices=list(settings.PERIOD_LABELS.items()),
        cadence_choices=list(settings.CADENCE_LABELS.items()),
    )


def _product_fields() -> dict[str, Any]:
    name = form_text("name", 60)
    if not name:
        raise InvalidRequest("请填写商品名称")
    period = request.form.get("limit_period") or CapPeriod.month.value
    if period not in CapPeriod.__members__:
        raise InvalidRequest("限兑周期无效")
    return {
        "name": name,
        "points": form_int("points", required=True),
        "unit": form_text("unit", 10) or "件",
        "description": form_text("description"),
        "per_household_limit": form_int("per_household_limit"),
        "limit_period": CapPeriod(period),
    }


@bp.post("/shop/products")
@admin_required
def shop_product_create() -> Response:
    created: list[int] = []

    def create() -> None:
        product = stock.create_product(
            db.session, current_scope(), village_id=form_int("village_id", required=True), **_product_fields()
        )
        created.append(product.id)

    response = act(create, "商品已添加，请入库", url_for("admin.shop_products"))
    return redirect(url_for("admin.shop_product", product_id=created[0])) if created else response


@bp.get("/shop/products/<int:product_id>")
@admin_required
def shop_product(product_id: int) -> str | Response:
    scope = current_scope()
    if wants_xlsx():
        view = queries.product_view(db.session, scope, product_id, per_page=EXPORT_MAX_ROWS)
        return xlsx_response(
            f"库存台账-{view.product.name}",
            "库存台账",
            ["时间", "类型", "可兑库存变动", "预留变动", "变动后库存", "兑换编号", "备注"],
            (
                [r.at, r.kind_label, r.quantity, r.held_delta, r.stock_after, r.redemption_id, r.note]
                for r in view.ledger.items
            ),
        )
    return render_template(
        "shop_product.html",
        view=queries.product_view(db.session, scope, product_id, page=page_arg()),
        period_choices=list(settings.PERIOD_LABELS.items()),
    )


@bp.post("/shop/products/<int:product_id>")
@admin_required
def shop_product_update(product_id: int) -> Response:
    return act(
        lambda: stock.update_product(
            db.session,
            current_scope(),
            product_id,
            **_product_fields(),
            is_active=request.form.get("is_active") == "on",
        ),
        "商品信息已保存",
        url_for("admin.shop_product", product_id=product_id),
    )


@bp.post("/shop/products/<int:product_id>/stock")
@admin_required
def shop_product_stock(product_id: int) -> Response:
    """入库 (restock, the note names the donor) or 报损 (write-off, the note says why)."""
    restock = request.form.get("action") == "restock"

    def move() -> None:
        action = stock.restock if _form_choice("action", ("restock", "write_off")) == "restock" else stock.write_off
        action(
            db.session,
            current_scope(),
            current_user.id,
            product_id,
            form_int("quantity", required=True),
            form_text("note"),
        )

    return act(move, "已入库" if restock else "已报损", url_for("admin.shop_product", product_id=product_id))


@bp.post("/shop/products/<int:product_id>/photos")
@admin_required
def shop_product_photo(product_id: int) -> Response:
    """Add a shelf photo; the first one is what villagers see in the mini program."""

    def upload() -> None:
        file = request.files.get("photo")
        if file is None or not file.filename:
            raise InvalidRequest("请选择照片")
        stock.add_product_photo(db.session, current_scope(), current_user, product_id, file.read())

    return act(upload, "照片已上传，处理完成后显示", url_for("admin.shop_product", product_id=product_id))


def _form_choice(name: str, choices: tuple[str, ...]) -> str:
    value = request.form.get(name, "")
    if value not in choices:
        raise InvalidRequest(f"“{name}”无效")
    return value


# --- 兑换时间与领取期限 ---


def _settings_page(village_id: int) -> str:
    return url_for("admin.shop_products", village=village_id)


@bp.post("/shop/villages/<int:village_id>/windows")
@admin_required
def shop_window_add(village_id: int) -> Response:
    def add() -> None:
        cadence = _form_choice("cadence", tuple(WindowCadence.__members__))
        settings.add_window(
            db.session,
            current_scope(),
            village_id,
            WindowCadence(cadence),
            form_int("first_day", required=True),
            form_int("last_day", required=True),
        )

    return act(add, "兑换时间已添加", _settings_page(village_id))


@bp.post("/shop/villages/<int:village_id>/windows/<int:window_id>/delete")
@admin_required
def shop_window_delete(village_id: int, window_id: int) -> Response:
    return act(
        lambda: settings.remove_window(db.session, current_scope(), window_id),
        "兑换时间已删除",
        _settings_page(village_id),
    )


@bp.post("/shop/villages/<int:village_id>/pickup-days")
@admin_required
def shop_pickup_days(village_id: int) -> Response:
    return act(
        lambda: settings.set_pickup_days(
            db.session, current_scope(), village_id, form_int("pickup_days", required=True)
        ),
        "领取期限已保存",
        _settings_page(village_id),
    )
