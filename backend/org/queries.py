"""Reading the region tree and households within a user's scope.

Every query here starts from backend.auth.scope (filter_villages / filter_households /
load_household), so no list or detail can reach outside the caller's subtree. The admin
read models below carry personal data already masked: a template cannot leak what it never gets.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, selectinload

from backend.auth.models import Role, User
from backend.auth.scope import (
    Scope,
    active_posting_filter,
    filter_households,
    filter_villages,
    load_household,
    load_village,
    posted_cadre_ids,
)
from backend.crypto import lookup_hash, mask_id_number, mask_name, mask_phone
from backend.org.cadres import load_cadre
from backend.org.models import (
    POST_LABELS,
    Cadre,
    County,
    Grid,
    Household,
    Pairing,
    Posting,
    Resident,
    Town,
    Village,
)
from backend.pagination import PER_PAGE, Page, page_bounds
from backend.timeutil import today_local

HOUSEHOLD_FLAGS = {
    "poor": (Household.is_poor, "脱贫户"),
    "monitored": (Household.is_monitored, "监测户"),
    "low_income": (Household.is_low_income, "低保户"),
    "relocated": (Household.is_relocated, "易地搬迁户"),
    "disabled": (Household.has_disabled, "残疾人户"),
    "serious_illness": (Household.has_serious_illness, "大病户"),
}


def household_flags(household: Household) -> list[str]:
    return [key for key, (column, _label) in HOUSEHOLD_FLAGS.items() if getattr(household, column.key)]


def flag_labels(household: Household) -> list[tuple[str, str]]:
    """(key, 中文标签) for each flag the household carries, in HOUSEHOLD_FLAGS order."""
    return [(key, HOUSEHOLD_FLAGS[key][1]) for key in household_flags(household)]


def households_query(
    scope: Scope,
    *,
    village_id: int | None = None,
    flag: str | None = None,
    search: str | None = None,
    retired: bool = False,
) -> Select[tuple[Household]]:
    """Households the scope covers, optionally filtered; `search` matches 户号 or a current member's exact name.
    Retired households only when asked for (`retired`), and then only they."""
    stmt = filter_households(select(Household), scope, Household.id, Household.village_id)
    stmt = stmt.where(Household.retired_on.isnot(None) if retired else Household.retired_on.is_(None))
    if village_id is not None:
        stmt = stmt.where(Household.village_id == village_id)
    if flag in HOUSEHOLD_FLAGS:
        stmt = stmt.where(HOUSEHOLD_FLAGS[flag][0].is_(True))
    if search and search.strip():
        term = search.strip()
        by_name = select(Resident.household_id).where(
            Resident.name_hash == lookup_hash(term), Resident.left_on.is_(None)
        )
        stmt = stmt.where(or_(Household.number.contains(term, autoescape=True), Household.id.in_(by_name)))
    return stmt.options(selectinload(Household.residents))


def household_detail(session: Session, scope: Scope, household_id: int) -> Household:
    return load_household(session, scope, household_id)


def villages_query(scope: Scope, search: str | None = None, retired: bool = False) -> Select[tuple[Village]]:
    """Villages in scope: the ones in use, or (`retired`) only the retired ones."""
    stmt = filter_villages(select(Village), scope, Village.id)
    stmt = stmt.where(Village.retired_on.isnot(None) if retired else Village.retired_on.is_(None))
    if search and search.strip():
        term = search.strip()
        stmt = stmt.where(
            or_(Village.name.contains(term, autoescape=True), Village.code.startswith(term, autoescape=True))
        )
    return stmt


def _cadres_in_scope(scope: Scope, search: str | None, retired: bool = False) -> Select[tuple[Cadre]]:
    stmt = select(Cadre).where(Cadre.id.in_(posted_cadre_ids(scope)))
    stmt = stmt.where(Cadre.retired_on.isnot(None) if retired else Cadre.retired_on.is_(None))
    if search and search.strip():
        term = lookup_hash(search.strip())
        stmt = stmt.where(or_(Cadre.name_hash == term, Cadre.phone_hash == term))
    return stmt


# --- Scope naming and choices ---


def scope_name(session: Session, user: User) -> str:
    """The region an admin's scope covers, as shown in the top bar: 青石村 / 青石镇 / 青山县."""
    anchor: County | Town | Village | None = None
    if user.role == Role.reviewer and user.village_id is not None:
        anchor = session.get(Village, user.village_id)
    elif user.role == Role.town_admin and user.town_id is not None:
        anchor = session.get(Town, user.town_id)
    elif user.role == Role.county_admin and user.county_id is not None:
        anchor = session.get(County, user.county_id)
    return anchor.name if anchor is not None else ""


