"""Redis and RQ with an explicit connection and short timeouts: a dead Redis costs ~0.3 s, never a minute,
and after one failure a process stops trying it for a while (`RedisBreaker`)."""

from __future__ import annotations

import logging
import threading
import time

import redis
from rq import Queue

log = logging.getLogger(__name__)

DEFAULT_QUEUE = "default"


def connect_redis(url: str, timeout: float) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry_on_timeout=False,
        retry=None,
        health_check_interval=30,
    )


def redis_reachable(url: str, timeout: float) -> bool:
    if not url:
        return False
    try:
        return bool(connect_redis(url, timeout).ping())
    except redis.RedisError:
        return False


def queue(connection: redis.Redis, name: str = DEFAULT_QUEUE) -> Queue:
    return Queue(name, connection=connection)


class RedisBreaker:
    """A circuit breaker for pushing jobs, one per process: after Redis failed, pushes are skipped for
    `cool_down` seconds (the jobs wait in the outbox for the sweep), so a hung Redis costs one socket timeout
    per cool-down instead of one per write. Then one caller tries again (half-open): success closes it,
    failure starts another cool-down.

    Wall-clock time (`time.time`), so tests can move it with time-machine; a clock that jumps back ends the
    cool-down rather than stretching it."""

    def __init__(self, cool_down: float) -> None:
        self.cool_down = cool_down
        self._opened_at: float | None = None  # None: closed
        self._lock = threading.Lock()

    def allow(self) -> bool:
        """Whether to try Redis now. The caller let through after a cool-down restarts it, so the others
        keep skipping until that one try has failed or succeeded."""
        with self._lock:
            if self._opened_at is None:
                return True
            now = time.time()
            if 0 <= now - self._opened_at < self.cool_down:
                return False
            self._opened_at = now
            return True

    def failed(self, error: Exception) -> None:
        with self._lock:
            opening = self._opened_at is None
            self._opened_at = time.time()
        if opening:
            log.warning(
                "redis failed (%s): no job pushes for %g s, jobs wait in the outbox for the sweep",
                type(error).__name__,
                self.cool_down,
            )
        else:
            log.info("redis still failing (%s): no job pushes for another %g s", type(error).__name__, self.cool_down)

    def succeeded(self) -> None:
        with self._lock:
            closing = self._opened_at is not None
            self._opened_at = None
        if closing:
            log.warning("redis answers again: job pushes resume")
