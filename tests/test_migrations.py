"""The migrated schema equals the models, on the database under test; downgrade undoes it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, insert, inspect, select, text

from backend.crypto import lookup_hash
from backend.db import db
from tests.conftest import make_test_app


@pytest.fixture
def empty_database_url(tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    base = os.environ.get("TEST_DATABASE_URL", "")
    if not base.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'migrated.sqlite3'}"
        return
    name = f"xz_migrations_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_migrations_build_exactly_the_schema_of_the_models(tmp_path, empty_database_url) -> None:
    app = make_test_app(tmp_path, SQLALCHEMY_DATABASE_URI=empty_database_url)
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
            differences = compare_metadata(context, db.metadata)
        assert differences == []
        downgrade(revision="base")
        with db.engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
        db.engine.dispose()


def test_migration_0012_gives_existing_pairings_their_households_village(tmp_path, empty_database_url) -> None:
    from sqlalchemy.orm import Session

    from backend.org.models import Cadre, County, Grid, Household, Town, Village

    app = make_test_app(tmp_path, SQLALCHEMY_DATABASE_URI=empty_database_url)
    with app.app_context():
        upgrade(revision="0011")
        with Session(db.engine) as s:
            # Core inserts of only the columns 0011 has (the models have gained columns since).
            def add(model: type, **values: object) -> int:
                return s.execute(insert(model).values(**values).returning(model.id)).scalar_one()

            county = add(County, name="迁移县", code="619998")
            town = add(Town, county_id=county, name="迁移镇", code="619998001")
            villages = [
                add(Village, town_id=town, name=f"迁移{n}村", code=f"61999800100{n}", center_lat=33.1, center_lng=107.3)
                for n in (1, 2)
            ]
            grids = [add(Grid, village_id=v, name="一组") for v in villages]
            homes = {
                add(Household, village_id=v, grid_id=g, number="001", address="一号"): v
                for v, g in zip(villages, grids, strict=True)
            }
            cadre = add(Cadre, county_id=county, work_unit="县局", name="帮扶人", name_hash=lookup_hash("帮扶人"))
            for home in homes:  # pairing as it was before 0012: no village column yet
                s.execute(
                    text("INSERT INTO pairing (cadre_id, household_id, start_on) VALUES (:c, :h, '2025-01-01')"),
                    {"c": cadre, "h": home},
                )
            expected = homes
            s.commit()
        upgrade()
        with db.engine.connect() as conn:
            found = dict(conn.execute(text("SELECT household_id, village_id FROM pairing")).tuples().all())
        assert found == expected
        db.engine.dispose()


def test_migration_0017_encrypts_the_names_accounts_already_carry(tmp_path, empty_database_url) -> None:
    from sqlalchemy.orm import Session

    from backend.auth.models import User

    app = make_test_app(tmp_path, SQLALCHEMY_DATABASE_URI=empty_database_url)
    with app.app_context():
        upgrade(revision="0016")
        with db.engine.begin() as conn:  # user_account as it was before 0017: the name in plain text
            conn.execute(
                text(
                    "INSERT INTO user_account (username, role, display_name, is_active, created_at)"
                    " VALUES (:u, 'villager', :n, :a, :t)"
                ),
                {"u": "wang", "n": "王建国", "a": True, "t": datetime(2026, 1, 1, tzinfo=UTC)},
            )
        upgrade()
        with db.engine.connect() as conn:
            stored = conn.execute(text("SELECT display_name FROM user_account")).scalar_one()
        assert "王建国".encode() not in bytes(stored)
        with Session(db.engine) as s:
            assert s.scalars(select(User.display_name)).one() == "王建国"
        downgrade(revision="0016")
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT display_name FROM user_account")).scalar_one() == "王建国"
        db.engine.dispose()
