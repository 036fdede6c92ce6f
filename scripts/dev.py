"""`make run`: the whole of Xiangzhi on a laptop, one command, Ctrl-C stops it all.

Steps: migrate the database, seed the demo county, pick a Redis (REDIS_URL → the default local
one → a private redis-server child → none, jobs then run in-process), start the RQ worker when
there is a Redis, start the web app, wait until it answers, then print the URLs and demo logins.

Every child runs in its own process group so that Ctrl-C (SIGINT) and SIGTERM reach this
supervisor only; it then stops the groups it started, in reverse order, and exits 0.
Standard library only (plus redis-py from the venv, when present, for the ping).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FLASK_APP = "backend.app:create_app"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
ROLE_LABELS = {"county_admin": "县管理员", "town_admin": "镇管理员", "reviewer": "村评议小组"}
T0 = time.monotonic()


def say(message: str = "") -> None:
    print(f"[dev] {message}" if message else "", flush=True)


def elapsed() -> float:
    return time.monotonic() - T0


# ---------------------------------------------------------------- children


def _sigterm_when_parent_dies() -> None:
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _die_with_parent() -> None:
    """Runs in the child before exec: own process group, and SIGTERM if the supervisor dies hard."""
    os.setsid()
    _sigterm_when_parent_dies()


class Supervisor:
    def __init__(self) -> None:
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.services: set[int] = set()
        self.stopping = False

    def start(
        self, name: str, argv: list[str], env: dict[str, str], *, service: bool = False, **kwargs: Any
    ) -> subprocess.Popen[bytes]:
        """`service=True` marks what the others depend on (Redis): it is stopped last."""
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, preexec_fn=_die_with_parent, **kwargs)
        self.children.append((name, proc))
        if service:
            self.services.add(proc.pid)
        return proc

    def exited(self) -> tuple[str, int] | None:
        for name, proc in self.children:
            code = proc.poll()
            if code is not None:
                return name, code
        return None

    def stop_all(self, grace: float = 10.0) -> None:
        """SIGTERM the apps' process groups, wait, then the services (Redis); SIGKILL stragglers."""
        apps = [(n, p) for n, p in reversed(self.children) if p.pid not in self.services]
        services = [(n, p) for n, p in reversed(self.children) if p.pid in self.services]
        for tier in (apps, services):
            for _name, proc in tier:
                _signal_group(proc, signal.SIGTERM)
            deadline = time.monotonic() + grace
            for name, proc in tier:
                try:
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    say(f"{name} did not stop within {grace:.0f}s: killing it")
                    _signal_group(proc, signal.SIGKILL)
                    proc.wait()
                # The group may still hold grandchildren (RQ's scheduler process): leave nothing behind.
                _signal_group(proc, signal.SIGKILL)
        self.children.clear()


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def flask_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "flask", *args]


# ---------------------------------------------------------------- Redis


def redis_pings(url: str, timeout: float = 0.5) -> bool:
    if not url:
        return False
    try:
        import redis
    except ImportError:  # not yet in the venv: fall back to a raw PING on the socket
        return _raw_ping(url, timeout)
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout).ping())
    except (redis.RedisError, OSError, ValueError):
        return False


