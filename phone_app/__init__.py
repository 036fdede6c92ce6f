"""The phone app at /m/: the H5 front end (Vue 3 + Vant, sources in mobile/) served from its committed build.

It talks to the server only through /api/mp/v1, so this package serves files and knows nothing of the domain.
Screens are hash routes (/m/#/shop), so every other path under /m/ answers the app's page too. The bundle's
file names carry a content hash: they are cached for a year; index.html, which names them, and the service
worker /m/sw.js (scope /m/: it keeps the app for opening with no network) are never cached, so a release
reaches phones on their next start. Text files go gzipped, from the .gz twin the build writes beside each
(mobile/build/offline.js): nothing is compressed per request.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from flask import Blueprint, Response, request, send_file, send_from_directory
from werkzeug.exceptions import NotFound
from werkzeug.security import safe_join

DIST = Path(__file__).resolve().parent.parent / "mobile" / "dist"
ASSETS = DIST / "assets"
YEAR = 365 * 24 * 3600
# Everything the page loads is ours: no CDN, nothing inline but styles (Vant sets style attributes).
PAGE_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'"
)

bp = Blueprint("phone_app", __name__, url_prefix="/m")


def send(folder: Path, name: str, max_age: int) -> Response:
    """The file, from its gzip twin when there is one and the browser takes gzip."""
    zipped = safe_join(str(folder), f"{name}.gz")
    if zipped is None or not Path(zipped).is_file():
        return send_from_directory(folder, name, max_age=max_age)
    if request.accept_encodings["gzip"]:
        response = send_file(zipped, mimetype=mimetypes.guess_type(name)[0], max_age=max_age)
        response.headers["Content-Encoding"] = "gzip"
    else:
        response = send_from_directory(folder, name, max_age=max_age)
    response.vary.add("Accept-Encoding")
    return response


@bp.get("/")
@bp.get("/<path:_route>")
def page(_route: str = "") -> Response:
    if not (DIST / "index.html").is_file():
        raise NotFound("手机端还没有构建：cd mobile && npm ci && npm run build")
    response = send(DIST, "index.html", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Content-Security-Policy"] = PAGE_POLICY
    return response


@bp.get("/sw.js")
def service_worker() -> Response:
    response = send(DIST, "sw.js", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/assets/<path:name>")
def asset(name: str) -> Response:
    response = send(ASSETS, name, max_age=YEAR)
    response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
    return response
