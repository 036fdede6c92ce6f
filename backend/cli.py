"""Flask commands: worker, outbox sweep, demo county."""

from __future__ import annotations

import logging
import time

import click
from flask import Flask, current_app

from backend.db import db

log = logging.getLogger(__name__)


def register_cli(app: Flask) -> None:
    @app.cli.command("worker")
    @click.option("--burst", is_flag=True, help="Drain the queues and exit (tests, one-off runs).")
    @click.option("--queue", "queues", multiple=True, default=["default"], show_default=True)
    def worker(burst: bool, queues: tuple[str, ...]) -> None:
        """Run an RQ worker for background jobs (photos, compiles, notifications)."""
        from backend.jobs.worker import run_worker

        run_worker(current_app._get_current_object(), list(queues), burst=burst)  # type: ignore[attr-defined]

    @app.cli.command("sweep-outbox")
    @click.option("--loop", is_flag=True, help="Keep sweeping every 30 seconds.")
    def sweep_outbox_command(loop: bool) -> None:
        """Push jobs that missed their after-commit dispatch (e.g. Redis was down)."""
        from backend.jobs.outbox import sweep_outbox

        while True:
            pushed = sweep_outbox(db.session)
            if pushed:
                click.echo(f"pushed {pushed} job(s) from the outbox")
            if not loop:
                return
            time.sleep(30)

    from backend.org.demo import register_demo_cli

    register_demo_cli(app)
