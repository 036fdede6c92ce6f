"""Every `flask` command of the app, registered in one place. A command parses its options, calls one service
and prints. Like the app factory this is the composition root: the domains are imported inside the commands
that use them."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import click
import redis
from flask import Flask, current_app
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from backend.db import db
from backend.errors import DomainError
from backend.transaction import unit_of_work

if TYPE_CHECKING:
    from backend.auth.models import User

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

        def sweep() -> None:
            pushed = sweep_outbox(db.session)
            if pushed:
                click.echo(f"pushed {pushed} job(s) from the outbox")

        _rounds(sweep, every=30, loop=loop)

    @app.cli.command("schedule")
    @click.option("--loop", is_flag=True, help="Keep checking every minute (the scheduler process).")
    def schedule_command(loop: bool) -> None:
        """Enqueue the scheduled tasks that fell due (Asia/Shanghai time); see backend/jobs/schedule.py."""
        from backend.jobs.schedule import run_due
        from backend.jobs.tasks import load_all_tasks

        load_all_tasks()

        def enqueue_due() -> None:
            with unit_of_work(db.session) as session:
                job_ids = run_due(session)
            for job_id in job_ids:
                click.echo(f"enqueued {job_id}")

        _rounds(enqueue_due, every=60, loop=loop)

    @app.cli.command("check-ledger")
    def check_ledger() -> None:
        """Prove every household's cached points balance equals the sum of its ledger entries."""
        from backend.points.ledger import balance_mismatches

        _report_mismatches(
            [
                f"household {m.household_id}: balance {m.cached_balance} ≠ ledger {m.ledger_balance}, "
                f"held {m.cached_held} ≠ ledger {m.ledger_held}"
                for m in balance_mismatches(db.session)
            ],
            "every balance equals the sum of its ledger entries",
        )

    @app.cli.command("check-stock")
    def check_stock() -> None:
        """Prove every product's cached stock (and held units) equals the sum of its stock entries."""
        from backend.shop.stock import stock_mismatches

        _report_mismatches(
            [
                f"product {m.product_id}: stock {m.cached_stock} ≠ ledger {m.ledger_stock}, "
                f"held {m.cached_held} ≠ ledger {m.ledger_held}"
                for m in stock_mismatches(db.session)
            ],
            "every product's stock equals the sum of its stock entries",
        )

    @app.cli.command("compile")
    @click.option("--county", required=True, help="County code (6 digits) or id.")
    @click.option("--month", required=True, help="Business month YYYY-MM (Asia/Shanghai).")
    def compile_command(county: str, month: str) -> None:
        """Compile a county's monthly ratings (or resume its unfinished run); jobs go to the workers."""
        from backend.ratings.compile import compile_month as compile_ratings
        from backend.ratings.compile import resolve_county

        with unit_of_work(db.session) as session:
            started = compile_ratings(session, resolve_county(session, county), month)
            run_id, attempt, towns = started.run.id, started.run.attempt, started.towns_queued
        click.echo(f"compile run {run_id} (attempt {attempt}): {towns} town job(s) enqueued")

    @app.cli.command("seed-demo")
    def seed_demo_command() -> None:
        """Create the demo county 秦岭县 once; a no-op when it exists (make run calls it on every start)."""
        from backend.demo.county import seed_demo_county
        from backend.demo.org import DEMO_COUNTY_CODE, DEMO_COUNTY_NAME, DEMO_PASSWORD

        if current_app.config["ENV_NAME"] == "production":
            raise click.ClickException("refusing to seed demo accounts with a known password in production")
        started = time.perf_counter()
        with unit_of_work() as session:
            summary = seed_demo_county(session, current_app.instance_path)
        if summary.already_present:
            click.echo(f"demo county {DEMO_COUNTY_NAME} ({DEMO_COUNTY_CODE}) is already there; nothing changed")
            return
        click.echo(
            f"seeded {DEMO_COUNTY_NAME}: {summary.towns} towns, {summary.villages} villages, {summary.grids} grids, "
            f"{summary.households} households, {summary.residents} residents, {summary.cadres} cadres, "
            f"{summary.pairings} pairings, {summary.users} users in {time.perf_counter() - started:.1f}s"
        )
        click.echo(f"demo logins (admin password {DEMO_PASSWORD}): {summary.accounts_file}")

    @app.cli.command("create-county")
    @click.option("--name", required=True, help="县名，如 紫阳县")
    @click.option("--code", required=True, help="6位县级行政区划代码，如 610924")
    @click.option("--admin", "admin_username", required=True, help="第一个县管理员的用户名")
    @click.password_option("--password", help="该管理员的密码（至少10位；不填则提示输入两次，不回显）")
    def create_county(name: str, code: str, admin_username: str, password: str) -> None:
        """Start a county on an empty database: the county, its first county admin, and the preset rule book,
        assessment schemes and survey templates. Then sign in at /admin and add or import the rest."""
        from backend.onboarding import start_county

        try:
            with unit_of_work() as session:
                county = start_county(
                    session, name=name, code=code, admin_username=admin_username, admin_password=password
                )
                county_id = county.id
        except DomainError as error:
            raise click.ClickException(_message_of(error)) from error
        click.echo(f"created {name} ({code}, id {county_id}) and county admin {admin_username}; sign in at /admin")

    @app.cli.group("users")
    def users() -> None:
        """Account changes; each signs the user out everywhere (admin sessions, phone tokens)."""

    @users.command("disable")
    @click.argument("username")
    def disable_user(username: str) -> None:
        """Disable an account."""
        from backend.auth.accounts import disable_account

        _change_account(username, disable_account)
        click.echo(f"{username} is disabled and signed out everywhere")

    @users.command("set-password")
    @click.argument("username")
    @click.password_option()
    def set_password(username: str, password: str) -> None:
        """Give an admin a new password (asked twice, not echoed)."""
        from backend.auth import accounts

        _change_account(username, lambda session, user: accounts.set_password(session, user, password))
        click.echo(f"{username} has a new password and is signed out everywhere")

    @users.command("set-role")
    @click.argument("username")
    @click.argument("role", type=click.Choice(["county_admin", "town_admin", "reviewer"]))
    @click.argument("region_code")
    def set_role(username: str, role: str, region_code: str) -> None:
        """Make an account the admin of a county, town or village, named by its code (6, 9 or 12 digits)."""
        from backend.auth import accounts
        from backend.auth.models import Role

        _change_account(
            username, lambda session, user: accounts.assign_admin_role(session, user, Role(role), region_code)
        )
        click.echo(f"{username} is {role} of {region_code}")


