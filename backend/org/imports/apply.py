"""Write a checked plan in bulk: one INSERT per table and one UPDATE per table and set of changed columns
(backend.db.insert_many / update_many), parents first, ids of new rows read back by natural key. No ORM object
per row: a county's 350,000 members are a handful of statements. The caller's transaction makes it all or
nothing."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from backend.db import any_of, insert_many, read_rows, update_many
from backend.org.imports.validate import CHUNK, Plan
from backend.org.models import Cadre, Grid, Household, Pairing, Posting, Resident, Town, Village
from backend.timeutil import now_utc


def apply_plan(session: Session, plan: Plan, county_id: int, progress: Callable[[float], None]) -> None:
    ins, upd = plan.inserts, plan.updates
    total = max(1, sum(map(len, ins.values())) + sum(map(len, upd.values())))
    done = 0

    def step(*batches: list[Any]) -> None:
        nonlocal done
        done += sum(map(len, batches))
        progress(done / total)

    now = now_utc()
    insert_many(session, Town.__table__, ins["town"])
    towns = _ids(session, select(Town.code, Town.id), Town.code, {r["town_code"] for r in ins["village"]})
    insert_many(
        session,
        Village.__table__,
        [{k: v for k, v in r.items() if k != "town_code"} | {"town_id": towns[r["town_code"]]} for r in ins["village"]],
    )
    _update(session, Village.__table__, upd["village"])
    step(ins["town"], ins["village"], upd["village"])

    codes = {r["village_code"] for r in (*ins["grid"], *ins["household"], *upd["household"], *ins["posting"])}
    codes |= {r["household"][0] for r in (*ins["resident"], *ins["pairing"])}
    villages = _ids(session, select(Village.code, Village.id), Village.code, codes)
    insert_many(
        session, Grid.__table__, [{"village_id": villages[r["village_code"]], "name": r["name"]} for r in ins["grid"]]
    )
    step(ins["grid"])

    grids = {}
    if ins["household"] or upd["household"]:
        grids = _by_village(session, Grid.name, {villages[code]: code for code in codes})
    insert_many(
        session,
        Household.__table__,
        [
            {k: v for k, v in r.items() if k not in ("village_code", "grid")}
            | {
                "village_id": villages[r["village_code"]],
                "grid_id": grids[r["village_code"], r["grid"]],
                "created_at": now,
            }
            for r in ins["household"]
        ],
    )
    _update(
        session,
        Household.__table__,
        [
            {k: v for k, v in r.items() if k not in ("village_code", "grid")}
            | ({"grid_id": grids[r["village_code"], r["grid"]]} if "grid" in r else {})
            for r in upd["household"]
        ],
    )
    step(ins["household"], upd["household"])

    wanted = {r["household"][0] for r in (*ins["resident"], *ins["pairing"])}
    households = _by_village(session, Household.number, {villages[code]: code for code in wanted}) if wanted else {}
    insert_many(
        session,
        Resident.__table__,
        [
            {k: v for k, v in r.items() if k != "household"} | {"household_id": households[r["household"]]}
            for r in ins["resident"]
        ],
    )
    _update(session, Resident.__table__, upd["resident"])
    step(ins["resident"], upd["resident"])

    insert_many(session, Cadre.__table__, [r | {"created_at": now} for r in ins["cadre"]])
    _update(session, Cadre.__table__, upd["cadre"])
    hashes = {r["cadre"] for r in (*ins["posting"], *ins["pairing"])}
    cadres = _ids(
        session,
        select(Cadre.id_number_hash, Cadre.id).where(Cadre.county_id == county_id),
        Cadre.id_number_hash,
        hashes,
    )
    insert_many(
        session,
        Posting.__table__,
        [
            {k: v for k, v in r.items() if k not in ("cadre", "village_code")}
            | {"cadre_id": cadres[r["cadre"]], "village_id": villages[r["village_code"]]}
            for r in ins["posting"]
        ],
    )
    _update(session, Posting.__table__, upd["posting"])
    step(ins["cadre"], upd["cadre"], ins["posting"], upd["posting"])

    # Ended pairings first: the new current pairing of a household replaces the old one (one current per household).
    _update(session, Pairing.__table__, upd["pairing"])
    insert_many(
        session,
        Pairing.__table__,
        [
            {
                "cadre_id": cadres[r["cadre"]],
                "household_id": households[r["household"]],
                "village_id": villages[r["household"][0]],
                "start_on": r["start_on"],
                "end_on": r["end_on"],
            }
            for r in ins["pairing"]
        ],
    )
    step(ins["pairing"], upd["pairing"])


def _by_village(session: Session, name: Any, codes: dict[int, str]) -> dict[tuple[str, str], int]:
    """(village code, name or number) → id of the grids or households of the given villages (id → code)."""
    model = name.class_
    stmt = select(model.village_id, name, model.id).where(any_of(model.village_id, "ids"))
    return {
        (codes[village_id], key): row_id for village_id, key, row_id in read_rows(session, stmt, {"ids": list(codes)})
    }


def _ids(session: Session, stmt: Any, key_column: Any, keys: Iterable[Any]) -> dict[Any, int]:
    """Natural key → id for the given keys (two-column statement: key, id)."""
    found: dict[Any, int] = {}
    keys = sorted(keys)
    for start in range(0, len(keys), CHUNK):
        for key, row_id in read_rows(
            session, stmt.where(any_of(key_column, "keys")), {"keys": keys[start : start + CHUNK]}
        ):
            found[key] = row_id
    return found


def _update(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """update_many per set of changed columns: a row whose phone alone changed re-encrypts only the phone."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[tuple(sorted(row))].append(row)
    for group in groups.values():
        update_many(session, table, group)
