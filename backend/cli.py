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

    @app.cli.command("check-ledger")
    def check_ledger() -> None:
        """Prove every household's cached points balance equals the sum of its ledger entries."""
        from backend.points.ledger import balance_mismatches

        mismatches = balance_mismatches(db.session)
        for m in mismatches:
            click.echo(
                f"household {m.household_id}: balance {m.cached_balance} ≠ ledger {m.ledger_balance}, "
                f"held {m.cached_held} ≠ ledger {m.ledger_held}"
            )
        if mismatches:
            raise SystemExit(1)
        click.echo("every balance equals the sum of its ledger entries")

    from backend.org.demo import register_demo_cli

    register_demo_cli(app)

    from backend.records.photo_cli import register_photo_cli

    register_photo_cli(app)
