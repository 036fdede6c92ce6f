"""The one transaction boundary, for requests and for jobs and commands: commit on success, roll back on
error, and only after the commit hand the jobs the transaction queued to RQ (backend.jobs.outbox).
Services only flush."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from flask import Flask, Response, g, request
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from backend.db import begin_write_intent, database_unavailable, db, end_write_intent, write_intent
from backend.errors import Conflict, DomainError, ServiceUnavailable
from backend.jobs.outbox import discard_pending, dispatch_after_commit, dispatch_after_response

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@contextmanager
def unit_of_work(session: Session | None = None, *, write: bool = True) -> Iterator[Session]:
    """A job's or a command's transaction; a request gets the same rule from install_request_boundary."""
    session = session or db.session
    with write_intent(write):
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
    dispatch_after_commit(session)


def unavailable(render_error: Callable[[DomainError], Response]) -> Response:
    """503 (the API's envelope or the admin's page) with Retry-After, for a database that is not there right now:
    the phone retries its write with the same Idempotency-Key, which is safe whether or not it committed."""
    response = render_error(ServiceUnavailable())
    response.headers["Retry-After"] = "5"
    return response


def install_request_boundary(app: Flask, render_error: Callable[[DomainError], Response]) -> None:
    """One transaction per request: commit if the response succeeded, roll back otherwise; the jobs it
    queued go to RQ after the answer has been sent (see outbox.dispatch_after_response)."""

    @app.before_request
    def _begin() -> None:
        g.write_intent_token = begin_write_intent(request.method not in SAFE_METHODS)

    @app.after_request
    def _finish(response: Response) -> Response:
        session = db.session
        if response.status_code >= 400:
            session.rollback()
            discard_pending(session)
            return response
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            discard_pending(session)
            return render_error(Conflict("数据已被其他操作修改，请刷新后重试"))
        except OperationalError as exc:
            if not database_unavailable(exc):
                raise
            with contextlib.suppress(SQLAlchemyError):
                session.rollback()
            discard_pending(session)
            return unavailable(render_error)
        dispatch_after_response(session, response.call_on_close)
        return response

    @app.teardown_request
    def _teardown(exc: BaseException | None) -> None:
        if exc is not None:
            db.session.rollback()
            discard_pending(db.session)
        token = g.pop("write_intent_token", None)
        if token is not None:
            end_write_intent(token)
