"""The registry of background tasks by name. Tasks take ids and values, never objects."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

TASKS: dict[str, Callable[..., Any]] = {}


class RecordedError(Exception):
    """Raised by a task that has written down its own failure (an error an admin should see): the runner
    commits the task's writes, then raises this again so the job is failed (RQ: failed job registry).
    Raise it `from` the original error, which then shows in the job's traceback. Any other exception
    rolls the task's writes back."""


def task(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        if name in TASKS:
            raise ValueError(f"task {name} registered twice")
        TASKS[name] = func
        return func

    return register


def load_all_tasks() -> None:
    """Import every domain's jobs module so their tasks register."""
    import backend.auth.jobs
    import backend.inbox.jobs
    import backend.org.imports.jobs
    import backend.photos.jobs
    import backend.points.jobs
    import backend.ratings.jobs
    import backend.shop.jobs
    import backend.surveys.jobs  # noqa: F401
