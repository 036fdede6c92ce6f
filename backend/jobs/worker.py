"""The worker process: a non-forking RQ worker (about 10× more jobs/s than forking here) that first
sweeps the outbox, so jobs committed while Redis was down run once it is back, and that outlives a Redis
restart (RQ's own loop quits on the first Redis error it meets outside a job)."""

from __future__ import annotations

import gc
import logging
import signal
import time

import redis
from flask import Flask
from rq import SimpleWorker

from backend.db import db
from backend.jobs.outbox import sweep_outbox
from backend.jobs.queue import queue
from backend.jobs.runner import set_worker_app
from backend.jobs.tasks import load_all_tasks

log = logging.getLogger(__name__)


def run_worker(app: Flask, queue_names: list[str], *, burst: bool = False) -> bool:
    runtime = app.extensions["xz_jobs"]
    if runtime.inline:
        raise SystemExit("REDIS_URL is not set or Redis is unreachable: nothing to work on (jobs run in-process)")
    load_all_tasks()
    set_worker_app(app)
    # Jobs that a task enqueues (a compile's follow-up steps) go to the queue this worker serves.
    runtime.queue = queue(runtime.redis, queue_names[0])
    with app.app_context():
        sweep_outbox(db.session)
        db.session.remove()
    # Workers block on Redis for minutes at a time; the request-path socket timeout would break that.
    connection = runtime.redis.__class__.from_url(app.config["REDIS_URL"], socket_connect_timeout=2)
    # Start-up's objects (the app, SQLAlchemy's mappers: ~220k) live as long as the process. Frozen, they are out
    # of the cycle collector's sight: a full collection during a county's compile took 146 ms, now a few.
    gc.freeze()
    while True:
        worker = SimpleWorker([queue(connection, name) for name in queue_names], connection=connection)
        try:
            worked = worker.work(burst=burst, with_scheduler=True)
        except redis.RedisError:  # its teardown (registering its death) met the same dead Redis
            worked = False
        # Not in burst mode and not asked to stop (SIGTERM/SIGINT), RQ's loop ends only on an error: Redis's.
        if burst or worker._shutdown_requested_date is not None:
            return worked
        log.warning("worker %s stopped on a Redis error: a new one starts once Redis answers", worker.name)
        # Nothing runs while waiting: a SIGTERM may end the process at once (RQ's handlers would ask Redis first).
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        while not _redis_answers(connection):
            time.sleep(1)


def _redis_answers(connection: redis.Redis) -> bool:
    try:
        return bool(connection.ping())
    except redis.RedisError:
        return False
