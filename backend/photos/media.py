"""The media route: display copies and thumbnails behind the signed, expiring URLs of service.photo_urls.

Both front ends show these URLs (API serializers, admin thumbnails), so the app factory registers the
route itself, on service.MEDIA_PATH.
"""

from __future__ import annotations

from flask import Blueprint, Response, send_file

from backend.db import db
from backend.errors import NotFound
from backend.photos import service
from backend.photos.storage import photo_storage

bp = Blueprint("media", __name__)


@bp.get(f"{service.MEDIA_PATH}/<token>")
def photo(token: str) -> Response:
    """A display copy or thumbnail behind a signed, expiring URL minted by service.photo_urls."""
    _photo, key, seconds_left = service.served_copy(db.session, token)
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