def _rounds(round_: Callable[[], None], *, every: float, loop: bool) -> None:
    """One round, or with `loop` one every `every` seconds for good. A resident loop outlives a restart of
    PostgreSQL or Redis: a round that fails on either is logged and the next one tries again."""
    while True:
        try:
            round_()
        except (SQLAlchemyError, redis.RedisError):
            if not loop:
                raise
            log.warning("this round failed (database or Redis away?); trying again in %g s", every, exc_info=True)
            db.session.remove()
        if not loop:
            return
        time.sleep(every)


def _change_account(username: str, change: Callable[[Session, User], None]) -> None:
    """One account change in one transaction; a refusal is an error message, not a traceback."""
    from backend.auth.accounts import user_by_username

    try:
        with unit_of_work() as session:
            change(session, user_by_username(session, username))
    except DomainError as error:
        raise click.ClickException(_message_of(error)) from error


def _message_of(error: DomainError) -> str:
    """The refusal as a person reads it: the message, then each field's own message."""
    details = [f"{field}: {text}" for field, texts in (error.errors or {}).items() for text in texts]
    return "；".join([error.message, *details])


def _report_mismatches(mismatches: list[str], all_clear: str) -> None:
    """The end of every ledger check: a line per mismatch and exit status 1, or one line saying all is well."""
    for line in mismatches:
        click.echo(line)
    if mismatches:
        raise SystemExit(1)
    click.echo(all_clear)
