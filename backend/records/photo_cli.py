"""`flask purge-photos` and `flask photo-label`: the purge for cron (or the worker's schedule) and the
per-county label switch for operators."""

from __future__ import annotations

import click
from flask import Flask
from sqlalchemy import select

from backend.db import db, unit_of_work
from backend.org.models import County
from backend.records.photos import purge_unclaimed, set_label_enabled


def register_photo_cli(app: Flask) -> None:
    @app.cli.command("purge-photos")
    def purge_photos() -> None:
        """Delete uploads that no record claimed within 24 hours (schedule hourly)."""
        with unit_of_work(db.session) as session:
            deleted = purge_unclaimed(session)
        click.echo(f"deleted {deleted} unclaimed photo(s)")

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
