"""`flask seed-demo`: a realistic, deterministic demo county that is created once and never twice."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.auth.models import ADMIN_ROLES, Role, User
from backend.auth.passwords import verify_password
from backend.crypto import lookup_hash
from backend.db import db
from backend.demo.county import ACCOUNTS_FILE, DemoSummary, seed_demo_county
from backend.demo.org import DEMO_COUNTY_CODE, DEMO_PASSWORD, REFERENCE_YEAR
from backend.org.identity import normalize_id_number, normalize_phone
from backend.org.models import Cadre, County, Grid, Household, Pairing, Post, Posting, Resident, Town, Village
from backend.transaction import unit_of_work
from tests.conftest import wipe

TABLES = (County, Town, Village, Grid, Household, Resident, Cadre, Posting, Pairing, User)


def _seed(app: Flask, session: Session) -> DemoSummary:
    with unit_of_work(session):
        return seed_demo_county(session, app.instance_path)


def _counts(session: Session) -> dict[str, int]:
    return {t.__name__: session.scalar(select(func.count()).select_from(t)) or 0 for t in TABLES}


def _accounts_file(app: Flask) -> Path:
    return Path(app.instance_path) / ACCOUNTS_FILE


def _snapshot(session: Session) -> list[tuple[Any, ...]]:
    """Everything a person would recognise in the demo, without database ids or ciphertexts."""
    households = session.scalars(select(Household).join(Village).order_by(Village.code, Household.number)).all()
    residents: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for r in session.scalars(select(Resident).order_by(Resident.id)):
        residents[r.household_id].append((r.relation, r.name, r.gender, r.birth_year, r.phone, r.id_number))
    return [
        (h.village.code, h.grid.name, h.number, h.address, h.is_poor, h.is_monitored, tuple(residents[h.id]))
        for h in households
    ]


def test_seed_builds_a_realistic_county_once(app: Flask, session: Session, demo_county: DemoSummary) -> None:
    summary = demo_county
    assert not summary.already_present

    counts = _counts(session)
    assert (counts["County"], counts["Town"], counts["Village"], counts["Grid"]) == (1, 3, 12, 48)
    assert 1700 <= counts["Household"] <= 1900
    assert 50 <= counts["Cadre"] <= 80
    assert summary.households == counts["Household"] and summary.users == counts["User"]

    county = session.scalar(select(County).where(County.code == DEMO_COUNTY_CODE))
    assert county is not None
    for town in county.towns:
        assert len(town.code) == 9 and town.code.startswith(county.code)
        for village in town.villages:
            assert len(village.code) == 12 and village.code.startswith(town.code)
            assert 32.5 < village.center_lat < 33.8 and 106.5 < village.center_lng < 108.0
            assert 1000 <= village.fence_radius_m <= 2000
            assert len(village.grids) == 4

    households = session.scalars(select(Household)).all()
    per_grid = Counter(h.grid_id for h in households)
    assert all(30 <= n <= 50 for n in per_grid.values()), per_grid
    grid_village = dict(session.execute(select(Grid.id, Grid.village_id)).all())
    assert all(grid_village[h.grid_id] == h.village_id for h in households)
    poor = sum(h.is_poor for h in households) / len(households)
    monitored = sum(h.is_monitored for h in households) / len(households)
    assert 0.08 < poor < 0.16 and 0.01 < monitored < 0.06
    for flag in ("is_low_income", "is_relocated", "has_disabled", "has_serious_illness"):
        assert 0 < sum(getattr(h, flag) for h in households) < len(households) * 0.15, flag

    # 每户一名帮扶责任人: exactly one current helper per poor/monitored household, posted in its village.
    current_posts = {
        (p.cadre_id, p.village_id, p.post) for p in session.scalars(select(Posting).where(Posting.end_on.is_(None)))
    }
    posted_in = {(cadre_id, village_id) for cadre_id, village_id, _ in current_posts}
    pairings = session.scalars(select(Pairing).where(Pairing.end_on.is_(None))).all()
    by_household: dict[int, list[Pairing]] = defaultdict(list)
    for pairing in pairings:
        by_household[pairing.household_id].append(pairing)
    for h in households:
        current = by_household.get(h.id, [])
        if h.is_poor or h.is_monitored:
            assert len(current) == 1, h.number
            assert (current[0].cadre_id, h.village_id) in posted_in
            assert (current[0].cadre_id, h.village_id, Post.helper) in current_posts
        else:
            assert current == []
    load = Counter(p.cadre_id for p in pairings)
    assert all(5 <= n <= 15 for n in load.values()), load
    for village in session.scalars(select(Village)):
        posts = Counter(post for _, v, post in current_posts if v == village.id)
        assert posts[Post.first_secretary] == posts[Post.team_leader] == posts[Post.town_cadre] == 1
        assert 1 <= posts[Post.team_member] <= 2 and posts[Post.grid_worker] == 1

    # Decrypted personal data passes the same validation as real input.
    residents = session.scalars(select(Resident)).all()
    assert len(residents) == summary.residents
    sizes = Counter(r.household_id for r in residents)
    assert len(sizes) == len(households) and set(sizes.values()) <= set(range(1, 7))
    heads = Counter(r.household_id for r in residents if r.is_head)
    assert set(heads.values()) == {1} and len(heads) == len(households)
    for person in [*residents, *session.scalars(select(Cadre))]:
        assert person.id_number and normalize_id_number(person.id_number) == person.id_number
        assert person.id_number_hash == lookup_hash(person.id_number)
        if person.phone is not None:
            assert normalize_phone(person.phone) == person.phone
    assert all(r.phone is None for r in residents if REFERENCE_YEAR - (r.birth_year or 0) < 18)
    adults = [r for r in residents if REFERENCE_YEAR - (r.birth_year or 0) >= 18]
    assert sum(r.phone is not None for r in adults) > 0.8 * len(adults)

    # The accounts file lists every login with its role; admins share one (hashed once) password.
    data = json.loads(_accounts_file(app).read_text(encoding="utf-8"))
    users = session.scalars(select(User)).all()
    assert {a["username"]: a["role"] for a in data["accounts"]} == {u.username: u.role.value for u in users}
    assert len(data["accounts"]) == len(users)
    roles = Counter(u.role for u in users)
    assert roles[Role.county_admin] == 1 and roles[Role.town_admin] == 3 and roles[Role.reviewer] == 12
    assert roles[Role.cadre] == counts["Cadre"] and roles[Role.villager] == 24
    admins = [u for u in users if u.role in ADMIN_ROLES]
    assert len({u.password_hash for u in admins}) == 1
    assert verify_password(admins[0].password_hash, DEMO_PASSWORD)
    assert all(a["password"] == DEMO_PASSWORD for a in data["accounts"] if Role(a["role"]) in ADMIN_ROLES)
    by_username = {u.username: u for u in users}
    for account in data["accounts"]:
        assert account["scope"].startswith("秦岭县")
        user = by_username[account["username"]]
        if user.role == Role.villager:
            assert user.household_id is not None and account["household_id"] == user.household_id
            assert user.display_name.startswith("村民(") and "password" not in account
        if user.role == Role.cadre:
            assert user.cadre_id is not None and "password" not in account and user.password_hash is None

    # Binding codes: 2 unbound households per village, only the keyed hash stored.
    bound = {u.household_id for u in users if u.household_id}
    codes = data["binding_codes"]
    assert len(codes) == 24 and len({c["code"] for c in codes}) == 24
    households_by_id = {h.id: h for h in households}
    for entry in codes:
        household = households_by_id[entry["household_id"]]
        assert household.binding_code_hash == lookup_hash(entry["code"]) and household.binding_code_issued_at
        assert household.id not in bound and household.number == entry["household_number"]

    # A second run (make run calls it on every start) changes nothing, not even the file.
    before, file_before = _counts(session), _accounts_file(app).read_bytes()
    again = _seed(app, session)
    assert again.already_present and again.households == 0
    assert _counts(session) == before
    assert _accounts_file(app).read_bytes() == file_before


def test_seed_is_deterministic_and_runs_from_the_cli(app: Flask, demo_county: DemoSummary) -> None:
    def codes() -> list[tuple[str, str, str]]:
        listed = json.loads(_accounts_file(app).read_text(encoding="utf-8"))["binding_codes"]
        return [(c["village"], c["household_number"], c["code"]) for c in listed]

    # The run's one seeding (the demo_county fixture's), then a second from scratch through the CLI.
    with app.app_context():
        first = _snapshot(db.session)
    first_codes = codes()
    wipe(app)

    runner = app.test_cli_runner()
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "seeded 秦岭县" in result.output

    with app.app_context():
        second = _snapshot(db.session)
        counts = _counts(db.session)
    assert len(first) == len(second) and first == second
    assert first_codes == codes()

    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "already there" in result.output
    with app.app_context():
        assert _counts(db.session) == counts
