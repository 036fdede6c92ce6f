"""The soak test's production-shaped deployment on this machine, every part a child it controls.

- PostgreSQL: a cluster of its own (initdb into the run's folder, run as the `postgres` OS user, trust auth,
  loopback on `--pg-port`), so restarting it touches nobody else's database;
- Redis: a `redis-server` of its own on `--redis-port`, in memory only (the README: "Redis only holds the
  queue, no backup needed");
- the upload folder: a tmpfs of `--disk-mb` MB mounted for the run, so "the disk is full" is a real ENOSPC;
- the app: gunicorn with the repository's gunicorn.conf.py (its worker count; only the bind address and the
  access log file are given on the command line), two `flask worker`, `flask schedule --loop` and
  `flask sweep-outbox --loop` (the README's deployment steps 3–6).

Long-running children are supervised like systemd's `Restart=always`: one that exits is started again
after a second, and the restart is counted (a crash during a fault is a finding).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PG_BIN = Path("/usr/lib/postgresql/15/bin")
DATABASE = "xz_soak"
INITDB_OPTIONS = ("-A", "trust", "-U", "postgres", "--no-sync")


def _own_group() -> None:
    os.setsid()


def wait_until(check, timeout: float, step: float = 0.1) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return True
        time.sleep(step)
    return False


def port_answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


@dataclass
class Child:
    """A supervised process group; `restarts` counts the exits it did not ask for."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    wanted: bool = True
    exits: list[tuple[float, int]] = field(default_factory=list)

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                self.argv,
                cwd=PROJECT_ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_own_group,
            )

    def signal_group(self, sig: signal.Signals) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, sig)

    def stop(self, grace: float = 15) -> None:
        self.wanted = False
        if self.process is None:
            return
        self.signal_group(signal.SIGTERM)
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            self.signal_group(signal.SIGKILL)
            self.process.wait()
        self.signal_group(signal.SIGKILL)  # grandchildren (RQ's scheduler process)


