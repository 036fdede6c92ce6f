"""A small two-county world for scope tests, built through the same models the app uses.

County 青山县: town 青石镇 (villages 青石村 V1, 白杨村 V2) and town 河口镇 (village 河口村 V3).
County 远山县: town 远山镇 (village 远山村 V4). Users are named by what they are to V1's household H1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import count

from sqlalchemy.orm import Session

from backend.auth.models import CadreInvitation, Role, User
from backend.auth.scope import scope_for
from backend.auth.service import issue_binding_code, issue_signin_ticket, issue_token, new_binding_code
from backend.crypto import lookup_hash
from backend.org.identity import make_id_number
from backend.org.models import Cadre, County, Grid, Household, Pairing, Post, Posting, Resident, Town, Village
from backend.photos.models import Photo, PhotoStatus
from backend.points.models import Claim, ClaimSource
from backend.points.notice import close_month
from backend.points.rules import active_rule_book, install_preset
from backend.timeutil import now_utc, today_local
from tests.factories_records import add_cadre_work
from tests.factories_surveys import open_world_survey

_seq = count(1)
NOTICE_MONTH = "2024-06"


@dataclass
class World:
    ids: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    binding_codes: dict[str, str] = field(default_factory=dict)
    # A processed photo H1's villager uploaded in V1 (not claimed by any record yet).
    photo_id: str = ""
    # An unused one-time sign-in ticket of the villager, valid for a day.
    signin_ticket: str = ""
    # An unused invitation for cadre_far's login (which has no WeChat yet), valid for a day.
    invitation_code: str = ""


def make_household(session: Session, village: Village, grid: Grid, number: str, *, poor: bool = False) -> Household:
    n = next(_seq)
    household = Household(
        village_id=village.id, grid_id=grid.id, number=number, address=f"{village.name}{n}号", is_poor=poor
    )
    session.add(household)
    session.flush()
    session.add_all(
        [
            Resident(
                household_id=household.id,
                relation="户主",
                is_head=True,
                gender="男",
                birth_year=1968,
                name=f"王建{'国军民华'[n % 4]}",
                phone=f"139{n:08d}",
                id_number=make_id_number("612322", date(1968, 5, 1 + n % 27), n),
            ),
            Resident(
                household_id=household.id,
                relation="配偶",
                gender="女",
                birth_year=1970,
                name="李秀英",
                phone=f"138{n:08d}",
                id_number=make_id_number("612322", date(1970, 7, 1 + n % 27), n + 500),
            ),
        ]
    )
    session.flush()
    return household


def make_cadre(session: Session, county: County, name: str, village: Village, post: Post) -> Cadre:
    n = next(_seq)
    cadre = Cadre(county_id=county.id, work_unit="县农业农村局", name=name, phone=f"137{n:08d}")
    session.add(cadre)
    session.flush()
    session.add(
        Posting(cadre_id=cadre.id, village_id=village.id, post=post, start_on=today_local() - timedelta(days=200))
    )
    session.flush()
    return cadre


def build_world(session: Session) -> World:
    world = World()
    c1 = County(name="青山县", code="610999")
    c2 = County(name="远山县", code="610998")
    session.add_all([c1, c2])
    session.flush()
    t1 = Town(county_id=c1.id, name="青石镇", code="610999101")
    t2 = Town(county_id=c1.id, name="河口镇", code="610999102")
    t3 = Town(county_id=c2.id, name="远山镇", code="610998101")
    session.add_all([t1, t2, t3])
    session.flush()
    villages = {}
    for key, town, name, code in [
        ("V1", t1, "青石村", "610999101001"),
        ("V2", t1, "白杨村", "610999101002"),
        ("V3", t2, "河口村", "610999102001"),
        ("V4", t3, "远山村", "610998101001"),
    ]:
        villages[key] = Village(
            town_id=town.id, name=name, code=code, center_lat=33.15, center_lng=107.33, fence_radius_m=1500
        )
    session.add_all(villages.values())
    session.flush()
    grids = {key: Grid(village_id=v.id, name="第一网格") for key, v in villages.items()}
    session.add_all(grids.values())
    session.flush()
    households = {
        "H1": make_household(session, villages["V1"], grids["V1"], "001", poor=True),
        "H2": make_household(session, villages["V1"], grids["V1"], "002"),
        "H3": make_household(session, villages["V2"], grids["V2"], "001"),
        "H4": make_household(session, villages["V3"], grids["V3"], "001"),
        "H5": make_household(session, villages["V4"], grids["V4"], "001"),
        "H6": make_household(session, villages["V1"], grids["V1"], "003"),
    }
    cadre = make_cadre(session, c1, "赵第一", villages["V1"], Post.first_secretary)
    cadre_far = make_cadre(session, c1, "钱驻村", villages["V3"], Post.team_member)
    session.add(
        Pairing(cadre_id=cadre.id, household_id=households["H1"].id, start_on=today_local() - timedelta(days=100))
    )

    users = {
        "villager": User(username="t_villager", role=Role.villager, household_id=households["H1"].id),
        "villager_neighbour": User(username="t_neighbour", role=Role.villager, household_id=households["H2"].id),
        "villager_far": User(username="t_villager_far", role=Role.villager, household_id=households["H4"].id),
        "villager_unbound": User(username="t_unbound", role=Role.villager),
        "cadre": User(username="t_cadre", role=Role.cadre, cadre_id=cadre.id),
        "cadre_far": User(username="t_cadre_far", role=Role.cadre, cadre_id=cadre_far.id),
        "reviewer": User(username="t_reviewer", role=Role.reviewer, village_id=villages["V1"].id),
        "reviewer_other": User(username="t_reviewer_v2", role=Role.reviewer, village_id=villages["V2"].id),
        "town_admin": User(username="t_town", role=Role.town_admin, town_id=t1.id),
        "town_admin_other": User(username="t_town2", role=Role.town_admin, town_id=t2.id),
        "county_admin": User(username="t_county", role=Role.county_admin, county_id=c1.id),
        "county_admin_other": User(username="t_county2", role=Role.county_admin, county_id=c2.id),
    }
    session.add_all(users.values())
    session.flush()
    for name, user in users.items():
        world.ids[f"user:{name}"] = user.id
        world.tokens[name] = issue_token(session, user, timedelta(days=1)).token
    world.binding_codes["H6"] = issue_binding_code(session, households["H6"])
    world.signin_ticket = issue_signin_ticket(session, users["villager"], timedelta(days=1)).ticket
    world.invitation_code = new_binding_code()
    session.add(
        CadreInvitation(
            cadre_id=cadre_far.id,
            code_hash=lookup_hash(world.invitation_code),
            created_by_id=users["county_admin"].id,
            expires_at=now_utc() + timedelta(days=1),
        )
    )
    for county in (c1, c2):
        install_preset(session, county, "gaoyang", effective_from=date(2020, 1, 1))
    book = active_rule_book(session, villages["V1"].id, today_local())
    world.ids.update({f"item:{item.code}": item.id for item in book.items})
    world.ids["rule_book"] = book.id
    claim = Claim(
        household_id=households["H1"].id,
        village_id=villages["V1"].id,
        rule_item_id=world.ids["item:P09"],
        occurred_on=today_local(),
        note="救起落水儿童",
        source=ClaimSource.self_declared,
        submitted_by_id=users["villager"].id,
    )
    session.add(claim)
    session.flush()
    world.ids["claim"] = claim.id
    photo = Photo(
        id="f" * 32,
        uploader_id=users["villager"].id,
        county_id=c1.id,
        village_id=villages["V1"].id,
        household_id=households["H1"].id,
        status=PhotoStatus.ready,
        format="jpeg",
        byte_size=1000,
        width=4,
        height=3,
        sha256="a" * 64,
    )
    session.add(photo)
    world.photo_id = photo.id
    # A published monthly notice of V1 long ago (its objection window open), for notice routes.
    reviewer_scope = scope_for(session, users["reviewer"])
    world.ids["notice"] = close_month(session, reviewer_scope, users["reviewer"], villages["V1"].id, NOTICE_MONTH).id
    world.ids.update({k: v.id for k, v in villages.items()})
    world.ids.update({k: v.id for k, v in households.items()})
    world.ids.update({"C1": c1.id, "C2": c2.id, "T1": t1.id, "T2": t2.id, "T3": t3.id, "cadre": cadre.id})
    # An open survey of V1's first secretary to which H1 (not H2/H6) is invited.
    world.ids.update(open_world_survey(session, villages["V1"], cadre.id, [households["H1"].id]))
    world.ids.update(add_cadre_work(session, users["cadre"], villages["V1"].id, households["H1"].id))
    return world
