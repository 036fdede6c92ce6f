"""Cadres (驻村干部), their postings and their helper ↔ household pairings (包联户).

A town admin manages the cadres posted (now or before) in its town, and only the postings and pairings of its
villages; a county admin, every cadre of the county. Retiring a cadre (leaving the programme) is the county's:
their current postings and pairings end today and their account is disabled at once.
A household has at most one current helper: starting a new pairing ends the current one the day before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from backend.audit.service import Place, place_of_village
from backend.auth.accounts import disable_account
from backend.auth.models import Role, User
from backend.auth.scope import Scope, load_household, load_village
from backend.crypto import mask_name
from backend.errors import Conflict, InvalidRequest, NotFound, NotInScope
from backend.org.households import end_current_pairing
from backend.org.identity import normalize_phone, optional_id_number
from backend.org.management import (
    audit,
    clean_text,
    require_county_admin,
    require_manager,
    retire_or_restore,
    snapshot,
)
from backend.org.models import POST_LABELS, Cadre, Household, Pairing, Post, Posting
from backend.org.regions import load_grid
from backend.timeutil import today_local

CADRE_FIELDS = ("name", "phone", "id_number", "work_unit", "retired_on")
PERSONAL = frozenset({"name", "phone", "id_number"})
POSTING_FIELDS = ("village_id", "post", "grid_id", "start_on", "end_on")
PAIRING_FIELDS = ("cadre_id", "household_id", "start_on", "end_on")


@dataclass(frozen=True)
class CadreFields:
    """A cadre's fields; for the personal ones (shown masked, so never sent back), None keeps the value."""

    name: str | None
    phone: str | None
    id_number: str | None
    work_unit: str


@dataclass(frozen=True)
class PostingFields:
    village_id: int
    post: str
    grid_id: int | None
    start_on: date | None
    end_on: date | None


def load_cadre(session: Session, actor: User, scope: Scope, cadre_id: int) -> Cadre:
    cadre = session.get(Cadre, cadre_id)
    if cadre is None:
        raise NotFound("驻村干部不存在")
    if actor.role == Role.county_admin and cadre.county_id == actor.county_id:
        return cadre
    if not any(scope.covers_village(posting.village_id) for posting in cadre.postings):
        raise NotInScope()
    return cadre


def _place(session: Session, actor: User, scope: Scope, cadre: Cadre) -> Place:
    """Where a change to the person is logged: the county for a county admin, else a village of the actor's."""
    if actor.role != Role.county_admin:
        for posting in cadre.postings:
            if scope.covers_village(posting.village_id):
                return place_of_village(session, posting.village_id)
    return Place(county_id=cadre.county_id)


def _apply(cadre: Cadre, fields: CadreFields) -> None:
    if fields.name is not None or cadre.name is None:
        cadre.name = clean_text(fields.name, "姓名", 20)
    if fields.phone is not None or cadre.phone is None:
        phone = (fields.phone or "").strip()
        if not phone:
            raise InvalidRequest("请填写手机号码")
        phone = normalize_phone(phone)
        if phone != cadre.phone:
            cadre.phone = phone
    if fields.id_number is not None:
        id_number = optional_id_number(fields.id_number)
        if id_number != cadre.id_number:
            cadre.id_number = id_number
    cadre.work_unit = clean_text(fields.work_unit, "派出单位", 60)


def _unique_person(session: Session, cadre: Cadre) -> None:
    """One cadre record per phone (their login is found by it) and per ID number."""
    same = [Cadre.phone_hash == cadre.phone_hash]
    if cadre.id_number_hash is not None:
        same.append(Cadre.id_number_hash == cadre.id_number_hash)
    for condition in same:
        other = exists().where(condition, Cadre.id != (cadre.id or 0), Cadre.retired_on.is_(None))
        if session.scalar(select(other)):
            raise InvalidRequest("已有使用该手机号或身份证号的驻村干部")


