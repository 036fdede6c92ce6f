"""Bulk writes (backend.db.insert_many, insert_many_ids, update_many): on PostgreSQL each column goes as one array
in its text form, escaped by hand, so every awkward value must come back exactly as it went in, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask import Flask
from sqlalchemy import JSON, Boolean, Column, Float, Integer, LargeBinary, MetaData, String, Table, select

from backend.db import UTCDateTime, db, insert_many, insert_many_ids, update_many
from backend.transaction import unit_of_work

pytestmark = pytest.mark.real_commits  # the probe table is created and dropped through the engine

probe = Table(
    "bulk_write_probe",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("key", String(40), unique=True),
    Column("text", String(200)),
    Column("score", Float),
    Column("ok", Boolean),
    Column("at", UTCDateTime),
    Column("doc", JSON),
    Column("blob", LargeBinary),
)

AWKWARD = [
    {
        "key": "quotes",
        "text": 'he said "好" \\ and left, {braces} NULL',
        "score": 0.1 + 0.2,
        "ok": True,
        "at": datetime(2026, 11, 25, 8, 30, 1, 123456, tzinfo=UTC),
        "doc": {"title": '失星「守岗敬业」：得分4低于"标准"', "ids": [1, 2], "none": None, "back": "a\\nb"},
        "blob": b'\x00\\x01"{}NULL\xff',  # encrypted personal data is bytes: bytea's hex form in the array
    },
    {"key": "nulls", "text": None, "score": None, "ok": None, "at": None, "doc": None, "blob": None},
    {"key": "empty", "text": "", "score": -1e-9, "ok": False, "at": None, "doc": [], "blob": b""},
    {"key": "NULL", "text": "NULL", "score": 3.0, "ok": False, "at": None, "doc": "NULL", "blob": b"NULL"},
]


@pytest.fixture
def table(app: Flask) -> Iterator[Table]:
    with app.app_context():
        probe.create(db.engine)
        try:
            yield probe
        finally:
            probe.drop(db.engine)


def read(app: Flask) -> dict[str, dict]:
    with app.app_context():
        rows = db.session.execute(select(probe)).mappings().all()
        db.session.remove()
    return {row["key"]: {k: v for k, v in row.items() if k != "id"} for row in rows}


def test_bulk_insert_keeps_quotes_backslashes_nulls_and_json_exactly(app: Flask, table: Table) -> None:
    with app.app_context(), unit_of_work(db.session) as s:
        insert_many(s, table, AWKWARD)
    assert read(app) == {row["key"]: row for row in AWKWARD}


def test_bulk_insert_on_conflict_skips_or_updates_by_key(app: Flask, table: Table) -> None:
    with app.app_context(), unit_of_work(db.session) as s:
        insert_many(s, table, AWKWARD[:2])
        insert_many(s, table, [AWKWARD[0] | {"text": "skipped"}], ("key",))
        insert_many(s, table, [AWKWARD[1] | {"text": "更新了", "doc": {"a": '"'}}], ("key",), update=True)
    found = read(app)
    assert found["quotes"]["text"] == AWKWARD[0]["text"], "a conflicting row is skipped"
    assert (found["nulls"]["text"], found["nulls"]["doc"]) == ("更新了", {"a": '"'}), "or overwrites the existing one"


def test_bulk_insert_returns_the_new_ids_in_the_rows_order(app: Flask, table: Table) -> None:
    rows = [AWKWARD[2], AWKWARD[0], AWKWARD[3], AWKWARD[1]]
    with app.app_context(), unit_of_work(db.session) as s:
        ids = insert_many_ids(s, table, rows)
        keys = dict(s.execute(select(probe.c.id, probe.c.key)).tuples().all())
    assert [keys[i] for i in ids] == [row["key"] for row in rows]
    assert read(app) == {row["key"]: row for row in AWKWARD}


def test_bulk_update_by_id_writes_each_rows_own_values(app: Flask, table: Table) -> None:
    with app.app_context(), unit_of_work(db.session) as s:
        insert_many(s, table, AWKWARD)
        ids = dict(s.execute(select(probe.c.key, probe.c.id)).tuples().all())
        update_many(
            s,
            table,
            [
                {"id": ids["quotes"], "text": 'new "one"', "doc": {"x": 1}},
                {"id": ids["empty"], "text": None, "doc": None},
            ],
        )
    found = read(app)
    assert (found["quotes"]["text"], found["quotes"]["doc"]) == ('new "one"', {"x": 1})
    assert (found["empty"]["text"], found["empty"]["doc"]) == (None, None)
    assert found["NULL"] == AWKWARD[3], "rows not named are left alone"
