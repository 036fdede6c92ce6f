"""JSON API for the WeChat mini program at /api/mp/v1: one module per domain, schemas beside views."""

from __future__ import annotations

from functools import cached_property
from typing import IO

from flask import Flask, Request, Response, jsonify, request
from flask_smorest import Api
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException

from backend.errors import (
    DomainError,
    Forbidden,
    InternalError,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    Unauthenticated,
)
from backend.extensions import csrf
from backend.photos.service import receive_upload
from backend.photos.storage import Incoming

BASE = "/api/mp/v1"

# HTTP errors raised below our code (routing, body size, webargs) mapped onto the contract's codes.
_HTTP_ERRORS: dict[int, type[DomainError]] = {
    400: InvalidRequest,
    401: Unauthenticated,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    413: PayloadTooLarge,
    415: InvalidRequest,
    422: InvalidRequest,
    429: RateLimited,
}


def _as_domain_error(error: DomainError | HTTPException) -> DomainError:
    if isinstance(error, DomainError):
        return error
    domain = _HTTP_ERRORS.get(error.code or 500, InternalError)()
    if error.code == 400:
        # A body that is not JSON (webargs adds "Invalid JSON body." in English: not for the phone).
        domain.message = "请求体不是有效的 JSON"
        return domain
    data = getattr(error, "data", None) or {}
    messages = data.get("messages") or data.get("errors")
    if messages:
        # webargs nests field errors under the location ("json", "query", "files"); the phone wants fields.
        domain.errors = messages[next(iter(messages))] if len(messages) == 1 else messages
    return domain


def render_api_error(error: DomainError | HTTPException) -> Response:
    domain = _as_domain_error(error)
    response = jsonify(domain.to_dict())
    response.status_code = domain.status
    if isinstance(error, HTTPException) and error.code == 429:
        retry_after = error.get_headers()
        response.headers.extend([(k, v) for k, v in retry_after if k.lower() == "retry-after"])
    return response


class ApiRequest(Request):
    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        """A photo upload is hashed and written into the photo store as it arrives (receive_upload):
        no in-memory copy, no temp file read back, nothing left to hash once the last byte is in."""
        if self.path.startswith(f"{BASE}/uploads"):
            incoming = receive_upload()
            self._incoming.append(incoming)
            return incoming  # type: ignore[return-value]
        return super()._get_file_stream(total_content_length, content_type, filename, content_length)

    @cached_property
    def _incoming(self) -> list[Incoming]:
        return []

    def close(self) -> None:
        """Also the staging files of uploads that were not kept (refused, or the parse failed midway)."""
        super().close()
        for incoming in self.__dict__.get("_incoming", ()):
            incoming.close()


class ErrorSchema(Schema):
    """The envelope render_api_error writes, documented as every operation's error response, so that a
    generated client types errors right (flask-smorest's default has an integer code and a status)."""

    code = fields.String(required=True, metadata={"description": "稳定的错误码，如 invalid_request、not_found"})
    message = fields.String(required=True, metadata={"description": "给用户看的中文说明"})
    errors = fields.Dict(metadata={"description": "仅参数校验错误：字段 → 说明列表"})


class XiangzhiApi(Api):
    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException) -> Response:  # type: ignore[override]
        return render_api_error(error)

    def _register_error_handlers(self) -> None:
        """The app factory installs one handler for API and admin errors alike."""


def init_api(app: Flask) -> None:
    from miniprogram_api import auth, households, inbox, points, ratings, records, review, shop, surveys, uploads

    app.request_class = ApiRequest

    api = XiangzhiApi(
        app,
        spec_kwargs={
            "info": {"description": "乡治小程序接口。错误统一返回 {code, message, errors?}。"},
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearer": []}],
        },
    )
    modules = (auth, households, inbox, points, ratings, review, records, shop, surveys, uploads)
    for blueprint in [module.blp for module in modules] + [shop.review_blp]:
        api.register_blueprint(blueprint)
        csrf.exempt(blueprint)

    from flask import Blueprint

    static = Blueprint("mp_static", __name__, static_folder="static", static_url_path=f"{BASE}/static")
    app.register_blueprint(static)

    @app.before_request
    def _cap_json_bodies() -> None:
        """Phones send small JSON; only uploads may be large. Checked before the body is read."""
        if request.path.startswith(f"{BASE}/uploads"):
            # One photo plus the multipart envelope; refused before the body is read.
            request.max_content_length = app.config["PHOTO_MAX_BYTES"] + 64 * 1024
        elif request.path.startswith(BASE):
            request.max_content_length = app.config["API_JSON_MAX_BYTES"]
