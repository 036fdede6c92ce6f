"""RQ worker processes for the tests. `flask worker --burst` costs 2-3 s of imports and create_app before its
first job, and the walkthrough of a new county alone ran eight of them; a BurstWorker pays that once per test
session: one process builds the app as `flask worker` does, then, each time a test asks, works one queue until
it is empty with the same `run_worker(app, [queue], burst=True)` inside an app context (what the command runs).
Until a test asks, its jobs wait in Redis, and they always run in another process than the test's app.

Run as `python -m tests.worker_process`: a request per line on stdin, a reply per line on stdout (JSON)."""

from __future__ import annotations

import io
import json
import logging
import os
import select
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from flask import Flask

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def worker_env(app: Flask, instance: Path) -> dict[str, str]:
    """The environment of a `flask worker` process on the test app's database and Redis."""
    return {
        **os.environ,
        "FLASK_APP": "backend.app:create_app",
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": app.config["REDIS_URL"],
        "XZ_INSTANCE_PATH": str(instance),
        "XZ_RATELIMIT_STORAGE": "memory://",
    }


@dataclass
class Burst:
    """What one burst left: the exit status `flask worker --burst` would have had, and what it logged."""

    returncode: int
    stderr: str


class BurstWorker:
    """One worker process for the session on one database and one Redis (`env`, as worker_env makes it). It
    starts at once: its 2-3 s of start-up overlap the first test's own work until that test asks for a burst."""

    def __init__(self, env: dict[str, str], folder: Path, timeout: float = 120) -> None:
        self.urls = (env["DATABASE_URL"], env["REDIS_URL"])
        self.timeout = timeout
        self.log_path = folder / "worker.log"
        with self.log_path.open("a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.worker_process"],
                cwd=PROJECT_ROOT,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )

    def run(self, app: Flask, queue_name: str) -> Burst:
        """Works `queue_name` until it is empty (the jobs its jobs queue too), as `flask worker --burst --queue
        NAME` with the app's database, Redis and upload folder would."""
        assert (app.config["SQLALCHEMY_DATABASE_URI"], app.config["REDIS_URL"]) == self.urls, "not this worker's"
        assert self.process.stdin is not None and self.process.stdout is not None
        request = {"queue": queue_name, "upload_dir": app.config["UPLOAD_DIR"]}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        if not select.select([self.process.stdout], [], [], self.timeout)[0]:
            self.process.kill()
            raise AssertionError(f"no burst ended within {self.timeout} s: {self.log_tail()}")
        line = self.process.stdout.readline()
        if not line:
            raise AssertionError(f"the worker process died: {self.log_tail()}")
        return Burst(**json.loads(line))

    def log_tail(self) -> str:
        return self.log_path.read_text()[-3000:]

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()  # the process ends after the burst in hand
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def serve() -> None:
    """The worker process: the app once, then a burst per request."""
    from backend.app import create_app
    from backend.jobs.worker import run_worker

    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # what a task prints goes to the log, not into the replies
    app = create_app()
    root = logging.getLogger()
    for line in sys.stdin:
        request = json.loads(line)
        if app.config["UPLOAD_DIR"] != request["upload_dir"]:  # the test app's, as XZ_UPLOAD_DIR would set it
            app.config["UPLOAD_DIR"] = request["upload_dir"]
            app.extensions.pop("xz_photo_storage", None)  # the store made on first use, on the old folder
        captured = io.StringIO()
        handler = logging.StreamHandler(captured)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(handler)
        returncode = 0
        try:
            with app.app_context():
                run_worker(app, [request["queue"]], burst=True)
        except (Exception, SystemExit):
            logging.getLogger(__name__).exception("the burst failed")
            returncode = 1
        finally:
            root.removeHandler(handler)
        replies.write(json.dumps({"returncode": returncode, "stderr": captured.getvalue()}) + "\n")
        replies.flush()


if __name__ == "__main__":
    serve()
