"""Names, phones and ID numbers are encrypted at rest, findable by keyed hash, masked on output."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.request import urlopen

import pytest
from sqlalchemy import select, text

from backend.auth.models import User
from backend.crypto import lookup_hash, mask_id_number, mask_name, mask_phone
from backend.db import db
from backend.org.models import Resident
from tests.conftest import COMMITTED


def _plaintexts(app) -> list[str]:  # type: ignore[no-untyped-def]
    with app.app_context():
        people = db.session.scalars(select(Resident)).all()
        values = [p.phone for p in people] + [p.id_number for p in people] + [p.name for p in people]
        db.session.remove()
    return [v for v in values if v]


def _database_dump(app) -> bytes:  # type: ignore[no-untyped-def]
    """What a stolen backup would hold. Only committed rows are in it: call it from a real_commits test."""
    assert COMMITTED.baseline is None, "mark the test real_commits: a rolled-back test's rows never reach a dump"
    with app.app_context():
        url = db.engine.url
        if url.get_backend_name() == "sqlite":
            with db.engine.begin() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            db.engine.dispose()
            with open(url.database, "rb") as handle:
                return handle.read()
    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump not installed")
    return subprocess.run(
        [
            "pg_dump",
            "--data-only",
            "-h",
            url.host or "127.0.0.1",
            "-p",
            str(url.port or 5432),
            "-U",
            url.username or "postgres",
            url.database,
        ],
        check=True,
        capture_output=True,
    ).stdout


@pytest.mark.real_commits  # the dump reads what was committed
def test_a_database_dump_contains_no_plaintext_phone_id_number_or_name(app, world, database) -> None:
    with database() as s:  # a cadre's account carries the cadre's real name
        s.get_one(User, world.ids["user:cadre"]).display_name = "赵第一"
    secrets = [*_plaintexts(app), "赵第一"]
    assert len(secrets) >= 30
    dump = _database_dump(app)
    assert len(dump) > 10_000
    leaked = [s for s in secrets if s.encode() in dump]
    assert leaked == []


def test_people_are_found_by_exact_phone_through_the_keyed_hash(app, world) -> None:
    with app.app_context():
        someone = db.session.scalars(select(Resident)).first()
        found = db.session.scalar(select(Resident).where(Resident.phone_hash == lookup_hash(someone.phone)))
        assert found.id == someone.id
        raw = db.session.execute(text("SELECT phone FROM resident WHERE id = :id"), {"id": someone.id}).scalar()
        assert someone.phone.encode() not in bytes(raw)


def test_the_same_phone_encrypts_differently_each_time(app, world) -> None:
    with app.app_context():
        rows = db.session.execute(text("SELECT phone, phone_hash FROM resident ORDER BY id LIMIT 2")).all()
        assert rows[0][0] != rows[1][0]


@pytest.mark.parametrize(
    ("masker", "value", "masked"),
    [
        (mask_name, "张三", "张*"),
        (mask_name, "王小明", "王*明"),
        (mask_name, "欧阳小明", "欧**明"),
        (mask_phone, "13812341234", "138****1234"),
        (mask_id_number, "61232219700305017X", "612***********017X"),
    ],
)
def test_masks_keep_only_what_a_person_needs_to_recognise(masker, value, masked) -> None:
    assert masker(value) == masked


SEARCHED_PHONE = "13912345678"


def test_the_dev_servers_access_log_keeps_the_path_but_not_a_searched_phone_number(app, caplog) -> None:
    caplog.set_level(logging.INFO, logger="werkzeug")
    logging.getLogger("werkzeug").info(
        '%s - - "%s" %s -', "127.0.0.1", f"GET /admin/cadres?q={SEARCHED_PHONE} HTTP/1.1", 200
    )
    [record] = [r for r in caplog.records if r.name == "werkzeug"]
    assert "/admin/cadres" in record.getMessage() and SEARCHED_PHONE not in record.getMessage()


def test_gunicorns_access_log_keeps_the_path_but_not_a_searched_phone_number(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path / "access.log"
    env = {**os.environ, "XZ_INSTANCE_PATH": str(tmp_path / "instance"), "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "-b", f"127.0.0.1:{port}", "-w", "1",
         "--access-logfile", str(log), "backend.app:create_app()"],
        cwd=Path(__file__).resolve().parent.parent, env=env, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urlopen(f"http://127.0.0.1:{port}/admin/login?q={SEARCHED_PHONE}", timeout=5).read()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "gunicorn did not start"
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=30)
    written = log.read_text(encoding="utf-8")
    assert "GET /admin/login HTTP/1.1" in written and SEARCHED_PHONE not in written
