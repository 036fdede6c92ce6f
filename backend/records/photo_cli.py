"""`flask photo-housekeeping` (hourly from cron or the worker's schedule: the 24 h purge and lost jobs)
and `flask photo-label` (the per-county label switch for operators)."""

from __future__ import annotations

import click
from flask import Flask
from sqlalchemy import select

from backend.db import db, unit_of_work
from backend.org.models import County
from backend.records.jobs import photo_housekeeping
from backend.records.photos import set_label_enabled


def register_photo_cli(app: Flask) -> None:
    @app.cli.command("photo-housekeeping")
    def housekeeping() -> None:
        """Delete uploads no record claimed within 24 hours; re-queue photos whose processing job was lost."""
        with unit_of_work(db.session) as session:
            done = photo_housekeeping(session)
        click.echo(
            f"deleted {done['purged']} unclaimed photo(s), re-queued {done['requeued']}, gave up on {done['given_up']}"
        )

    @app.cli.command("photo-label")
    @click.argument("county_code")
    @click.argument("state", type=click.Choice(["on", "off"]))
    def photo_label(county_code: str, state: str) -> None:
        """Turn the 温馨照片 label (time · place · event on display copies) on or off for one county."""
        with unit_of_work(db.session) as session:
            county = session.scalar(select(County).where(County.code == county_code))
            if county is None:
                raise click.ClickException(f"no county with code {county_code}")
            set_label_enabled(session, county.id, state == "on")
        click.echo(f"photo label {state} for {county_code}")
