"""Redis and RQ with an explicit connection and short timeouts: a dead Redis costs ~0.3 s, never a minute."""

from __future__ import annotations

import logging

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
