"""Photo uploads (`POST /uploads`, as wx.uploadFile sends them) and the photos with their signed URLs
(served by backend/photos/media.py).

Uploads are not idempotent by key: wx.uploadFile makes a new multipart boundary on each try, and a
duplicate unclaimed upload costs nothing (it is purged after 24 h).
"""

from __future__ import annotations

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import fields, pre_dump, validate

from backend.db import db
from backend.extensions import limiter
from backend.photos import service
from backend.photos.models import Photo
from miniprogram_api import BASE
from miniprogram_api.policy import ALL_ROLES, allow, body_arrives_slowly, current_scope, current_user
from miniprogram_api.schemas import ApiSchema, Int

blp = Blueprint("mp_uploads", __name__, url_prefix=BASE, description="照片上传")


class UploadFormArgs(ApiSchema):
    """Optional words for the visible 温馨照片 label (wx.uploadFile formData)."""

    event = fields.String(load_default=None, validate=validate.Length(max=30))
    place = fields.String(load_default=None, validate=validate.Length(max=40))


class UploadFileArgs(ApiSchema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class UploadSchema(ApiSchema):
    id = fields.String()
    sha256 = fields.String()
    width = Int()
    height = Int()
    taken_at = fields.DateTime(allow_none=True)
    status = fields.String()


class PhotoSchema(UploadSchema):
    """A photo with signed, expiring URLs for the caller (null until processed). Other areas nest this
    schema for the photos of their records, visits, problems and claims."""

    thumb_url = fields.String(allow_none=True)
    display_url = fields.String(allow_none=True)

    @pre_dump
    def _with_urls(self, photo: Photo, **kwargs: object) -> dict:
        return {
            "id": photo.id,
            "sha256": photo.sha256,
            "width": photo.width,
            "height": photo.height,
            "taken_at": photo.taken_at,
            "status": photo.status.value,
            **service.photo_urls(photo, current_scope()),
        }


@blp.route("/uploads", methods=["POST"])
# Every role: cadres (records, visits), villagers (claim evidence), reviewers and admins (products).
@allow(*ALL_ROLES)
@body_arrives_slowly
@limiter.limit(lambda: current_app.config["UPLOAD_RATE_LIMIT"])
@blp.arguments(UploadFormArgs, location="form")
@blp.arguments(UploadFileArgs, location="files")
@blp.response(201, UploadSchema)
def upload(form: dict, files: dict):  # type: ignore[no-untyped-def]
    """Upload one photo; its id at once, with `status: processing` while copies are made.

    One image in the multipart field `file` (JPEG, PNG or WebP, ≤ 15 MB, ≤ 50 MP), with optional form
    fields `event` (≤ 30 characters) and `place` (≤ 40) for the 温馨照片 label. Returns at once with
    `status: processing`; copies are made in the background (poll GET /uploads/{id}). Errors:
    payload_too_large (413), unsupported_image (415), rate_limited (429), storage_full (507: the server's disk is
    full, nothing was kept; try again later)."""
    return service.accept_upload(
        db.session,
        user=current_user(),
        scope=current_scope(),
        data=files["file"].stream,
        label_event=form["event"],
        label_place=form["place"],
    )


@blp.route("/uploads/<photo_id>", methods=["GET"])
@allow(*ALL_ROLES)
@blp.response(200, PhotoSchema)
def get_upload(photo_id: str):  # type: ignore[no-untyped-def]
    """A photo the caller may see: poll after uploading until `status` is `ready`, then show `thumb_url`."""
    return service.load_photo(db.session, current_scope(), photo_id)