class Stack:
    def __init__(self, root: Path, *, pg_port: int, redis_port: int, web_port: int, disk_mb: int) -> None:
        self.root = root
        self.pg_port, self.redis_port, self.web_port, self.disk_mb = pg_port, redis_port, web_port, disk_mb
        self.pg_data = root / "pg" / "data"
        self.uploads = root / "uploads"
        self.instance = root / "instance"
        self.logs = root / "logs"
        self.redis_url = f"redis://127.0.0.1:{redis_port}/0"
        self.database_url = f"postgresql://postgres@127.0.0.1:{pg_port}/{DATABASE}"
        self.base = f"http://127.0.0.1:{web_port}"
        self.redis_process: subprocess.Popen[bytes] | None = None
        self.children: dict[str, Child] = {}
        self.mounted = False
        self._supervising = False
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ environment

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        for name in ("TEST_DATABASE_URL", "BENCH_DATABASE_URL", "FLASK_DEBUG"):
            env.pop(name, None)
        env.update(
            FLASK_APP="backend.app:create_app",
            PYTHONUNBUFFERED="1",
            # Development: the dev logins (`dev:<username>`) stand in for WeChat's; everything else as deployed.
            XZ_ENV="development",
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            XZ_INSTANCE_PATH=str(self.instance),
            XZ_UPLOAD_DIR=str(self.uploads),
            # Every phone comes from 127.0.0.1 here: the per-address limits on sign-in and binding would take the
            # whole county for one phone. Every other limit (uploads per user, admin sign-in failures) is the default.
            XZ_LOGIN_RATE_LIMIT="100000 per minute",
            XZ_BIND_RATE_LIMIT="100000 per minute",
        )
        return env

    def flask(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "flask", *args],
            cwd=PROJECT_ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise SystemExit(f"flask {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
        return result

    # ------------------------------------------------------------------ PostgreSQL

    def _pg_ctl(self, *args: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D", str(self.pg_data), *args],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def pg_start(self) -> None:
        options = f"-p {self.pg_port} -k {self.root / 'pg'} -c listen_addresses=127.0.0.1 -c max_connections=200"
        self._pg_ctl("-o", options, "-l", str(self.logs / "postgresql.log"), "-w", "start")

    def pg_stop(self, mode: str = "fast") -> None:
        self._pg_ctl("-m", mode, "-w", "stop")

    def pg_ready(self) -> bool:
        result = subprocess.run(
            [str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.pg_port)], capture_output=True, check=False
        )
        return result.returncode == 0

    # ------------------------------------------------------------------ Redis

    def redis_start(self) -> None:
        argv = ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", ""]
        argv += ["--appendonly", "no", "--dir", str(self.root / "redis")]
        with open(self.logs / "redis.log", "ab") as out:
            self.redis_process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_own_group)
        if not wait_until(self.redis_pings, 10):
            raise SystemExit("redis-server did not start")

    def redis_stop(self) -> None:
        """SIGTERM: what `systemctl restart redis` sends. In memory only, the queues are gone afterwards."""
        if self.redis_process is not None:
            self.redis_process.terminate()
            self.redis_process.wait(30)
            self.redis_process = None

    def redis_pings(self) -> bool:
        return bool(redis.Redis.from_url(self.redis_url, socket_timeout=0.5).ping())

    # ------------------------------------------------------------------ the upload disk

    def mount_uploads(self) -> None:
        self.uploads.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={self.disk_mb}m,mode=0755", "tmpfs", str(self.uploads)], check=True
        )
        self.mounted = True

    def disk_free(self) -> int:
        return shutil.disk_usage(self.uploads).free

    # ------------------------------------------------------------------ the app's processes

    def _child(self, name: str, argv: list[str]) -> Child:
        child = Child(name, argv, self.env(), self.logs / f"{name}.log")
        child.start()
        self.children[name] = child
        return child

    def start_app(self, web_workers: int | None) -> None:
        flask = [sys.executable, "-m", "flask"]
        gunicorn = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{self.web_port}"]
        gunicorn += ["--access-logfile", str(self.logs / "access.log")]
        if web_workers:
            gunicorn += ["--workers", str(web_workers)]
        self._child("web", [*gunicorn, "backend.app:create_app()"])
        self._child("worker-1", [*flask, "worker"])
        self._child("worker-2", [*flask, "worker"])
        self._child("scheduler", [*flask, "schedule", "--loop"])
        self._child("sweeper", [*flask, "sweep-outbox", "--loop"])
        if not wait_until(lambda: port_answers(self.web_port), 60):
            raise SystemExit(f"gunicorn did not answer (see {self.logs / 'web.log'})")
        self._supervising = True
        threading.Thread(target=self._supervise, daemon=True).start()

    def _supervise(self) -> None:
        while self._supervising:
            with self._lock:
                for child in self.children.values():
                    code = None if child.process is None else child.process.poll()
                    if child.wanted and code is not None:
                        child.exits.append((time.monotonic(), code))
                        child.signal_group(signal.SIGKILL)
                        time.sleep(1)
                        child.restarts += 1
                        child.start()
            time.sleep(0.2)

    def kill_child(self, name: str) -> int:
        """SIGKILL a child's whole process group (the RQ worker and its scheduler process), as the OOM killer
        would; the supervisor starts it again. Returns the pid killed."""
        child = self.children[name]
        assert child.process is not None
        pid = child.process.pid
        child.signal_group(signal.SIGKILL)
        return pid

    def stop_app(self) -> None:
        self._supervising = False
        with self._lock:
            for child in reversed(list(self.children.values())):
                child.stop()

    # ------------------------------------------------------------------ whole stack

    def start(self, web_workers: int | None) -> None:
        for folder in ("pg", "redis", "instance", "logs"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        shutil.chown(self.root / "pg", "postgres")
        if port_answers(self.pg_port) or port_answers(self.redis_port) or port_answers(self.web_port):
            raise SystemExit("a port the soak needs is taken (--pg-port, --redis-port, --web-port)")
        self.mount_uploads()
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(PG_BIN / "initdb"), "-D", str(self.pg_data), *INITDB_OPTIONS],
            check=True,
            capture_output=True,
        )
        shutil.chown(self.logs, "postgres")
        self.pg_start()
        subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.pg_port),
                "-U",
                "postgres",
                "-qc",
                f"CREATE DATABASE {DATABASE}",
            ],
            check=True,
        )
        self.redis_start()
        self.flask("db", "upgrade")
        print(self.flask("seed-demo").stdout.strip(), flush=True)
        self.start_app(web_workers)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.stop_app()
        with contextlib.suppress(Exception):
            self.redis_stop()
        with contextlib.suppress(Exception):
            self.pg_stop("fast")
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.uploads)], check=False)
            self.mounted = False
