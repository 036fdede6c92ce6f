"""The resident loops (`flask sweep-outbox --loop`, `flask schedule --loop`) outlive a PostgreSQL restart: the
soak test (bench/soak.py, issue 16) found the sweeper dead after one, and nothing swept the outbox again."""

from __future__ import annotations

import pytest
from flask import Flask
from psycopg import OperationalError as DriverError
from sqlalchemy.exc import OperationalError

import backend.cli
import backend.jobs.outbox
import backend.jobs.schedule


class LoopStoppedError(Exception):
    """Ends the endless loop after a few rounds."""


def rounds_until_stopped(app: Flask, monkeypatch: pytest.MonkeyPatch, command: list[str], target: object, name: str):  # type: ignore[no-untyped-def]
    """Runs `command` with `name` on `target` failing as a restarting PostgreSQL does in the first round and
    working afterwards; returns (rounds run, the CLI result) once the loop has slept three times."""
    rounds: list[int] = []

    def flaky(*_args: object, **_kwargs: object) -> object:
        rounds.append(1)
        if len(rounds) == 1:
            raise OperationalError("SELECT 1", {}, DriverError("the database system is shutting down"))
        return [] if name == "run_due" else 0

    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 3:
            raise LoopStoppedError

    monkeypatch.setattr(target, name, flaky)
    monkeypatch.setattr(backend.cli.time, "sleep", sleep)
    result = app.test_cli_runner().invoke(args=command)
    return len(rounds), result


@pytest.mark.parametrize(
    ("command", "target", "name"),
    [
        (["sweep-outbox", "--loop"], backend.jobs.outbox, "sweep_outbox"),
        (["schedule", "--loop"], backend.jobs.schedule, "run_due"),
    ],
)
def test_a_resident_loop_goes_on_after_a_round_that_met_the_database_restarting(
    app: Flask, monkeypatch: pytest.MonkeyPatch, command: list[str], target: object, name: str
) -> None:
    rounds, result = rounds_until_stopped(app, monkeypatch, command, target, name)

    assert rounds == 3
    assert isinstance(result.exception, LoopStoppedError)


def test_a_single_sweep_still_fails_loudly_when_the_database_is_away(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    rounds, result = rounds_until_stopped(app, monkeypatch, ["sweep-outbox"], backend.jobs.outbox, "sweep_outbox")

    assert rounds == 1
    assert isinstance(result.exception, OperationalError)