def village_choices(session: Session, scope: Scope) -> list[tuple[int, str]]:
    """In-scope villages for a filter drop-down, labelled 镇·村 when the scope spans several towns."""
    rows = session.execute(
        filter_villages(select(Village.id, Village.name, Town.name).join(Town), scope, Village.id)
        .where(Village.retired_on.is_(None))
        .order_by(Village.code)
    ).all()
    towns = {town for _id, _name, town in rows}
    if len(towns) > 1:
        return [(vid, f"{town} · {name}") for vid, name, town in rows]
    return [(vid, name) for vid, name, _town in rows]


# --- 行政村 list ---


@dataclass(frozen=True)
class VillageRow:
    id: int
    name: str
    code: str
    town_name: str
    grid_count: int
    household_count: int
    cadres_on_post: int


def village_page(
    session: Session,
    scope: Scope,
    *,
    search: str | None = None,
    retired: bool = False,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> Page[VillageRow]:
    """Villages in scope with their grid, household and on-post cadre counts, in one query per page."""
    base = villages_query(scope, search, retired)
    total, page = page_bounds(session, base, page, per_page)
    grids = (
        select(func.count(Grid.id)).where(Grid.village_id == Village.id, Grid.retired_on.is_(None)).scalar_subquery()
    )
    households = (
        select(func.count(Household.id))
        .where(Household.village_id == Village.id, Household.retired_on.is_(None))
        .scalar_subquery()
    )
    cadres = (
        select(func.count(func.distinct(Posting.cadre_id)))
        .where(Posting.village_id == Village.id, active_posting_filter(today_local()))
        .scalar_subquery()
    )
    stmt = (
        base.join(Town, Town.id == Village.town_id)
        .add_columns(Town.name, grids, households, cadres)
        .order_by(Village.code)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    items = [
        VillageRow(v.id, v.name, v.code, town_name, n_grids or 0, n_households or 0, n_cadres or 0)
        for v, town_name, n_grids, n_households, n_cadres in session.execute(stmt)
    ]
    return Page(items, page, per_page, total)


# --- 农户 list and detail ---


@dataclass(frozen=True)
class HouseholdRow:
    id: int
    number: str
    village_name: str
    grid_name: str
    head_name: str  # masked
    member_count: int
    flags: list[tuple[str, str]]


def household_page(
    session: Session,
    scope: Scope,
    *,
    village_id: int | None = None,
    flag: str | None = None,
    search: str | None = None,
    retired: bool = False,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> Page[HouseholdRow]:
    """Households in scope, filtered; raises not_in_scope for a village outside the scope."""
    if village_id is not None:
        load_village(session, scope, village_id)
    base = households_query(scope, village_id=village_id, flag=flag, search=search, retired=retired)
    return _household_rows(session, base, page, per_page)


def _household_rows(session: Session, base: Select[tuple[Household]], page: int, per_page: int) -> Page[HouseholdRow]:
    """One page of households as rows, by village code and 户号."""
    total, page = page_bounds(session, base, page, per_page)
    stmt = (
        base.join(Village, Village.id == Household.village_id)
        .options(selectinload(Household.village), selectinload(Household.grid))
        .order_by(Village.code, Household.number, Household.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return Page([_household_row(h) for h in session.scalars(stmt)], page, per_page, total)


def _household_row(household: Household) -> HouseholdRow:
    head = next((r for r in household.residents if r.is_head), None)
    return HouseholdRow(
        id=household.id,
        number=household.number,
        village_name=household.village.name,
        grid_name=household.grid.name,
        head_name=mask_name(head.name) if head else "",
        member_count=len(household.residents),
        flags=flag_labels(household),
    )


@dataclass(frozen=True)
class MemberRow:
    id: int
    name: str  # masked
    relation: str
    is_head: bool
    gender: str
    birth_year: int | None
    phone: str  # masked
    id_number: str  # masked


@dataclass(frozen=True)
class HelperInfo:
    name: str  # masked
    work_unit: str
    phone: str  # masked
    since: date


@dataclass(frozen=True)
class HouseholdView:
    id: int
    number: str
    address: str
    village_name: str
    town_name: str
    grid_name: str
    flags: list[tuple[str, str]]
    members: list[MemberRow] = field(default_factory=list)
    helper: HelperInfo | None = None
    village_id: int = 0
    grid_id: int = 0
    retired_on: date | None = None


def current_pairing(session: Session, household_id: int, on: date | None = None) -> Pairing | None:
    on = on or today_local()
    return session.scalar(
        select(Pairing)
        .where(
            Pairing.household_id == household_id,
            Pairing.start_on <= on,
            or_(Pairing.end_on.is_(None), Pairing.end_on >= on),
        )
        .options(selectinload(Pairing.cadre))
        .order_by(Pairing.start_on.desc(), Pairing.id.desc())
        .limit(1)
    )


def household_view(session: Session, scope: Scope, household_id: int) -> HouseholdView:
    """One household for the admin detail page: masked members and the current 帮扶责任人."""
    household = load_household(session, scope, household_id)
    pairing = current_pairing(session, household.id)
    helper = (
        HelperInfo(
            mask_name(pairing.cadre.name), pairing.cadre.work_unit, mask_phone(pairing.cadre.phone), pairing.start_on
        )
        if pairing is not None
        else None
    )
    return HouseholdView(
        id=household.id,
        number=household.number,
        address=household.address,
        village_name=household.village.name,
        town_name=household.village.town.name,
        grid_name=household.grid.name,
        flags=flag_labels(household),
        members=[
            MemberRow(
                id=r.id,
                name=mask_name(r.name),
                relation=r.relation,
                is_head=r.is_head,
                gender=r.gender,
                birth_year=r.birth_year,
                phone=mask_phone(r.phone),
                id_number=mask_id_number(r.id_number),
            )
            for r in household.residents
        ],
        helper=helper,
        village_id=household.village_id,
        grid_id=household.grid_id,
        retired_on=household.retired_on,
    )


# --- 驻村干部 list ---


@dataclass(frozen=True)
class PostingRow:
    post_label: str
    village_name: str
    start_on: date
    end_on: date | None
    is_active: bool


@dataclass(frozen=True)
class CadreRow:
    id: int
    name: str  # masked
    work_unit: str
    postings: list[PostingRow]
    paired_households: int


def cadre_page(
    session: Session,
    scope: Scope,
    *,
    search: str | None = None,
    retired: bool = False,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> Page[CadreRow]:
    """Cadres posted in scope, with their in-scope postings and current in-scope pairings; three queries a page."""
    today = today_local()
    base = _cadres_in_scope(scope, search, retired)
    total, page = page_bounds(session, base, page, per_page)
    paired = (
        filter_households(
            select(func.count(Pairing.id))
            .join(Household, Household.id == Pairing.household_id)
            .where(
                Pairing.cadre_id == Cadre.id,
                Pairing.start_on <= today,
                or_(Pairing.end_on.is_(None), Pairing.end_on >= today),
            ),
            scope,
            Household.id,
            Household.village_id,
        )
        .correlate(Cadre)
        .scalar_subquery()
    )
    rows = session.execute(
        base.add_columns(paired).order_by(Cadre.id).limit(per_page).offset((page - 1) * per_page)
    ).all()
    postings: dict[int, list[PostingRow]] = defaultdict(list)
    if rows:
        posting_stmt = filter_villages(
            select(Posting, Village.name)
            .join(Village, Village.id == Posting.village_id)
            .where(Posting.cadre_id.in_([cadre.id for cadre, _n in rows])),
            scope,
            Posting.village_id,
        ).order_by(Posting.start_on, Posting.id)
        for posting, village_name in session.execute(posting_stmt):
            active = posting.start_on <= today and (posting.end_on is None or posting.end_on >= today)
            postings[posting.cadre_id].append(
                PostingRow(POST_LABELS[posting.post], village_name, posting.start_on, posting.end_on, active)
            )
    items = [
        CadreRow(cadre.id, mask_name(cadre.name), cadre.work_unit, postings[cadre.id], n_paired or 0)
        for cadre, n_paired in rows
    ]
    return Page(items, page, per_page, total)


def dashboard_counts(session: Session, scope: Scope) -> dict[str, int]:
    households = filter_villages(select(Household.id), scope, Household.village_id).where(
        Household.retired_on.is_(None)
    )
    flagged = households.where(Household.is_poor | Household.is_monitored)
    return {
        "villages": len(scope.village_ids),
        "grids": session.scalar(
            filter_villages(select(func.count(Grid.id)), scope, Grid.village_id).where(Grid.retired_on.is_(None))
        )
        or 0,
        "households": session.scalar(select(func.count()).select_from(households.subquery())) or 0,
        "residents": session.scalar(
            select(func.count(Resident.id)).where(Resident.household_id.in_(households), Resident.left_on.is_(None))
        )
        or 0,
        "flagged_households": session.scalar(select(func.count()).select_from(flagged.subquery())) or 0,
        "cadres_on_post": session.scalar(
            filter_villages(
                select(func.count(func.distinct(Posting.cadre_id))).where(active_posting_filter(today_local())),
                scope,
                Posting.village_id,
            )
        )
        or 0,
    }


# --- A helper's paired households (包联户), with phones to call ---


@dataclass(frozen=True)
class Contact:
    name: str  # masked
    relation: str
    is_head: bool
    phone: str  # in full: the helper calls it


@dataclass(frozen=True)
class PairedHousehold:
    household_id: int
    number: str
    village_id: int
    village_name: str
    contacts: list[Contact]


def paired_households(session: Session, scope: Scope, cadre_id: int) -> list[PairedHousehold]:
    """The households the cadre is paired with today, with their members' full phone numbers (helpers must be
    able to phone their families). Only the cadre's own current pairings: no other household's number is here."""
    today = today_local()
    stmt = filter_households(
        select(Household)
        .join(Pairing, Pairing.household_id == Household.id)
        .where(
            Pairing.cadre_id == cadre_id,
            Pairing.start_on <= today,
            or_(Pairing.end_on.is_(None), Pairing.end_on >= today),
        ),
        scope,
        Household.id,
        Household.village_id,
    )
    households = session.scalars(
        stmt.options(selectinload(Household.residents), selectinload(Household.village)).order_by(Household.number)
    )
    return [
        PairedHousehold(
            household.id,
            household.number,
            household.village_id,
            household.village.name,
            [Contact(mask_name(r.name), r.relation, r.is_head, r.phone) for r in household.residents if r.phone],
        )
        for household in households
    ]


# --- Management pages: towns, a village's grids, choices, a cadre's record, households without a helper ---


@dataclass(frozen=True)
class TownRow:
    id: int
    name: str
    code: str
    village_count: int
    retired_on: date | None


def town_rows(session: Session, user: User) -> list[TownRow]:
    """The county admin's towns (retired ones last), or the town admin's own town."""
    if user.role == Role.county_admin:
        where = Town.county_id == user.county_id
    elif user.role == Role.town_admin:
        where = Town.id == user.town_id
    else:
        return []
    villages = (
        select(func.count(Village.id)).where(Village.town_id == Town.id, Village.retired_on.is_(None)).scalar_subquery()
    )
    rows = session.execute(select(Town, villages).where(where).order_by(Town.retired_on.isnot(None), Town.code)).all()
    return [TownRow(t.id, t.name, t.code, n or 0, t.retired_on) for t, n in rows]


@dataclass(frozen=True)
class GridRow:
    id: int
    name: str
    household_count: int
    workers: list[str]  # masked names of the current 网格员
    retired_on: date | None


@dataclass(frozen=True)
class VillageView:
    village: Village
    town_name: str
    grids: list[GridRow]


def village_view(session: Session, scope: Scope, village_id: int) -> VillageView:
    """A village for its edit page: its fields and its grids with their current grid workers."""
    village = load_village(session, scope, village_id)
    households = (
        select(func.count(Household.id))
        .where(Household.grid_id == Grid.id, Household.retired_on.is_(None))
        .scalar_subquery()
    )
    grids = session.execute(
        select(Grid, households).where(Grid.village_id == village.id).order_by(Grid.retired_on.isnot(None), Grid.id)
    ).all()
    workers: dict[int, list[str]] = defaultdict(list)
    on_post = session.execute(
        select(Posting.grid_id, Cadre.name)
        .join(Cadre, Cadre.id == Posting.cadre_id)
        .where(Posting.village_id == village.id, Posting.grid_id.isnot(None), active_posting_filter(today_local()))
    )
    for grid_id, name in on_post:
        workers[grid_id].append(mask_name(name))
    return VillageView(
        village,
        village.town.name,
        [GridRow(g.id, g.name, n or 0, workers[g.id], g.retired_on) for g, n in grids],
    )


def grid_choices(session: Session, scope: Scope) -> list[tuple[int, str]]:
    """Grids in use in scope, labelled 村 · 网格, for moving a household or posting a grid worker."""
    rows = session.execute(
        filter_villages(select(Grid.id, Village.name, Grid.name).join(Village), scope, Grid.village_id)
        .where(Grid.retired_on.is_(None), Village.retired_on.is_(None))
        .order_by(Village.code, Grid.id)
    )
    return [(grid_id, f"{village} · {grid}") for grid_id, village, grid in rows]


def cadre_choices(session: Session, scope: Scope) -> list[tuple[int, str]]:
    """Cadres on post in scope, for a pairing: masked name, work unit and the phone's last digits."""
    on_post = filter_villages(
        select(Posting.cadre_id).where(active_posting_filter(today_local())), scope, Posting.village_id
    )
    cadres = session.scalars(select(Cadre).where(Cadre.id.in_(on_post), Cadre.retired_on.is_(None)).order_by(Cadre.id))
    return [(c.id, f"{mask_name(c.name)}（{c.work_unit}，尾号 {(c.phone or '')[-4:]}）") for c in cadres]


@dataclass(frozen=True)
class PostingLine:
    id: int
    post_label: str
    village_name: str
    grid_name: str | None
    start_on: date
    end_on: date | None
    is_active: bool
    in_scope: bool


@dataclass(frozen=True)
class CadreView:
    id: int
    name: str  # masked
    phone: str  # masked
    id_number: str  # masked
    work_unit: str
    retired_on: date | None
    postings: list[PostingLine]
    households: list[HouseholdRow]  # currently paired, in scope


def cadre_view(session: Session, user: User, scope: Scope, cadre_id: int) -> CadreView:
    """One cadre's record: masked person, every posting (those outside scope read-only), current pairings."""
    cadre = load_cadre(session, user, scope, cadre_id)
    today = today_local()
    postings = [
        PostingLine(
            p.id,
            POST_LABELS[p.post],
            p.village.name,
            session.get_one(Grid, p.grid_id).name if p.grid_id else None,
            p.start_on,
            p.end_on,
            p.start_on <= today and (p.end_on is None or p.end_on >= today),
            scope.covers_village(p.village_id),
        )
        for p in cadre.postings
    ]
    paired = filter_households(
        select(Household)
        .join(Pairing, Pairing.household_id == Household.id)
        .where(Pairing.cadre_id == cadre.id, Pairing.end_on.is_(None))
        .options(selectinload(Household.residents), selectinload(Household.village), selectinload(Household.grid)),
        scope,
        Household.id,
        Household.village_id,
    )
    return CadreView(
        cadre.id,
        mask_name(cadre.name),
        mask_phone(cadre.phone),
        mask_id_number(cadre.id_number),
        cadre.work_unit,
        cadre.retired_on,
        postings,
        [_household_row(h) for h in session.scalars(paired.order_by(Household.village_id, Household.number))],
    )


def unpaired_page(
    session: Session, scope: Scope, *, village_id: int | None = None, page: int = 1, per_page: int = PER_PAGE
) -> Page[HouseholdRow]:
    """Poor (脱贫户) or monitored (监测户) households in use with no current helper: none may be missed."""
    if village_id is not None:
        load_village(session, scope, village_id)
    today = today_local()
    helped = select(Pairing.household_id).where(
        Pairing.start_on <= today, or_(Pairing.end_on.is_(None), Pairing.end_on >= today)
    )
    base = households_query(scope, village_id=village_id).where(
        Household.is_poor | Household.is_monitored, Household.id.not_in(helped)
    )
    return _household_rows(session, base, page, per_page)