def create_cadre(session: Session, actor: User, scope: Scope, fields: CadreFields, first: PostingFields) -> Cadre:
    """A cadre is registered with a first posting, so they belong to a village from the start."""
    require_manager(actor)
    village = load_village(session, scope, first.village_id)
    cadre = Cadre(county_id=village.town.county_id)
    _apply(cadre, fields)
    _unique_person(session, cadre)
    session.add(cadre)
    session.flush()
    place = place_of_village(session, village.id)
    audit(session, actor, "cadre.create", cadre.id, f"新建驻村干部 {mask_name(cadre.name)}", place)
    _post(session, actor, scope, cadre, first)
    return cadre


def update_cadre(session: Session, actor: User, scope: Scope, cadre_id: int, fields: CadreFields) -> Cadre:
    require_manager(actor)
    cadre = load_cadre(session, actor, scope, cadre_id)
    before = snapshot(cadre, CADRE_FIELDS)
    _apply(cadre, fields)
    _unique_person(session, cadre)
    session.flush()
    after = snapshot(cadre, CADRE_FIELDS)
    place = _place(session, actor, scope, cadre)
    summary = f"修改驻村干部 {mask_name(cadre.name)}"
    audit(session, actor, "cadre.update", cadre.id, summary, place, before, after, PERSONAL)
    return cadre


def retire_cadre(session: Session, actor: User, scope: Scope, cadre_id: int) -> Cadre:
    require_county_admin(actor)
    cadre = load_cadre(session, actor, scope, cadre_id)
    today = today_local()
    for posting in cadre.postings:
        if posting.end_on is None or posting.end_on > today:
            posting.end_on = max(posting.start_on, today)
    for pairing in session.scalars(select(Pairing).where(Pairing.cadre_id == cadre.id, Pairing.end_on.is_(None))):
        pairing.end_on = max(pairing.start_on, today)
    account = session.scalar(select(User).where(User.cadre_id == cadre.id))
    if account is not None and account.is_active:
        disable_account(session, account)
    place = Place(county_id=cadre.county_id)
    retire_or_restore(session, actor, "retire", cadre, CADRE_FIELDS, place, f"停用驻村干部 {mask_name(cadre.name)}")
    return cadre


def restore_cadre(session: Session, actor: User, scope: Scope, cadre_id: int) -> Cadre:
    """A cadre retired by mistake (or back for another term) returns without postings, pairings or login: each is
    given again by hand (a new posting, pairings, an invitation), as for a new cadre. Refused while another current
    cadre has the same phone or ID number."""
    require_county_admin(actor)
    cadre = load_cadre(session, actor, scope, cadre_id)
    _unique_person(session, cadre)
    summary = f"恢复驻村干部 {mask_name(cadre.name)}（任职、结对和登录需重新设置）"
    retire_or_restore(
        session, actor, "restore", cadre, CADRE_FIELDS, Place(county_id=cadre.county_id), summary, PERSONAL
    )
    return cadre


# --- 任职 ---


def add_posting(session: Session, actor: User, scope: Scope, cadre_id: int, fields: PostingFields) -> Posting:
    require_manager(actor)
    cadre = load_cadre(session, actor, scope, cadre_id)
    if cadre.retired_on is not None:
        raise Conflict("该驻村干部已停用")
    return _post(session, actor, scope, cadre, fields)


def _post(session: Session, actor: User, scope: Scope, cadre: Cadre, fields: PostingFields) -> Posting:
    village = load_village(session, scope, fields.village_id)
    if village.retired_on is not None:
        raise Conflict("该村已停用")
    if fields.post not in Post.__members__:
        raise InvalidRequest("请选择岗位")
    post = Post(fields.post)
    grid_id = None
    if post == Post.grid_worker:
        if fields.grid_id is None:
            raise InvalidRequest("网格员请选择负责的网格")
        grid = load_grid(session, scope, fields.grid_id)
        if grid.village_id != village.id or grid.retired_on is not None:
            raise InvalidRequest("网格不属于该村或已停用")
        grid_id = grid.id
    start_on = fields.start_on or today_local()
    if fields.end_on is not None and fields.end_on < start_on:
        raise InvalidRequest("结束日期不能早于开始日期")
    posting = Posting(
        cadre_id=cadre.id, village_id=village.id, post=post, grid_id=grid_id, start_on=start_on, end_on=fields.end_on
    )
    session.add(posting)
    session.flush()
    summary = f"{mask_name(cadre.name)} 任 {village.name} {POST_LABELS[post]}"
    after = snapshot(posting, POSTING_FIELDS)
    audit(session, actor, "posting.create", posting.id, summary, place_of_village(session, village.id), {}, after)
    return posting


