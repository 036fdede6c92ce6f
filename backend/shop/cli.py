"""Supermarket command: prove stock equals its ledger."""

from __future__ import annotations

import click
from flask import Flask

from backend.db import db


def register_shop_cli(app: Flask) -> None:
    @app.cli.command("check-stock")
    def check_stock() -> None:
        """Prove every product's cached stock (and held units) equals the sum of its stock entries."""
        from backend.shop.stock import stock_mismatches

        mismatches = stock_mismatches(db.session)
        for m in mismatches:
            click.echo(
                f"product {m.product_id}: stock {m.cached_stock} ≠ ledger {m.ledger_stock}, "
                f"held {m.cached_held} ≠ ledger {m.ledger_held}"
            )
        if mismatches:
            raise SystemExit(1)
        click.echo("every product's stock equals the sum of its stock entries")