def _raw_ping(url: str, timeout: float) -> bool:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=timeout) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def choose_redis(sup: Supervisor, instance: Path, env: dict[str, str]) -> tuple[str, str]:
    """Returns (url or "", how it was chosen)."""
    wanted = os.environ.get("REDIS_URL", "")
    if wanted:
        if redis_pings(wanted):
            return wanted, "REDIS_URL"
        say(f"REDIS_URL={wanted} does not answer PING: looking for another Redis")
    if redis_pings(DEFAULT_REDIS_URL):
        return DEFAULT_REDIS_URL, "the local Redis on port 6379"
    binary = shutil.which("redis-server")
    if binary:
        port = free_port()
        data_dir = instance / "redis"
        data_dir.mkdir(parents=True, exist_ok=True)
        log = open(data_dir / "redis.log", "ab")  # noqa: SIM115 (kept open for the child's lifetime)
        argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        argv += ["--dir", str(data_dir)]
        proc = sup.start(
            "redis-server", argv, env, service=True, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        url = f"redis://127.0.0.1:{port}/0"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            if redis_pings(url, 0.2):
                return url, f"private redis-server, log in {data_dir / 'redis.log'}"
            time.sleep(0.05)
        say(f"redis-server did not come up (see {data_dir / 'redis.log'}): continuing without Redis")
        return "", "none"
    return "", "none"


# ---------------------------------------------------------------- setup commands


def run_setup(argv: list[str], env: dict[str, str], label: str) -> subprocess.CompletedProcess[str]:
    started = time.monotonic()
    result = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    output = (result.stdout + result.stderr).rstrip()
    if output:
        for line in output.splitlines():
            print(f"    {line}", flush=True)
    outcome = "ok" if result.returncode == 0 else f"exit {result.returncode}"
    say(f"{label}: {outcome} ({time.monotonic() - started:.1f}s)")
    return result


# ---------------------------------------------------------------- readiness and banner


def wait_for_web(sup: Supervisor, web: subprocess.Popen[bytes], url: str, timeout: float = 90) -> int | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not sup.stopping:
        if web.poll() is not None:
            return None
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status
        except urllib.error.HTTPError as error:  # it answered, just not with 2xx
            return error.code
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    return None


def demo_accounts(instance: Path) -> tuple[Path, dict[str, Any] | None]:
    path = instance / "demo_accounts.json"
    try:
        return path, json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return path, None


def print_banner(base: str, instance: Path, redis_note: str, worker: bool) -> None:
    path, data = demo_accounts(instance)
    lines = [
        "",
        "乡治 Xiangzhi is running (development mode, dev login on)",
        f"  admin UI     {base}/admin/",
        f"  手机端 / phone app: {base}/m/",
        f"  API docs     {base}/api/mp/v1/docs   (OpenAPI: {base}/api/mp/v1/openapi.json)",
        f"  Redis        {redis_note}",
        f"  jobs         {'RQ worker (flask worker)' if worker else 'in-process after each commit'}",
        "  schedule     flask schedule --loop (Asia/Shanghai times, backend/jobs/schedule.py)",
    ]
    accounts = (data or {}).get("accounts") or []
    if not accounts:
        lines += ["", f"  no demo accounts found at {path} (did `flask seed-demo` run?)"]
    else:
        with_password = [a for a in accounts if a.get("password")]
        admins: list[dict[str, Any]] = []
        for role, limit in (("county_admin", 2), ("town_admin", 3), ("reviewer", 2)):
            admins += [a for a in with_password if a.get("role") == role][:limit]
        admins += [a for a in with_password if a.get("role") not in ROLE_LABELS][:2]
        lines += ["", f"  admin logins ({base}/admin/login):"]
        width = max([len(str(a.get("username", ""))) for a in admins] + [8])
        for a in admins:
            label = ROLE_LABELS.get(str(a.get("role")), str(a.get("role", "")))
            lines.append(f"    {a['username']:<{width}}  {a['password']}  {label}  {a.get('scope', '')}")
        if len(with_password) > len(admins):
            lines.append(f"    … {len(with_password) - len(admins)} more admin logins in the file below")
        lines += ["", f'  mini-program dev logins: POST {base}/api/mp/v1/auth/login {{"code": "dev:<username>"}}']
        for role, label in (("cadre", "驻村干部 cadres"), ("villager", "村民 villagers")):
            of_role = [a for a in accounts if a.get("role") == role and a.get("username")]
            # The first of each village make the examples, so they show several villages.
            names, villages = [], set()
            for a in of_role:
                village = str(a.get("scope", "")).split("/")[:3]
                if str(village) not in villages:
                    villages.add(str(village))
                    names.append(str(a["username"]))
            names += [str(a["username"]) for a in of_role if str(a["username"]) not in names]
            if names:
                more = f" … ({len(names)} in all)" if len(names) > 4 else ""
                lines.append(f"    {label}: {', '.join(names[:4])}{more}")
        codes = (data or {}).get("binding_codes") or []
        if codes:
            lines.append(f"    {len(codes)} household binding codes (POST /api/mp/v1/auth/bind) are in the file too")
        lines.append(f"  full list: {path}")
    lines += ["", f"  first page after {elapsed():.1f}s{_since_make()}.  Ctrl-C stops everything.", ""]
    print("\n".join(lines), flush=True)


def _since_make() -> str:
    """`make run` passes its own start time, so a cold start includes creating the venv."""
    try:
        t0 = float(os.environ.get("XZ_DEV_T0", ""))
    except ValueError:
        return ""
    total = time.time() - t0
    return f" in this runner, {total:.1f}s since `make run` started" if total > elapsed() + 0.5 else ""


# ---------------------------------------------------------------- main


def main() -> int:
    sup = Supervisor()

    def on_signal(signum: int, _frame: object) -> None:
        if not sup.stopping:
            say(f"{signal.Signals(signum).name}: stopping")
        sup.stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    if os.environ.get("MAKELEVEL"):
        # Under `make run`: if make is killed, shut down too rather than linger as an orphan.
        parent = os.getppid()
        _sigterm_when_parent_dies()
        if os.getppid() != parent:
            sup.stopping = True

    port = int(os.environ.get("PORT", "5000"))
    instance = Path(os.environ.get("XZ_INSTANCE_PATH") or ROOT / "instance")
    instance.mkdir(parents=True, exist_ok=True)
    if not port_is_free(port):
        say(f"port {port} is already in use on 127.0.0.1: stop the other server or run `PORT=5001 make run`")
        return 1

    env = dict(os.environ)
    env.update(FLASK_APP=FLASK_APP, XZ_ENV="development", PYTHONUNBUFFERED="1")
    env.pop("FLASK_DEBUG", None)

    try:
        return _run(sup, env, instance, port)
    finally:
        if sup.children:
            say("stopping " + ", ".join(name for name, _ in reversed(sup.children)))
            sup.stop_all()
            say("all stopped")


def _run(sup: Supervisor, env: dict[str, str], instance: Path, port: int) -> int:
    redis_url, redis_note = choose_redis(sup, instance, env)
    env["REDIS_URL"] = redis_url
    redis_note = f"{redis_url} ({redis_note})" if redis_url else "none found: background jobs run in-process"
    say(f"Redis: {redis_note}")
    if sup.stopping:
        return 0

    say("database: flask db upgrade")
    if run_setup(flask_cmd("db", "upgrade"), env, "flask db upgrade").returncode != 0:
        return 1
    if sup.stopping:
        return 0
    seeded = run_setup(flask_cmd("seed-demo"), env, "flask seed-demo")
    if seeded.returncode != 0:
        if "No such command" in seeded.stderr:
            say("`flask seed-demo` does not exist yet: starting without demo data")
        else:
            say("seeding the demo county failed (output above)")
            return 1
    if sup.stopping:
        return 0

    worker = None
    if redis_url:
        worker = sup.start("worker", flask_cmd("worker"), env, stdin=subprocess.DEVNULL)
    sup.start("scheduler", flask_cmd("schedule", "--loop"), env, stdin=subprocess.DEVNULL)
    web = sup.start(
        "web",
        flask_cmd("run", "--host", "127.0.0.1", "--port", str(port), "--no-reload"),
        env,
        stdin=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    status = wait_for_web(sup, web, f"{base}/admin/login")
    if sup.stopping:
        return 0
    if status is None:
        say("the web app did not answer (output above)")
        return 1
    if status != 200:
        say(f"warning: {base}/admin/login answered HTTP {status}")
    print_banner(base, instance, redis_note, worker is not None)

    while not sup.stopping:
        gone = sup.exited()
        if gone:
            name, code = gone
            say(f"{name} exited with status {code}: stopping the rest")
            return 1
        time.sleep(0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
