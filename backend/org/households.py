"""Households (农户) and their members: register, edit, move to another grid or village, retire; members join,
leave and change head. A household always has exactly one head (户主) among its current members.

Moving a household takes what must follow it: its current pairing's copy of the village here, and the copies
domains above org keep (the points account) through MOVE_HOOKS, which they fill at import. A hook may refuse a
move too (an open claim or redemption in the old village, which that village's reviewers must finish first).
History stays where it happened: ledger entries, visits and ended pairings keep the village they were in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.audit.service import place_of_village
from backend.auth.models import User
from backend.auth.scope import Scope, load_household
from backend.errors import Conflict, InvalidRequest, NotFound, NotInScope
from backend.org.identity import normalize_phone, optional_id_number
from backend.org.management import audit, clean_text, require_manager, retire_or_restore, snapshot
from backend.org.models import GENDERS, RELATIONS, Grid, Household, Pairing, Resident
from backend.org.regions import load_grid
from backend.timeutil import today_local

HEAD = "户主"
FLAG_FIELDS = ("is_poor", "is_monitored", "is_low_income", "is_relocated", "has_disabled", "has_serious_illness")
HOUSEHOLD_FIELDS = ("number", "address", *FLAG_FIELDS, "village_id", "grid_id", "retired_on")
MEMBER_FIELDS = ("name", "relation", "is_head", "gender", "birth_year", "phone", "id_number", "left_on")
PERSONAL = frozenset({"name", "phone", "id_number"})
OLDEST_BIRTH_YEAR = 1900

# (session, household, new village id): refuse the move by raising, or move the domain's own copies.
MoveHook = Callable[[Session, Household, int], None]
MOVE_HOOKS: list[MoveHook] = []


def on_household_move(hook: MoveHook) -> MoveHook:
    """Register a domain's part of a household move (a decorator, applied when its module is imported)."""
    MOVE_HOOKS.append(hook)
    return hook


@dataclass(frozen=True)
class HouseholdFields:
    number: str
    address: str
    flags: frozenset[str]  # the FLAG_FIELDS that are set


@dataclass(frozen=True)
class MemberFields:
    """A member's fields; for the personal ones (shown masked, so never sent back), None keeps the value."""

    name: str | None
    relation: str
    gender: str
    birth_year: int | None
    phone: str | None
    id_number: str | None


def _label(household: Household) -> str:
    return f"{household.village.name} {household.number} 号户"


def _current(session: Session, scope: Scope, household_id: int) -> Household:
    household = load_household(session, scope, household_id)
    if household.retired_on is not None:
        raise Conflict("该户已注销")
    return household


def _apply(session: Session, household: Household, village_id: int, fields: HouseholdFields) -> None:
    """Checks the fields (the 户号 free in the village) before the first is set: a query would flush it."""
    number = clean_text(fields.number, "户号", 20)
    _number_free(session, village_id, number, household.id)
    household.number = number
    household.address = clean_text(fields.address, "住址", 120)
    unknown = fields.flags - set(FLAG_FIELDS)
    if unknown:
        raise InvalidRequest("户类型无效")
    for flag in FLAG_FIELDS:
        setattr(household, flag, flag in fields.flags)


def _number_free(session: Session, village_id: int, number: str, own_id: int | None) -> None:
    taken = session.scalar(select(Household.id).where(Household.village_id == village_id, Household.number == number))
    if taken is not None and taken != own_id:
        raise InvalidRequest(f"本村已有户号 {number}")


def _open_grid(session: Session, scope: Scope, grid_id: int) -> Grid:
    grid = load_grid(session, scope, grid_id)
    if grid.retired_on is not None or grid.village.retired_on is not None:
        raise Conflict("该网格或行政村已停用")
    return grid


def create_household(
    session: Session, actor: User, scope: Scope, grid_id: int, fields: HouseholdFields, head: MemberFields
) -> Household:
    """A household is registered with its head, so it never exists without one."""
    require_manager(actor)
    grid = _open_grid(session, scope, grid_id)
    household = Household(village_id=grid.village_id, grid_id=grid.id)
    _apply(session, household, grid.village_id, fields)
    session.add(household)
    session.flush()
    resident = Resident(household_id=household.id, is_head=True)
    _apply_member(session, resident, MemberFields(**{**head.__dict__, "relation": HEAD}))
    session.add(resident)
    session.flush()
    place = place_of_village(session, household.village_id)
    audit(session, actor, "household.create", household.id, f"新建农户 {_label(household)}", place)
    return household


