"""Creating, editing and retiring towns (county admins), villages and grids (town and county admins).

Administrative codes nest: a town's 9 digits start with its county's 6, a village's 12 with its town's 9.
A town, village or grid is retired, not deleted (history keeps pointing at it), and only once nothing current
hangs on it: no village in the town, no household or posting in the village, no household in the grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from backend.audit.service import place_of_town, place_of_village
from backend.auth.models import Role, User
from backend.auth.scope import Scope, active_posting_filter, load_village
from backend.errors import Conflict, InvalidRequest, NotFound, NotInScope
from backend.org.management import (
    audit,
    clean_text,
    digits,
    require_county_admin,
    require_manager,
    retire_or_restore,
    snapshot,
)
from backend.org.models import County, Grid, Household, Posting, Town, Village
from backend.timeutil import today_local

TOWN_FIELDS = ("name", "code", "retired_on")
VILLAGE_FIELDS = ("name", "code", "center_lat", "center_lng", "fence_radius_m", "retired_on")
GRID_FIELDS = ("name", "retired_on")
MAX_FENCE_RADIUS_M = 50_000


def _code_unique(session: Session, model: type[Town] | type[Village], code: str, own_id: int | None) -> None:
    taken = session.scalar(select(model.id).where(model.code == code))
    if taken is not None and taken != own_id:
        raise InvalidRequest(f"行政区划代码 {code} 已被使用")


# --- 乡镇 ---


def load_town(session: Session, actor: User, town_id: int) -> Town:
    """A town of the actor's county (county admin) or the actor's own town (town admin)."""
    town = session.get(Town, town_id)
    if town is None:
        raise NotFound("乡镇不存在")
    if not (
        (actor.role == Role.county_admin and town.county_id == actor.county_id)
        or (actor.role == Role.town_admin and town.id == actor.town_id)
    ):
        raise NotInScope()
    return town


def create_town(session: Session, actor: User, name: str, code: str) -> Town:
    require_county_admin(actor)
    county = session.get_one(County, actor.county_id)
    name, code = clean_text(name, "乡镇名称", 40), digits(code, "乡镇代码", 9)
    if not code.startswith(county.code):
        raise InvalidRequest(f"乡镇代码应以本县代码 {county.code} 开头")
    _code_unique(session, Town, code, None)
    town = Town(county_id=county.id, name=name, code=code)
    session.add(town)
    session.flush()
    audit(session, actor, "town.create", town.id, f"新建乡镇 {name}", place_of_town(session, town.id))
    return town


def update_town(session: Session, actor: User, town_id: int, name: str, code: str) -> Town:
    require_county_admin(actor)
    town = load_town(session, actor, town_id)
    before = snapshot(town, TOWN_FIELDS)
    town.name = clean_text(name, "乡镇名称", 40)
    new_code = digits(code, "乡镇代码", 9)
    if new_code != town.code:
        if not new_code.startswith(town.county.code):
            raise InvalidRequest(f"乡镇代码应以本县代码 {town.county.code} 开头")
        if session.scalar(select(exists().where(Village.town_id == town.id))):
            raise Conflict("乡镇已有行政村，不能修改代码")
        _code_unique(session, Town, new_code, town.id)
        town.code = new_code
    session.flush()
    after = snapshot(town, TOWN_FIELDS)
    place = place_of_town(session, town.id)
    audit(session, actor, "town.update", town.id, f"修改乡镇 {town.name}", place, before, after)
    return town


def restore_town(session: Session, actor: User, town_id: int) -> Town:
    """The town only: its villages stay retired until each is restored."""
    require_county_admin(actor)
    town = load_town(session, actor, town_id)
    retire_or_restore(
        session, actor, "restore", town, TOWN_FIELDS, place_of_town(session, town.id), f"恢复乡镇 {town.name}"
    )
    return town


def retire_town(session: Session, actor: User, town_id: int) -> Town:
    require_county_admin(actor)
    town = load_town(session, actor, town_id)
    if session.scalar(select(exists().where(Village.town_id == town.id, Village.retired_on.is_(None)))):
        raise Conflict("该乡镇还有在用的行政村，请先停用这些村")
    retire_or_restore(
        session, actor, "retire", town, TOWN_FIELDS, place_of_town(session, town.id), f"停用乡镇 {town.name}"
    )
    return town


# --- 行政村 ---


@dataclass(frozen=True)
class VillageFields:
    name: str
    code: str
    center_lat: float | None
    center_lng: float | None
    fence_radius_m: int | None


def _checked(fields: VillageFields) -> VillageFields:
    lat, lng, radius = fields.center_lat, fields.center_lng, fields.fence_radius_m
    if lat is None or lng is None or not (math.isfinite(lat) and math.isfinite(lng)):
        raise InvalidRequest("请填写打卡范围中心的纬度和经度")
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise InvalidRequest("纬度应在 -90 到 90 之间，经度应在 -180 到 180 之间")
    if radius is None or not 0 < radius <= MAX_FENCE_RADIUS_M:
        raise InvalidRequest(f"打卡范围半径应为 1 到 {MAX_FENCE_RADIUS_M} 米")
    return VillageFields(clean_text(fields.name, "村名", 40), digits(fields.code, "行政区划代码", 12), lat, lng, radius)


def create_village(session: Session, actor: User, town_id: int, fields: VillageFields) -> Village:
    require_manager(actor)
    town = load_town(session, actor, town_id)
    if town.retired_on is not None:
        raise Conflict("该乡镇已停用")
    fields = _checked(fields)
    if not fields.code.startswith(town.code):
        raise InvalidRequest(f"行政区划代码应以所属乡镇代码 {town.code} 开头")
    _code_unique(session, Village, fields.code, None)
    village = Village(town_id=town.id, **fields.__dict__)
    session.add(village)
    session.flush()
    place = place_of_village(session, village.id)
    audit(session, actor, "village.create", village.id, f"新建行政村 {village.name}", place)
    return village


def update_village(session: Session, actor: User, scope: Scope, village_id: int, fields: VillageFields) -> Village:
    require_manager(actor)
    village = load_village(session, scope, village_id)
    fields = _checked(fields)
    if not fields.code.startswith(village.town.code):
        raise InvalidRequest(f"行政区划代码应以所属乡镇代码 {village.town.code} 开头")
    _code_unique(session, Village, fields.code, village.id)
    before = snapshot(village, VILLAGE_FIELDS)
    for name, value in fields.__dict__.items():
        setattr(village, name, value)
    session.flush()
    after = snapshot(village, VILLAGE_FIELDS)
    place = place_of_village(session, village.id)
    audit(session, actor, "village.update", village.id, f"修改行政村 {village.name}", place, before, after)
    return village


def retire_village(session: Session, actor: User, scope: Scope, village_id: int) -> Village:
    require_manager(actor)
    village = load_village(session, scope, village_id)
    if session.scalar(select(exists().where(Household.village_id == village.id, Household.retired_on.is_(None)))):
        raise Conflict("该村还有在册农户，请先迁出或注销")
    on_post = select(Posting.id).where(Posting.village_id == village.id, active_posting_filter(today_local()))
    if session.scalar(select(exists(on_post))):
        raise Conflict("该村还有在岗的驻村干部，请先结束其任职")
    place = place_of_village(session, village.id)
    retire_or_restore(session, actor, "retire", village, VILLAGE_FIELDS, place, f"停用行政村 {village.name}")
    return village


def restore_village(session: Session, actor: User, scope: Scope, village_id: int) -> Village:
    require_manager(actor)
    village = load_village(session, scope, village_id)
    if village.town.retired_on is not None:
        raise Conflict("所属乡镇已停用，请先恢复乡镇")
    place = place_of_village(session, village.id)
    retire_or_restore(session, actor, "restore", village, VILLAGE_FIELDS, place, f"恢复行政村 {village.name}")
    return village


# --- 网格 ---


def load_grid(session: Session, scope: Scope, grid_id: int) -> Grid:
    grid = session.get(Grid, grid_id)
    if grid is None:
        raise NotFound("网格不存在")
    if not scope.covers_village(grid.village_id):
        raise NotInScope()
    return grid


def _name_free(session: Session, village_id: int, name: str, own_id: int | None) -> None:
    taken = session.scalar(select(Grid.id).where(Grid.village_id == village_id, Grid.name == name))
    if taken is not None and taken != own_id:
        raise InvalidRequest(f"本村已有名为“{name}”的网格")


def create_grid(session: Session, actor: User, scope: Scope, village_id: int, name: str) -> Grid:
    require_manager(actor)
    village = load_village(session, scope, village_id)
    if village.retired_on is not None:
        raise Conflict("该村已停用")
    name = clean_text(name, "网格名称", 40)
    _name_free(session, village.id, name, None)
    grid = Grid(village_id=village.id, name=name)
    session.add(grid)
    session.flush()
    place = place_of_village(session, village.id)
    audit(session, actor, "grid.create", grid.id, f"新建网格 {village.name} {name}", place)
    return grid


def rename_grid(session: Session, actor: User, scope: Scope, grid_id: int, name: str) -> Grid:
    require_manager(actor)
    grid = load_grid(session, scope, grid_id)
    name = clean_text(name, "网格名称", 40)
    _name_free(session, grid.village_id, name, grid.id)
    before = snapshot(grid, GRID_FIELDS)
    grid.name = name
    session.flush()
    place = place_of_village(session, grid.village_id)
    audit(session, actor, "grid.update", grid.id, f"修改网格 {name}", place, before, snapshot(grid, GRID_FIELDS))
    return grid


def retire_grid(session: Session, actor: User, scope: Scope, grid_id: int) -> Grid:
    """Retire an empty grid; its 网格员 postings end today."""
    require_manager(actor)
    grid = load_grid(session, scope, grid_id)
    if session.scalar(select(exists().where(Household.grid_id == grid.id, Household.retired_on.is_(None)))):
        raise Conflict("该网格还有在册农户，请先把农户调到其他网格")
    today = today_local()
    for posting in session.scalars(select(Posting).where(Posting.grid_id == grid.id, active_posting_filter(today))):
        posting.end_on = today
    place = place_of_village(session, grid.village_id)
    retire_or_restore(session, actor, "retire", grid, GRID_FIELDS, place, f"停用网格 {grid.name}")
    return grid


def restore_grid(session: Session, actor: User, scope: Scope, grid_id: int) -> Grid:
    """The grid only: its 网格员 postings that retiring ended stay ended."""
    require_manager(actor)
    grid = load_grid(session, scope, grid_id)
    if grid.village.retired_on is not None:
        raise Conflict("所属行政村已停用，请先恢复该村")
    place = place_of_village(session, grid.village_id)
    retire_or_restore(session, actor, "restore", grid, GRID_FIELDS, place, f"恢复网格 {grid.name}")
    return grid
