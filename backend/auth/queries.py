"""Accounts as admins read them: binding (a household's card code and bound phones, each village's cards and
phones, each cadre's WeChat login) and the 账号管理 page (the accounts the reader manages, with their region
named). Scoped through backend.auth.scope; names come back masked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, ScalarSelect, func, select
from sqlalchemy.orm import Session

from backend.auth.account_admin import managed_accounts
from backend.auth.models import ROLE_LABELS, CadreInvitation, Role, User
from backend.auth.scope import Scope, filter_villages, load_household, posted_cadre_ids
from backend.crypto import mask_name
from backend.org.models import Cadre, County, Household, Town, Village
from backend.pagination import PER_PAGE, Page, page_bounds
from backend.timeutil import now_utc


@dataclass(frozen=True)
class BoundPhone:
    user_id: int
    bound_at: datetime | None
    last_login_at: datetime | None


@dataclass(frozen=True)
class MemberRef:
    id: int
    name: str  # masked
    relation: str


@dataclass(frozen=True)
class HouseholdBinding:
    household_id: int
    code_issued_at: datetime | None  # None: no valid card code
    members: list[MemberRef]
    phones: list[BoundPhone]


def household_binding(session: Session, scope: Scope, household_id: int) -> HouseholdBinding:
    household = load_household(session, scope, household_id)
    phones = session.scalars(
        select(User)
        .where(User.household_id == household.id, User.role == Role.villager, User.is_active.is_(True))
        .order_by(User.bound_at, User.id)
    )
    return HouseholdBinding(
        household.id,
        household.binding_code_issued_at if household.binding_code_hash else None,
        [MemberRef(r.id, mask_name(r.name), r.relation) for r in household.residents],
        [BoundPhone(u.id, u.bound_at, u.last_login_at) for u in phones],
    )


@dataclass(frozen=True)
class VillageCards:
    id: int
    name: str
    town_name: str
    households: int
    with_code: int  # households whose card code is valid
    bound_households: int
    phones: int


def village_cards_page(
    session: Session, scope: Scope, *, page: int = 1, per_page: int = PER_PAGE
) -> Page[VillageCards]:
    """The scope's villages with how many households have a valid card code and how many phones are bound."""
    base = filter_villages(select(Village.id), scope, Village.id)
    total, page = page_bounds(session, base, page, per_page)
    in_village = Household.village_id == Village.id
    bound = (User.household_id == Household.id) & (User.role == Role.villager) & User.is_active.is_(True)

    def per_village(count: ColumnElement[int], *joined: ColumnElement[bool]) -> ScalarSelect[int]:
        stmt = select(count).select_from(Household)
        if joined:
            stmt = stmt.join(User, *joined)
        return stmt.where(in_village).correlate(Village).scalar_subquery()

    rows = session.execute(
        filter_villages(
            select(
                Village.id,
                Village.name,
                Town.name,
                per_village(func.count(Household.id)),
                per_village(func.count(Household.binding_code_hash)),
                per_village(func.count(func.distinct(User.household_id)), bound),
                per_village(func.count(User.id), bound),
            ).join(Town, Town.id == Village.town_id),
            scope,
            Village.id,
        )
        .order_by(Village.code)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return Page([VillageCards(*row) for row in rows], page, per_page, total)


@dataclass(frozen=True)
class CadreLogin:
    cadre_id: int
    name: str  # masked
    work_unit: str
    has_account: bool
    wechat_bound: bool
    last_login_at: datetime | None
    invitation_expires_at: datetime | None  # an open invitation, if any


def cadre_login_page(session: Session, scope: Scope, *, page: int = 1, per_page: int = PER_PAGE) -> Page[CadreLogin]:
    """The cadres the admin manages, whether their WeChat is bound, and any open invitation."""
    base = select(Cadre).where(Cadre.id.in_(posted_cadre_ids(scope)))
    total, page = page_bounds(session, base, page, per_page)
    open_invitation = (
        select(func.max(CadreInvitation.expires_at))
        .where(
            CadreInvitation.cadre_id == Cadre.id,
            CadreInvitation.used_at.is_(None),
            CadreInvitation.revoked_at.is_(None),
            CadreInvitation.expires_at > now_utc(),
        )
        .correlate(Cadre)
        .scalar_subquery()
    )
    rows = session.execute(
        base.add_columns(User.id, User.wechat_openid.is_not(None), User.last_login_at, open_invitation)
        .outerjoin(User, User.cadre_id == Cadre.id)
        .order_by(Cadre.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return Page(
        [
            CadreLogin(
                cadre.id,
                mask_name(cadre.name),
                cadre.work_unit,
                user_id is not None,
                bool(bound),
                last_login,
                expires,
            )
            for cadre, user_id, bound, last_login, expires in rows
        ],
        page,
        per_page,
        total,
    )


# --- 账号管理 ---


@dataclass(frozen=True)
class AccountRow:
    id: int
    username: str
    role: str
    role_label: str
    region: str  # the county, town or village it administers; a cadre's masked name
    region_code: str
    is_active: bool
    last_login_at: datetime | None
    is_admin: bool


def _region(session: Session, user: User) -> tuple[str, str]:
    if user.role == Role.cadre and user.cadre_id is not None:
        return mask_name(session.get_one(Cadre, user.cadre_id).name), ""
    for model, anchor in ((Village, user.village_id), (Town, user.town_id), (County, user.county_id)):
        if anchor is not None:
            row = session.get_one(model, anchor)
            return row.name, row.code
    return "", ""


def account_page(session: Session, reader: User, *, page: int = 1, per_page: int = PER_PAGE) -> Page[AccountRow]:
    base = select(User).where(managed_accounts(reader))
    total, page = page_bounds(session, base, page, per_page)
    users = session.scalars(
        base.order_by(User.is_active.desc(), User.role, User.username).limit(per_page).offset((page - 1) * per_page)
    )
    rows = []
    for user in users:
        region, code = _region(session, user)
        rows.append(
            AccountRow(
                user.id,
                user.username,
                user.role.value,
                ROLE_LABELS[user.role],
                region,
                code,
                user.is_active,
                user.last_login_at,
                user.role != Role.cadre,
            )
        )
    return Page(rows, page, per_page, total)


def region_choices(session: Session, reader: User) -> list[tuple[str, str]]:
    """(code, label) of the regions the reader may give a role over: its county, towns and villages in use."""
    if reader.role == Role.county_admin:
        county = session.get_one(County, reader.county_id)
        towns = select(Town.id).where(Town.county_id == county.id)
        choices = [(county.code, f"{county.name}（县）")]
        choices += [
            (t.code, f"{t.name}（镇）")
            for t in session.scalars(
                select(Town).where(Town.id.in_(towns), Town.retired_on.is_(None)).order_by(Town.code)
            )
        ]
    elif reader.role == Role.town_admin:
        towns = select(Town.id).where(Town.id == reader.town_id)
        choices = []
    else:
        return []
    villages = session.execute(
        select(Village.code, Village.name, Town.name)
        .join(Town)
        .where(Village.town_id.in_(towns), Village.retired_on.is_(None))
        .order_by(Village.code)
    )
    return choices + [(code, f"{town} · {name}（村）") for code, name, town in villages]
