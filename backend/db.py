"""Declarative base, column types, bulk writes, and write locking that works on SQLite and PostgreSQL."""

from __future__ import annotations

import contextvars
import enum
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from functools import cache
from typing import Any, ClassVar

import orjson
import psycopg
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import (
    ColumnElement,
    DateTime,
    Dialect,
    Engine,
    Enum,
    Executable,
    Index,
    LargeBinary,
    MetaData,
    Result,
    Select,
    Table,
    any_,
    bindparam,
    event,
    func,
    select,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def compact_json(value: Any) -> str:
    """JSON columns as written, by orjson: a compile writes 3 MB of result detail a month, and json.dumps took
    2.6 ms for a town's 60 results where orjson takes 0.4 (compact UTF-8 either way)."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


db = SQLAlchemy(model_class=Base, engine_options={"json_serializer": compact_json})


def str_enum(cls: type[enum.StrEnum], name: str) -> Enum:
    """A Python enum stored as a short string with a CHECK constraint: portable, and readable in a dump."""
    return Enum(cls, name=name, native_enum=False, create_constraint=True, length=20)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite forgets the offset otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; store UTC-aware datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


# Set by the transaction boundary: the next transaction will write, so SQLite takes the
# write lock up front (BEGIN IMMEDIATE) instead of failing to upgrade a read lock later.
_write_intent: contextvars.ContextVar[bool] = contextvars.ContextVar("write_intent", default=False)


def partial_index(name: str, *columns: str, where: str, unique: bool = False) -> Index:
    """An index over only the rows matching `where`, on PostgreSQL and SQLite alike
    (e.g. "at most one current pairing per household": unique where end_on IS NULL)."""
    return Index(name, *columns, unique=unique, postgresql_where=text(where), sqlite_where=text(where))


def database_unavailable(exc: BaseException) -> bool:
    """The database server is down, restarting or dropped the connection (PostgreSQL's operational errors, or
    a connection SQLAlchemy found dead), not a bug in a statement: the same request may succeed in a moment."""
    return isinstance(exc, OperationalError) and (
        exc.connection_invalidated or isinstance(exc.orig, psycopg.OperationalError)
    )


def install_sqlite_pragmas(engine: Engine) -> None:
    """WAL, foreign keys, a busy timeout and explicit BEGIN so concurrent writers queue instead of erroring."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn) -> None:  # type: ignore[no-untyped-def]
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _write_intent.get() else "BEGIN")


def begin_write_intent(enabled: bool) -> contextvars.Token[bool]:
    return _write_intent.set(enabled)


def end_write_intent(token: contextvars.Token[bool]) -> None:
    _write_intent.reset(token)


@contextmanager
def write_intent(enabled: bool = True) -> Iterator[None]:
    token = begin_write_intent(enabled)
    try:
        yield
    finally:
        end_write_intent(token)


def read_rows(session: Session, stmt: Select, params: dict[str, Any] | None = None) -> Result[Any]:
    """Plain column rows through Core, for reads of thousands of rows (a county's monthly compile): the ORM's
    handling of each row costs several times Core's. Flushes first, as an ORM read would."""
    session.flush()
    return session.connection().execute(stmt, params)


class AnyOf(ColumnElement[bool]):
    """`column IN (…)` over a list parameter, for statements built once and run many times. PostgreSQL gets
    `column = ANY(:name)`: one array parameter, so the statement's text is the same for any list (psycopg
    prepares it once) and nothing is expanded per call (a town's 63 cadres: 0.93 → 0.61 ms a statement).
    Elsewhere an expanding IN."""

    inherit_cache = True
    _traverse_internals: ClassVar = [
        ("column", InternalTraversal.dp_clauseelement),
        ("name", InternalTraversal.dp_string),
    ]

    def __init__(self, column: ColumnElement[Any], name: str) -> None:
        self.column, self.name = column, name


def any_of(column: Any, name: str) -> AnyOf:
    return AnyOf(column, name)


@compiles(AnyOf)
def _in_list(element: AnyOf, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column.in_(bindparam(element.name, expanding=True)), **kw)


@compiles(AnyOf, "postgresql")
def _any_array(element: AnyOf, compiler: SQLCompiler, **kw: Any) -> str:
    array = bindparam(element.name, type_=postgresql.ARRAY(element.column.type))
    return compiler.process(element.column == any_(array), **kw)


def insert_many(
    session: Session, table: Table, rows: list[dict[str, Any]], conflict: tuple[str, ...] = (), *, update: bool = False
) -> None:
    """Insert many rows (the same keys in each) in one statement. A row whose `conflict` key exists is skipped,
    or with `update` overwrites the existing row's other columns. On PostgreSQL the rows go as one array per
    column (`_unnest`), elsewhere as an executemany; the statement is built once per table and shape."""
    if not rows:
        return
    dialect = session.get_bind().dialect
    stmt = _insert_statement(dialect, table, tuple(rows[0]), conflict, update)
    if dialect.name != "postgresql":
        session.connection().execute(stmt, rows)
        return
    session.connection().execute(stmt, _unnest_params(table, rows, dialect))