def update_household(
    session: Session, actor: User, scope: Scope, household_id: int, fields: HouseholdFields
) -> Household:
    require_manager(actor)
    household = _current(session, scope, household_id)
    before = snapshot(household, HOUSEHOLD_FIELDS)
    _apply(session, household, household.village_id, fields)
    session.flush()
    after = snapshot(household, HOUSEHOLD_FIELDS)
    place = place_of_village(session, household.village_id)
    audit(session, actor, "household.update", household.id, f"修改农户 {_label(household)}", place, before, after)
    return household


def move_household(session: Session, actor: User, scope: Scope, household_id: int, grid_id: int) -> Household:
    """To another grid of its village, or of another village in the actor's scope (the 户号 must be free there)."""
    require_manager(actor)
    household = _current(session, scope, household_id)
    grid = _open_grid(session, scope, grid_id)
    if grid.id == household.grid_id:
        raise InvalidRequest("该户已在这个网格")
    before = snapshot(household, HOUSEHOLD_FIELDS)
    old_place = place_of_village(session, household.village_id)
    if grid.village_id != household.village_id:
        _number_free(session, grid.village_id, household.number, household.id)
        for hook in MOVE_HOOKS:
            hook(session, household, grid.village_id)
        current = select(Pairing).where(Pairing.household_id == household.id, Pairing.end_on.is_(None))
        for pairing in session.scalars(current):
            pairing.village_id = grid.village_id
    household.village_id, household.grid_id = grid.village_id, grid.id
    session.flush()
    session.refresh(household, ["village", "grid"])
    after = snapshot(household, HOUSEHOLD_FIELDS)
    summary = f"迁移农户 {household.number} 号户到 {household.village.name} {household.grid.name}"
    new_place = place_of_village(session, grid.village_id)
    audit(session, actor, "household.move", household.id, summary, new_place, before, after)
    if old_place != new_place:  # the old village's log shows the household leaving too
        audit(session, actor, "household.move", household.id, summary, old_place, before, after)
    return household


def retire_household(session: Session, actor: User, scope: Scope, household_id: int) -> Household:
    """户销户: the household leaves lists and choices; its current pairing ends today."""
    require_manager(actor)
    household = _current(session, scope, household_id)
    end_current_pairing(session, household.id, today_local())
    place = place_of_village(session, household.village_id)
    retire_or_restore(session, actor, "retire", household, HOUSEHOLD_FIELDS, place, f"注销农户 {_label(household)}")
    return household


def restore_household(session: Session, actor: User, scope: Scope, household_id: int) -> Household:
    """A household retired by mistake returns to its grid, with the members it had; its pairing, ended by the
    retirement, is set up again by hand (the household shows on 未结对户 meanwhile)."""
    require_manager(actor)
    household = load_household(session, scope, household_id)
    if household.grid.retired_on is not None or household.village.retired_on is not None:
        raise Conflict("该户所在的网格或行政村已停用，请先恢复")
    place = place_of_village(session, household.village_id)
    retire_or_restore(session, actor, "restore", household, HOUSEHOLD_FIELDS, place, f"恢复农户 {_label(household)}")
    return household


def end_current_pairing(session: Session, household_id: int, on: date) -> Pairing | None:
    """End the household's open pairing on `on` (or on its first day, if it starts later)."""
    pairing = session.scalar(select(Pairing).where(Pairing.household_id == household_id, Pairing.end_on.is_(None)))
    if pairing is not None:
        pairing.end_on = max(pairing.start_on, on)
        session.flush()
    return pairing


# --- 家庭成员 ---


def _apply_member(session: Session, resident: Resident, fields: MemberFields) -> None:
    if fields.name is not None or resident.name is None:
        resident.name = clean_text(fields.name, "姓名", 20)
    if fields.relation not in RELATIONS:
        raise InvalidRequest("与户主关系无效")
    resident.relation = fields.relation
    if fields.gender not in GENDERS:
        raise InvalidRequest("请选择性别")
    resident.gender = fields.gender
    year = fields.birth_year
    if year is not None and not OLDEST_BIRTH_YEAR <= year <= today_local().year:
        raise InvalidRequest(f"出生年份应在 {OLDEST_BIRTH_YEAR} 到 {today_local().year} 之间")
    resident.birth_year = year
    if fields.phone is not None:
        phone = fields.phone.strip()
        new_phone = normalize_phone(phone) if phone else None
        if new_phone != resident.phone:
            resident.phone = new_phone
    if fields.id_number is not None:
        id_number = optional_id_number(fields.id_number)
        if id_number != resident.id_number:
            resident.id_number = id_number
            if id_number is not None:
                _not_elsewhere(session, resident)


