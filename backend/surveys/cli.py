"""`flask close-due-surveys`: the schedule of the closing job, for cron or a loop beside the worker."""

from __future__ import annotations

import time

import click
from flask import Flask

from backend.db import unit_of_work
from backend.jobs.outbox import enqueue


def register_survey_cli(app: Flask) -> None:
    @app.cli.command("close-due-surveys")
    @click.option("--loop", is_flag=True, help="Keep going: enqueue the sweep every --every seconds.")
    @click.option("--every", default=300, show_default=True, help="Seconds between sweeps with --loop.")
    def close_due_surveys(loop: bool, every: int) -> None:
        """Enqueue `surveys.close_due`: the worker freezes every survey past its closing time (idempotent).

        Cron example (every 5 minutes): */5 * * * * cd /srv/xiangzhi && flask close-due-surveys
        Without Redis the job runs in this process right away.
        """
        while True:
            with unit_of_work() as session:
                enqueue(session, "surveys.close_due")
            click.echo("queued surveys.close_due")
            if not loop:
                return
            time.sleep(every)