def insert_many_ids(session: Session, table: Table, rows: list[dict[str, Any]]) -> list[int]:
    """`insert_many` for new rows whose ids the caller needs next (a visit's problems), returned in the rows'
    order. On PostgreSQL the serial numbers the unnested rows in their order. SQLite numbers them max(rowid) + 1
    in turn, and once this transaction has written no other can until it ends, so the last id read after the
    executemany gives them all (RETURNING them in order would cost SQLAlchemy a statement per row)."""
    if not rows:
        return []
    dialect = session.get_bind().dialect
    stmt = _insert_statement(dialect, table, tuple(rows[0]), (), False)
    if dialect.name != "postgresql":
        session.connection().execute(stmt, rows)
        last = session.connection().scalar(select(func.max(table.c.id)))
        return list(range(last - len(rows) + 1, last + 1))
    stmt = stmt.returning(table.c.id)
    return sorted(session.connection().scalars(stmt, _unnest_params(table, rows, dialect)))


@cache
def _insert_statement(
    dialect: Dialect, table: Table, names: tuple[str, ...], conflict: tuple[str, ...], update: bool
) -> Executable:
    if dialect.name == "postgresql":
        stmt = pg_insert(table).from_select(
            names, text(_unnest_sql(table, names, dialect)).columns(*(table.c[name] for name in names))
        )
    else:
        stmt = sqlite_insert(table)
    if conflict and update:
        return stmt.on_conflict_do_update(
            index_elements=conflict, set_={name: stmt.excluded[name] for name in names if name not in conflict}
        )
    return stmt.on_conflict_do_nothing(index_elements=conflict) if conflict else stmt


def update_many(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Update rows by id: each item holds "id" and the same other columns. One statement on PostgreSQL
    (UPDATE … FROM the unnested arrays), an executemany elsewhere."""
    if not rows:
        return
    dialect = session.get_bind().dialect
    names = [name for name in rows[0] if name != "id"]
    if dialect.name != "postgresql":
        stmt = table.update().where(table.c.id == bindparam("_id")).values({n: bindparam(n) for n in names})
        session.connection().execute(stmt, [{**row, "_id": row["id"]} for row in rows])
        return
    columns = ", ".join(["id", *names])
    assignments = ", ".join(f"{name} = v.{name}" for name in names)
    sql = _unnest_sql(table, ("id", *names), dialect)
    session.connection().execute(
        text(f"UPDATE {table.name} SET {assignments} FROM ({sql}) AS v({columns}) WHERE {table.name}.id = v.id"),
        _unnest_params(table, rows, dialect),
    )


def _unnest_sql(table: Table, names: tuple[str, ...], dialect: Dialect) -> str:
    """`SELECT * FROM unnest(…)` over one array per column: one short statement whatever the row count, where
    multi-row VALUES would be too long for psycopg's query cache and a pipelined executemany costs a round of
    parameter adaptation per row. Each array comes as its text form (`_array_literal`)."""
    columns = [f"CAST(:{name} AS {table.c[name].type.compile(dialect=dialect)}[])" for name in names]
    return f"SELECT * FROM unnest({', '.join(columns)})"


def _unnest_params(table: Table, rows: list[dict[str, Any]], dialect: Dialect) -> dict[str, str]:
    params = {}
    for name in rows[0]:
        column_type = table.c[name].type
        process = _bind_processor(column_type, dialect)
        values = [process(row[name]) for row in rows] if process else [row[name] for row in rows]
        params[name] = _array_literal(values, _is_number(column_type))
    return params


def _bind_processor(column_type: Any, dialect: Dialect) -> Any:
    """The column's bind processing, except that binary values stay bytes: the driver's Binary wrapper that the
    dialect adds is for a single parameter, not for the text of an array."""
    if isinstance(column_type, TypeDecorator) and isinstance(column_type.impl_instance, LargeBinary):
        return lambda value: column_type.process_bind_param(value, dialect)
    return None if isinstance(column_type, LargeBinary) else column_type.bind_processor(dialect)


def _is_number(column_type: Any) -> bool:
    try:
        return column_type.python_type in (int, float)
    except NotImplementedError:
        return False


def _array_literal(values: list[Any], numbers: bool) -> str:
    """PostgreSQL's text form of a one-dimensional array, built with string methods: psycopg's list dumper
    runs a regex over every element (a town's 60 results with 4 KB of JSON each), and a JSON array split by
    the server was parsed twice."""
    if numbers:
        return "{" + ",".join("NULL" if v is None else str(v) for v in values) + "}"
    return "{" + ",".join("NULL" if v is None else _quoted(v) for v in values) + "}"


def _quoted(value: Any) -> str:
    if type(value) is not str:
        if isinstance(value, enum.Enum):
            value = value.value
        elif isinstance(value, bytes):  # bytea's hex form, its backslash escaped (encrypted personal data)
            return f'"\\\\x{value.hex()}"'
        value = value.isoformat() if isinstance(value, date) else str(value)
    if "\\" in value or '"' in value:
        value = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{value}"'