def _not_elsewhere(session: Session, resident: Resident) -> None:
    """One person is a current member of one household: a second registration must leave the first."""
    other = session.scalar(
        select(Household)
        .join(Resident, Resident.household_id == Household.id)
        .where(
            Resident.id_number_hash == resident.id_number_hash,
            Resident.left_on.is_(None),
            Household.retired_on.is_(None),
            Resident.id != (resident.id or 0),
        )
        .limit(1)
    )
    if other is not None:
        raise InvalidRequest(f"该身份证号已登记在 {_label(other)}，请先办理迁出")


def load_member(session: Session, scope: Scope, resident_id: int) -> Resident:
    resident = session.get(Resident, resident_id)
    if resident is None:
        raise NotFound("家庭成员不存在")
    household = resident.household
    if not scope.covers_household(household.id, household.village_id):
        raise NotInScope()
    if resident.left_on is not None:
        raise Conflict("该成员已迁出")
    if household.retired_on is not None:
        raise Conflict("该户已注销")
    return resident


def _audit_member(
    session: Session, actor: User, action: str, resident: Resident, summary: str, before: dict | None = None
) -> None:
    place = place_of_village(session, resident.household.village_id)
    after = snapshot(resident, MEMBER_FIELDS)
    audit(session, actor, action, resident.id, summary, place, before, after, PERSONAL)


def add_member(session: Session, actor: User, scope: Scope, household_id: int, fields: MemberFields) -> Resident:
    """A member joins (出生、婚入、迁入); the head is changed with set_head, not added."""
    require_manager(actor)
    household = _current(session, scope, household_id)
    if fields.relation == HEAD:
        raise InvalidRequest("每户只有一位户主：请先添加成员，再设为户主")
    resident = Resident(household_id=household.id, is_head=False)
    _apply_member(session, resident, fields)
    session.add(resident)
    session.flush()
    _audit_member(session, actor, "resident.create", resident, f"{_label(household)} 新增家庭成员", {})
    return resident


def update_member(session: Session, actor: User, scope: Scope, resident_id: int, fields: MemberFields) -> Resident:
    require_manager(actor)
    resident = load_member(session, scope, resident_id)
    if (fields.relation == HEAD) != resident.is_head:
        raise InvalidRequest("户主请用“设为户主”更换" if fields.relation == HEAD else "户主的关系只能是户主")
    before = snapshot(resident, MEMBER_FIELDS)
    _apply_member(session, resident, fields)
    session.flush()
    _audit_member(session, actor, "resident.update", resident, f"修改 {_label(resident.household)} 的家庭成员", before)
    return resident


def member_leaves(session: Session, actor: User, scope: Scope, resident_id: int) -> Resident:
    """迁出/死亡注销 from today. The head must hand over first, so the last member (the head) never leaves:
    a household that empties is retired instead."""
    require_manager(actor)
    resident = load_member(session, scope, resident_id)
    if resident.is_head:
        raise Conflict("户主迁出前，请先把另一位成员设为户主")
    before = snapshot(resident, MEMBER_FIELDS)
    resident.left_on = today_local()
    session.flush()
    _audit_member(session, actor, "resident.leave", resident, f"{_label(resident.household)} 家庭成员迁出", before)
    return resident


def set_head(session: Session, actor: User, scope: Scope, resident_id: int, old_head_relation: str) -> Resident:
    """Make a member the head; the old head stays a member with the relation given."""
    require_manager(actor)
    resident = load_member(session, scope, resident_id)
    if resident.is_head:
        raise InvalidRequest("该成员已是户主")
    if old_head_relation not in RELATIONS or old_head_relation == HEAD:
        raise InvalidRequest("请选择原户主与新户主的关系")
    old_head = session.scalar(
        select(Resident).where(Resident.household_id == resident.household_id, Resident.is_head.is_(True))
    )
    before = snapshot(resident, MEMBER_FIELDS)
    if old_head is not None:
        old_before = snapshot(old_head, MEMBER_FIELDS)
        old_head.is_head, old_head.relation = False, old_head_relation
        session.flush()  # the one-head index sees the old head step down first
        _audit_member(session, actor, "resident.update", old_head, f"{_label(resident.household)} 更换户主", old_before)
    resident.is_head, resident.relation = True, HEAD
    session.flush()
    _audit_member(session, actor, "resident.update", resident, f"{_label(resident.household)} 更换户主", before)
    return resident
