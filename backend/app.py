"""Application factory, the composition root: binds extensions, the three front ends (API, admin pages,
phone app), the photo media route, the request boundary and the CLI. No I/O at import time; create_app only
probes Redis to pick a job mode.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any

from flask import Flask, Response, request
from flask_migrate import Migrate
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from backend.config import load_config
from backend.crypto import keyring
from backend.db import database_unavailable, db, install_sqlite_pragmas
from backend.errors import DomainError, InternalError
from backend.extensions import csrf, limiter, login_manager
from backend.jobs.queue import RedisBreaker, connect_redis, queue, redis_reachable
from backend.request_input import check_request_input, install_int32_ids
from backend.transaction import install_request_boundary, unavailable

MIGRATIONS_DIR = str(Path(__file__).resolve().parent / "migrations")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
API_PREFIX = "/api/"

migrate = Migrate()
log = logging.getLogger("xiangzhi")


class JobRuntime:
    """How this process runs background work: RQ on Redis, or in-process on a laptop without Redis."""

    def __init__(self, app: Flask) -> None:
        url = app.config["REDIS_URL"]
        timeout = app.config["REDIS_SOCKET_TIMEOUT"]
        # Production always queues: the outbox keeps jobs until Redis is back.
        probe = app.config["ENV_NAME"] != "production" and not app.config.get("TESTING")
        self.inline = not url or (probe and not redis_reachable(url, timeout))
        self.redis = None if self.inline else connect_redis(url, timeout)
        self.queue = None if self.redis is None else queue(self.redis)
        self.breaker = RedisBreaker(app.config["REDIS_COOL_DOWN"])
        if self.inline:
            log.warning("no Redis reachable at %r: background jobs run in-process after each commit", url or "(unset)")


class _NoQueryStrings(logging.Filter):
    """Access logs keep paths only: a search box must never put a phone or ID number in a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and isinstance(record.args, tuple):
            record.args = tuple(a.split("?", 1)[0] if isinstance(a, str) and "?" in a else a for a in record.args)
        return True


def create_app(config: dict[str, Any] | None = None) -> Flask:
    settings = load_config(config)
    app = Flask(__name__, instance_path=settings["INSTANCE_PATH"], static_folder=None)
    app.config.update(settings)
    # Chinese text as UTF-8, not \uXXXX escapes: a third of the bytes on a weak mountain signal.
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").addFilter(_NoQueryStrings())

    if app.config["PROXY_HOPS"]:
        # Rate limits and logs need the phone's address, not nginx's.
        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    install_int32_ids(app)
    keyring.install(app.config["DATA_KEY"])
    db.init_app(app)
    with app.app_context():
        install_sqlite_pragmas(db.engine)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    app.extensions["xz_jobs"] = JobRuntime(app)

    import backend.models  # noqa: F401  (every table registered before anything queries)
    from admin_ui import init_admin, render_admin_error
    from backend.photos import media
    from miniprogram_api import init_api, render_api_error
    from phone_app import bp as phone_app

    init_api(app)
    init_admin(app)
    app.register_blueprint(phone_app)
    # After the front ends' own hooks: the API caps a body's size before anything reads it.
    app.before_request(check_request_input)
    # Photos are served to every front end alike, so none owns the route.
    app.register_blueprint(media.bp)

    def render_error(error: DomainError | HTTPException) -> Response:
        if request.path.startswith(API_PREFIX):
            return render_api_error(error)
        return render_admin_error(error)

    _install_error_handlers(app, render_error)
    install_request_boundary(app, render_error)

    from backend.cli import register_cli

    register_cli(app)
    return app


def _install_error_handlers(app: Flask, render_error) -> None:  # type: ignore[no-untyped-def]
    app.register_error_handler(DomainError, render_error)
    app.register_error_handler(HTTPException, render_error)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        if database_unavailable(exc):
            # PostgreSQL restarting: one line, not a traceback per request, and an answer a phone retries on.
            log.warning("database unavailable on %s %s: %s", request.method, request.path, type(exc.orig).__name__)
            with contextlib.suppress(SQLAlchemyError):
                db.session.rollback()
            return unavailable(render_error)
        log.exception("unhandled error on %s %s", request.method, request.path)
        # A failed flush leaves the session unusable until rolled back, and the error page reads the signed-in user.
        db.session.rollback()
        return render_error(InternalError())
