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

    @app.cli.command("schedule")
    @click.option("--loop", is_flag=True, help="Keep checking every minute (the scheduler process).")
    def schedule_command(loop: bool) -> None:
        """Enqueue the scheduled tasks that fell due (Asia/Shanghai time); see backend/jobs/schedule.py."""
        from backend.jobs.schedule import run_due
        from backend.jobs.tasks import load_all_tasks
        from backend.transaction import unit_of_work

        load_all_tasks()
        while True:
            with unit_of_work(db.session) as session:
                job_ids = run_due(session)
            for job_id in job_ids:
                click.echo(f"enqueued {job_id}")
            if not loop:
                return
            time.sleep(60)

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

    @app.cli.command("compile")
    @click.option("--county", required=True, help="County code (6 digits) or id.")
    @click.option("--month", required=True, help="Business month YYYY-MM (Asia/Shanghai).")
    def compile_command(county: str, month: str) -> None:
        """Compile a county's monthly ratings (or resume its unfinished run); jobs go to the workers."""
        from backend.ratings.compile import compile_month as compile_ratings
        from backend.ratings.compile import resolve_county
        from backend.transaction import unit_of_work

        with unit_of_work(db.session) as session:
            run = compile_ratings(session, resolve_county(session, county), month)
            run_id, towns, attempt = run.id, run.units_total, run.attempt
        click.echo(f"compile run {run_id} (attempt {attempt}): {towns} town job(s) enqueued")

    from backend.org.demo import register_demo_cli

    register_demo_cli(app)

    from backend.shop.cli import register_shop_cli

    register_shop_cli(app)