def end_posting(session: Session, actor: User, scope: Scope, posting_id: int, end_on: date | None) -> Posting:
    require_manager(actor)
    posting = session.get(Posting, posting_id)
    if posting is None:
        raise NotFound("任职记录不存在")
    if not scope.covers_village(posting.village_id):
        raise NotInScope()
    end_on = end_on or today_local()
    if end_on < posting.start_on:
        raise InvalidRequest("结束日期不能早于开始日期")
    before = snapshot(posting, POSTING_FIELDS)
    posting.end_on = end_on
    session.flush()
    summary = f"{mask_name(posting.cadre.name)} 结束 {posting.village.name} {POST_LABELS[posting.post]} 任职"
    place = place_of_village(session, posting.village_id)
    audit(session, actor, "posting.update", posting.id, summary, place, before, snapshot(posting, POSTING_FIELDS))
    return posting


# --- 结对帮扶 ---


def start_pairing(
    session: Session, actor: User, scope: Scope, household_id: int, cadre_id: int, start_on: date | None
) -> Pairing:
    """The cadre becomes the household's helper from `start_on`; a current helper hands over the day before."""
    require_manager(actor)
    household = load_household(session, scope, household_id)
    if household.retired_on is not None:
        raise Conflict("该户已注销")
    cadre = load_cadre(session, actor, scope, cadre_id)
    if cadre.retired_on is not None:
        raise Conflict("该驻村干部已停用")
    start_on = start_on or today_local()
    current = session.scalar(select(Pairing).where(Pairing.household_id == household.id, Pairing.end_on.is_(None)))
    if current is not None:
        if current.cadre_id == cadre.id:
            raise InvalidRequest("该干部已是这户的帮扶责任人")
        if start_on < current.start_on:
            raise InvalidRequest("新结对的开始日期不能早于现结对的开始日期")
        _end(session, actor, household, current, start_on - timedelta(days=1))
    pairing = Pairing(cadre_id=cadre.id, household_id=household.id, village_id=household.village_id, start_on=start_on)
    session.add(pairing)
    session.flush()
    summary = f"{household.village.name} {household.number} 号户结对 {mask_name(cadre.name)}"
    place = place_of_village(session, household.village_id)
    audit(session, actor, "pairing.create", pairing.id, summary, place, {}, snapshot(pairing, PAIRING_FIELDS))
    return pairing


def end_pairing(session: Session, actor: User, scope: Scope, household_id: int, end_on: date | None) -> Pairing:
    require_manager(actor)
    household = load_household(session, scope, household_id)
    current = session.scalar(select(Pairing).where(Pairing.household_id == household.id, Pairing.end_on.is_(None)))
    if current is None:
        raise Conflict("该户当前没有帮扶责任人")
    end_on = end_on or today_local()
    if end_on < current.start_on:
        raise InvalidRequest("结束日期不能早于结对开始日期")
    return _end(session, actor, household, current, end_on)


def _end(session: Session, actor: User, household: Household, pairing: Pairing, on: date) -> Pairing:
    before = snapshot(pairing, PAIRING_FIELDS)
    end_current_pairing(session, household.id, on)
    summary = f"{household.village.name} {household.number} 号户结束与 {mask_name(pairing.cadre.name)} 的结对"
    place = place_of_village(session, household.village_id)
    audit(session, actor, "pairing.update", pairing.id, summary, place, before, snapshot(pairing, PAIRING_FIELDS))
    return pairing
