"""Photo uploads (`POST /uploads`, as wx.uploadFile sends them) and the signed photo URLs (`/media/photos/...`).

Uploads are not idempotent by key: wx.uploadFile makes a new multipart boundary on each try, and a
duplicate unclaimed upload costs nothing (it is purged after 24 h).
"""

from __future__ import annotations

from flask import Blueprint as FlaskBlueprint
from flask import Response, send_file
from flask_smorest import Blueprint
from marshmallow import fields, validate

from backend.db import db
from backend.errors import NotFound
from backend.records import photos
from backend.records.storage import photo_storage
from miniprogram_api import BASE
from miniprogram_api.policy import ALL_ROLES, allow, current_scope, current_user
from miniprogram_api.schemas import ApiSchema

blp = Blueprint("mp_uploads", __name__, url_prefix=BASE, description="照片上传")
media = FlaskBlueprint("media", __name__, url_prefix="/media")


class UploadFormArgs(ApiSchema):
    """Optional words for the visible 温馨照片 label (wx.uploadFile formData)."""

    event = fields.String(load_default=None, validate=validate.Length(max=30))
    place = fields.String(load_default=None, validate=validate.Length(max=40))


class UploadFileArgs(ApiSchema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class UploadSchema(ApiSchema):
    id = fields.String()
    sha256 = fields.String()
    width = fields.Integer()
    height = fields.Integer()
    taken_at = fields.DateTime(allow_none=True)
    status = fields.String()


@blp.route("/uploads", methods=["POST"])
# Every role: cadres (records, visits), villagers (claim evidence), reviewers and admins (products).
@allow(*ALL_ROLES)
@blp.arguments(UploadFormArgs, location="form")
@blp.arguments(UploadFileArgs, location="files")
@blp.response(201, UploadSchema)
def upload(form: dict, files: dict):  # type: ignore[no-untyped-def]
    """One image (JPEG, PNG or WebP, ≤ 15 MB, ≤ 50 MP). Returns at once; copies are made in the background."""
    return photos.accept_upload(
        db.session,
        user=current_user(),
        scope=current_scope(),
        data=files["file"].read(),
        label_event=form["event"],
        label_place=form["place"],
    )


@media.get("/photos/<token>")
def photo(token: str) -> Response:
    """A display copy or thumbnail behind a signed, expiring URL minted by photos.photo_urls."""
    _photo, key, seconds_left = photos.served_copy(db.session, token)
    path = photo_storage().local_path(key)
    if path is None:
        raise NotFound("照片不存在")
    response = send_file(path, mimetype="image/jpeg", conditional=True, etag=True, max_age=seconds_left)
    # Private: only whoever got the signed URL; the URL itself changes when it expires.
    # send_file names the file after our storage key; no name is needed at all.
    response.headers.pop("Content-Disposition", None)
    response.cache_control.public = False
    response.cache_control.private = True
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cross-Origin-Resource-Policy"] = "same-site"
    return response
