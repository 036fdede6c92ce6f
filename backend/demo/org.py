"""The demo county's towns, villages, grids, households, cadres, pairings and logins.

Everything comes from one fixed `random.Random` seed, so two fresh databases get the same county,
households, names and binding codes; only database ids and ciphertexts differ. The people are
invented: names from common-name lists, checksum-valid ID numbers and mobile numbers that pass the
same validation the app applies to real input.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, NamedTuple

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from backend.auth.models import Role, User
from backend.auth.passwords import hash_password
from backend.auth.scope import active_posting_filter
from backend.auth.service import issue_binding_code
from backend.db import insert_many
from backend.org.identity import make_id_number, normalize_id_number, normalize_phone
from backend.org.models import (
    POST_LABELS,
    Cadre,
    County,
    Grid,
    Household,
    Pairing,
    Post,
    Posting,
    Resident,
    Town,
    Village,
)
from backend.timeutil import now_utc, today_local

SEED = 20240601
DEMO_COUNTY_NAME = "秦岭县"
DEMO_COUNTY_CODE = "610790"  # Hanzhong prefix 6107, a district number no real county uses.
DEMO_PASSWORD = "xiangzhi-demo"
# "Today" of the demo data: ages (who is an adult, who has a phone) must not drift with the clock.
REFERENCE_YEAR = 2025


class _TownSpec(NamedTuple):
    name: str
    pinyin: str  # usernames are ASCII: town_admin_<pinyin>, reviewer_<village pinyin>, ...
    code_suffix: str
    lat: float
    lng: float
    villages: tuple[tuple[str, str], ...]  # (name, pinyin)


# Southern Shaanxi, between the Hanjiang valley and the Qinling foothills.
TOWNS = (
    _TownSpec(
        "青石镇",
        "qingshi",
        "101",
        33.118,
        107.036,
        (("青石村", "qingshi"), ("桃园村", "taoyuan"), ("黄家坝村", "huangjiaba"), ("双河村", "shuanghe")),
    ),
    _TownSpec(
        "柳溪镇",
        "liuxi",
        "102",
        33.262,
        107.318,
        (("柳溪村", "liuxi"), ("白杨村", "baiyang"), ("马家湾村", "majiawan"), ("核桃坪村", "hetaoping")),
    ),
    _TownSpec(
        "龙潭镇",
        "longtan",
        "103",
        32.986,
        107.472,
        (("龙潭村", "longtan"), ("茶园村", "chayuan"), ("金竹村", "jinzhu"), ("高山村", "gaoshan")),
    ),
)
GRID_NAMES = ("第一网格", "第二网格", "第三网格", "第四网格")
GROUP_NAMES = ("一", "二", "三", "四", "五", "六", "七", "八")  # 村民小组: two per grid
HOUSEHOLDS_PER_VILLAGE = (144, 156)


def _words(text: str) -> tuple[str, ...]:
    """Space-separated name lists read better than a column of quoted strings."""
    return tuple(text.split())


# County departments that send resident work teams (派出单位).
WORK_UNITS = _words(
    "县委组织部 县委宣传部 县农业农村局 县财政局 县教育体育局 县卫生健康局 县交通运输局 县自然资源局 "
    "县人力资源和社会保障局 县水利局 县民政局 县住房和城乡建设局 县林业局 县市场监督管理局"
)
# Common surnames of the Hanzhong area, each with a relative weight.
SURNAMES: tuple[tuple[str, int], ...] = tuple(
    zip(
        "王李张刘陈杨赵黄周吴徐孙胡朱高何郭马罗梁宋郑谢韩唐冯贾蒲姚任",
        (14, 13, 12, 10, 8, 8, 5, 4, 4, 4, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1),
        strict=True,
    )
)
# Given names by generation, because names follow fashions: 建国 is a grandfather, 梓涵 a pupil.
GIVEN_NAMES: dict[tuple[str, str], tuple[str, ...]] = {
    ("男", "old"): _words("建国 建军 国强 德明 文华 永福 长青 振华 春生 宝山 学文 金山 有才 守成 忠义 福全 成林 保平"),
    ("男", "middle"): _words("伟 强 磊 军 勇 涛 斌 鹏 超 亮 刚 俊杰 志伟 海涛 建华 晓东 小龙 志刚 红军 永强"),
    ("男", "young"): _words("子豪 浩然 宇轩 俊熙 一鸣 博文 家乐 子轩 天佑 思远 明轩 鑫 浩宇 佳豪 睿 晨阳"),
    ("女", "old"): _words("秀英 桂兰 玉兰 秀兰 淑珍 凤英 兰英 翠花 春梅 桂芳 秀珍 玉梅 金花 素芳 彩霞 桂英"),
    ("女", "middle"): _words("丽 娟 敏 静 艳 芳 霞 燕 丽娟 晓燕 海燕 红梅 春燕 小芳 雪梅 秀娟"),
    ("女", "young"): _words("欣怡 梓涵 诗涵 雨萱 子涵 可馨 佳怡 思琪 雨桐 梦瑶 婉清 若曦 欣悦 雅琪"),
}
# China Mobile / Unicom / Telecom prefixes; every number is still checked with normalize_phone.
MOBILE_PREFIXES = ("135", "136", "137", "138", "139", "150", "151", "152", "157", "158", "159", "182", "187")
MOBILE_PREFIXES += ("130", "131", "132", "155", "156", "185", "186", "133", "153", "180", "189", "199")
HOUSEHOLD_SIZES = ((1, 8), (2, 20), (3, 22), (4, 24), (5, 16), (6, 10))


@dataclass
class OrgDemoSummary:
    """The demo county's organisation and logins, counted; `DemoSummary` adds the other domains."""

    counties: int = 0
    towns: int = 0
    villages: int = 0
    grids: int = 0
    households: int = 0
    residents: int = 0
    cadres: int = 0
    postings: int = 0
    pairings: int = 0
    users: int = 0
    binding_codes: int = 0


@dataclass
class _Person:
    name: str
    gender: str
    birth: date
    id_number: str
    phone: str | None


@dataclass
class _TeamMember:
    post: Post
    cadre: Cadre
    start_on: date
    is_helper: bool = False


class _House(NamedTuple):
    """A household as the later steps need it: the rows are inserted in bulk, without ORM objects."""

    id: int
    number: str
    is_poor: bool
    is_monitored: bool


@dataclass
class _VillagePlan:
    village: Village
    town: Town
    town_pinyin: str
    pinyin: str
    grids: list[Grid] = field(default_factory=list)
    households: list[_House] = field(default_factory=list)
    team: list[_TeamMember] = field(default_factory=list)

    def posted(self, post: Post) -> list[_TeamMember]:
        return [m for m in self.team if m.post == post]


class _PeopleFactory:
    """Invents people from the shared random stream; ID numbers and phones are unique and validated."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._id_numbers: set[str] = set()
        self._phones: set[str] = set()
        self._surnames = [s for s, _ in SURNAMES]
        self._surname_weights = [w for _, w in SURNAMES]

    def surname(self) -> str:
        return self.rng.choices(self._surnames, self._surname_weights)[0]

    def given_name(self, gender: str, birth_year: int) -> str:
        generation = "old" if birth_year < 1970 else "middle" if birth_year < 1995 else "young"
        return self.rng.choice(GIVEN_NAMES[(gender, generation)])

    def birth_date(self, year: int) -> date:
        return date(year, 1, 1) + timedelta(days=self.rng.randrange(365))

    def id_number(self, birth: date, gender: str) -> str:
        # The birthplace code must exist in the birth year: 南郑县 612322 until 1996, 城固县 610722 after.
        region = "612322" if birth.year < 1996 else "610722"
        while True:
            # The sequence's last digit is odd for men and even for women, as on real cards.
            sequence = self.rng.randrange(500) * 2 + (1 if gender == "男" else 0)
            number = make_id_number(region, birth, sequence)
            if number not in self._id_numbers:
                self._id_numbers.add(number)
                return normalize_id_number(number)

    def phone(self) -> str:
        while True:
            number = self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if number not in self._phones:
                self._phones.add(number)
                return normalize_phone(number)

    def person(self, gender: str, birth_year: int, *, surname: str | None = None, phone: bool | None = None) -> _Person:
        birth = self.birth_date(birth_year)
        name = (surname or self.surname()) + self.given_name(gender, birth_year)
        if phone is None:
            age = REFERENCE_YEAR - birth_year
            # Adults carry phones; some of the very old do not.
            phone = age >= 18 and (age < 70 or self.rng.random() < 0.5)
        return _Person(name, gender, birth, self.id_number(birth, gender), self.phone() if phone else None)


def demo_county_exists(session: Session) -> bool:
    return session.scalar(select(County.id).where(County.code == DEMO_COUNTY_CODE)) is not None


@dataclass(frozen=True)
class DemoLogin:
    user: User
    village: str | None  # the name of the village the login works in; None for town and county admins


def demo_logins(session: Session, per_role: int = 6) -> list[DemoLogin]:
    """The first few logins of each role in the demo county, villagers first (Role's order), each with its
    village: what a dev sign-in screen offers. None without the demo county."""
    county_id = session.scalar(select(County.id).where(County.code == DEMO_COUNTY_CODE))
    if county_id is None:
        return []
    towns = select(Town.id).where(Town.county_id == county_id)
    # A villager's village is their household's; a cadre's the (first) one they are posted to now.
    village_of = {
        Role.villager: select(Household.village_id).where(Household.id == User.household_id).scalar_subquery(),
        Role.cadre: select(func.min(Posting.village_id))
        .where(Posting.cadre_id == User.cadre_id, active_posting_filter(today_local()))
        .scalar_subquery(),
    }
    logins: list[DemoLogin] = []
    for role in Role:
        rows = session.execute(
            select(User, Village.name)
            .outerjoin(Village, Village.id == village_of.get(role, User.village_id))
            .where(
                User.role == role,
                User.is_active,
                or_(Village.town_id.in_(towns), User.town_id.in_(towns), User.county_id == county_id),
            )
            .order_by(User.id)
            .limit(per_role)
        )
        logins += [DemoLogin(user, village) for user, village in rows]
    return logins


def seed_org(
    session: Session, county: County, summary: OrgDemoSummary
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Fill the county with people and logins; returns the logins and the card codes for the accounts file."""
    rng = random.Random(SEED)
    people = _PeopleFactory(rng)
    plans = _create_regions(session, rng, county, summary)
    _create_households(session, rng, people, plans, summary)
    _create_cadres(session, rng, people, county, plans, summary)
    _create_pairings(session, rng, plans, summary)
    return _create_users(session, rng, county, plans, summary)


def _create_regions(
    session: Session, rng: random.Random, county: County, summary: OrgDemoSummary
) -> list[_VillagePlan]:
    towns = [Town(county_id=county.id, name=spec.name, code=DEMO_COUNTY_CODE + spec.code_suffix) for spec in TOWNS]
    session.add_all(towns)
    session.flush()
    plans: list[_VillagePlan] = []
    for town, spec in zip(towns, TOWNS, strict=True):
        for index, (name, pinyin) in enumerate(spec.villages, start=1):
            village = Village(
                town_id=town.id,
                name=name,
                code=f"{town.code}{200 + index:03d}",  # 2xx: administrative villages in the statistics code
                center_lat=round(spec.lat + rng.uniform(-0.06, 0.06), 6),
                center_lng=round(spec.lng + rng.uniform(-0.07, 0.07), 6),
                fence_radius_m=rng.randrange(1000, 2001, 100),
            )
            plans.append(_VillagePlan(village=village, town=town, town_pinyin=spec.pinyin, pinyin=pinyin))
    session.add_all([p.village for p in plans])
    session.flush()
    grids = [Grid(village_id=p.village.id, name=name) for p in plans for name in GRID_NAMES]
    session.add_all(grids)
    session.flush()
    for index, plan in enumerate(plans):
        plan.grids = grids[index * len(GRID_NAMES) : (index + 1) * len(GRID_NAMES)]
    summary.towns, summary.villages, summary.grids = len(towns), len(plans), len(grids)
    return plans


def _flags(rng: random.Random) -> dict[str, bool]:
    """~12% poor (脱贫户) and ~3% monitored (监测户); hardship flags cluster in those households."""
    draw = rng.random()
    poor, monitored = draw < 0.12, 0.12 <= draw < 0.15
    low_income, relocated, disabled, illness = (
        (0.35, 0.25, 0.20, 0.15) if poor else (0.20, 0.10, 0.25, 0.30) if monitored else (0.02, 0.03, 0.04, 0.02)
    )
    return {
        "is_poor": poor,
        "is_monitored": monitored,
        "is_low_income": rng.random() < low_income,
        "is_relocated": rng.random() < relocated,
        "has_disabled": rng.random() < disabled,
        "has_serious_illness": rng.random() < illness,
    }


def _members(rng: random.Random, people: _PeopleFactory) -> list[tuple[str, _Person]]:
    """One family as (relation, person): head first, then spouse, parents, children, grandchildren."""
    size = rng.choices([s for s, _ in HOUSEHOLD_SIZES], [w for _, w in HOUSEHOLD_SIZES])[0]
    head_year = rng.randint(1942, 1992)
    head_gender = "男" if rng.random() < 0.85 else "女"
    family = people.surname()
    head = people.person(head_gender, head_year, surname=family)
    members: list[tuple[str, _Person]] = [("户主", head)]
    remaining = size - 1
    children_surname = family
    if remaining and rng.random() < 0.85:
        spouse_gender = "女" if head_gender == "男" else "男"
        spouse = people.person(spouse_gender, min(head_year + rng.randint(-3, 3), 2000))
        members.append(("配偶", spouse))
        if spouse_gender == "男":
            children_surname = spouse.name[0]  # children usually carry the father's surname
        remaining -= 1
    if remaining and head_year >= 1968 and rng.random() < 0.45:
        parents = min(remaining, rng.choice((1, 2)))
        parent_year = head_year - rng.randint(22, 30)
        genders = ("男", "女") if parents == 2 else (rng.choice(("男", "女")),)
        for gender in genders:
            surname = family if gender == "男" else None
            members.append(("父母", people.person(gender, parent_year + rng.randint(-2, 2), surname=surname)))
        remaining -= parents
    children = remaining
    if head_year <= 1970 and remaining >= 3:
        children = rng.randint(1, remaining - 1)
    child_years: list[int] = []
    for _ in range(children):
        year = min(head_year + rng.randint(22, 34), REFERENCE_YEAR - 2)
        child_years.append(year)
        members.append(("子女", people.person(rng.choice(("男", "女")), year, surname=children_surname)))
    for _ in range(remaining - children):
        year = min(min(child_years) + rng.randint(22, 30), REFERENCE_YEAR - 1)
        members.append(("孙子女", people.person(rng.choice(("男", "女")), year, surname=children_surname)))
    return members


def _create_households(
    session: Session, rng: random.Random, people: _PeopleFactory, plans: list[_VillagePlan], summary: OrgDemoSummary
) -> None:
    """Households and members as two bulk inserts (`insert_many`): ORM objects, and the long multi-row INSERTs
    they are flushed as, cost seconds for the county's 6,000 people."""
    now = now_utc()
    families: list[tuple[_VillagePlan, dict[str, Any], list[tuple[str, _Person]]]] = []
    for plan in plans:
        count = rng.randint(*HOUSEHOLDS_PER_VILLAGE)
        grids = plan.grids
        per_grid = math.ceil(count / len(grids))
        house_numbers = [0] * len(GROUP_NAMES)
        for index in range(count):
            grid_index = index // per_grid
            group = grid_index * 2 + (1 if index % per_grid >= per_grid // 2 else 0)
            house_numbers[group] += rng.randint(1, 3)
            flags = _flags(rng)
            if flags["is_relocated"]:
                # 易地扶贫搬迁: the family lives in the town's resettlement estate but stays on the village roll.
                address = (
                    f"{plan.town.name}移民安置小区{rng.randint(1, 12)}号楼"
                    f"{rng.randint(1, 3)}单元{rng.randint(1, 6)}0{rng.randint(1, 4)}室"
                )
            else:
                address = f"{plan.village.name}{GROUP_NAMES[group]}组{house_numbers[group]}号"
            household = {
                "village_id": plan.village.id,
                "grid_id": grids[grid_index].id,
                "number": f"{index + 1:03d}",
                "address": address,
                "created_at": now,
                **flags,
            }
            families.append((plan, household, _members(rng, people)))
    insert_many(session, Household.__table__, [household for _, household, _ in families])
    ids = {
        (village_id, number): household_id
        for village_id, number, household_id in session.execute(
            select(Household.village_id, Household.number, Household.id).where(
                Household.village_id.in_([plan.village.id for plan in plans])
            )
        )
    }
    residents: list[dict[str, Any]] = []
    for plan, household, members in families:
        house = _House(
            ids[plan.village.id, household["number"]],
            household["number"],
            household["is_poor"],
            household["is_monitored"],
        )
        plan.households.append(house)
        residents += [
            {
                "household_id": house.id,
                "relation": relation,
                "is_head": relation == "户主",
                "gender": person.gender,
                "birth_year": person.birth.year,
                **Resident.bulk_values(person.name, person.phone, person.id_number),
            }
            for relation, person in members
        ]
    insert_many(session, Resident.__table__, residents)
    summary.households, summary.residents = len(families), len(residents)


def _create_cadres(
    session: Session,
    rng: random.Random,
    people: _PeopleFactory,
    county: County,
    plans: list[_VillagePlan],
    summary: OrgDemoSummary,
) -> None:
    """The four teams per village: 第一书记, 工作队长, 1–2 队员 from one county department, a 包村干部, a 网格员."""
    units = rng.sample(WORK_UNITS, len(plans))
    cadres: list[Cadre] = []
    for plan, unit in zip(plans, units, strict=True):
        team_start = date(2024, 3, 1) + timedelta(days=rng.randrange(60))
        roster: list[tuple[Post, str, date]] = [
            (Post.first_secretary, DEMO_COUNTY_NAME + unit, team_start),
            (Post.team_leader, DEMO_COUNTY_NAME + unit, team_start),
        ]
        for _ in range(rng.randint(1, 2)):
            roster.append((Post.team_member, DEMO_COUNTY_NAME + rng.choice((unit, *WORK_UNITS)), team_start))
        roster.append(
            (Post.town_cadre, f"{plan.town.name}人民政府", date(2023, 1, 1) + timedelta(days=rng.randrange(200)))
        )
        roster.append(
            (Post.grid_worker, f"{plan.village.name}村民委员会", date(2022, 6, 1) + timedelta(days=rng.randrange(300)))
        )
        for post, work_unit, start in roster:
            person = people.person("男" if rng.random() < 0.7 else "女", rng.randint(1968, 1996), phone=True)
            cadre = Cadre(
                county_id=county.id,
                work_unit=work_unit,
                name=person.name,
                phone=person.phone,
                id_number=person.id_number,
            )
            plan.team.append(_TeamMember(post, cadre, start))
            cadres.append(cadre)
    session.add_all(cadres)
    session.flush()
    postings = [
        Posting(cadre_id=m.cadre.id, village_id=plan.village.id, post=m.post, start_on=m.start_on)
        for plan in plans
        for m in plan.team
    ]
    session.add_all(postings)
    session.flush()
    summary.cadres, summary.postings = len(cadres), len(postings)


def _create_pairings(session: Session, rng: random.Random, plans: list[_VillagePlan], summary: OrgDemoSummary) -> None:
    """每户一名帮扶责任人: each poor or monitored household gets one helper posted in its village.

    Team members and the town cadre help first; the leader and first secretary join only when a
    village has so many households that someone would carry more than 15.
    """
    postings: list[Posting] = []
    pairings: list[Pairing] = []
    for plan in plans:
        assisted = [h for h in plan.households if h.is_poor or h.is_monitored]
        if not assisted:
            continue
        candidates = [
            *plan.posted(Post.team_member),
            *plan.posted(Post.town_cadre),
            *plan.posted(Post.team_leader),
            *plan.posted(Post.first_secretary),
        ]
        core = len(plan.posted(Post.team_member)) + len(plan.posted(Post.town_cadre))
        helpers_needed = max(math.ceil(len(assisted) / 15), min(core, len(assisted) // 5), 1)
        helpers = candidates[: min(helpers_needed, len(candidates))]
        # Even shares (sizes differ by at most one) of neighbouring household numbers, so one
        # helper's households lie close together.
        bounds = [len(assisted) * i // len(helpers) for i in range(len(helpers) + 1)]
        for index, helper in enumerate(helpers):
            helper.is_helper = True
            cadre_id = helper.cadre.id
            postings.append(
                Posting(cadre_id=cadre_id, village_id=plan.village.id, post=Post.helper, start_on=helper.start_on)
            )
            for household in assisted[bounds[index] : bounds[index + 1]]:
                paired_on = helper.start_on + timedelta(days=rng.randrange(30))
                pairings.append(
                    Pairing(
                        cadre_id=cadre_id, household_id=household.id, village_id=plan.village.id, start_on=paired_on
                    )
                )
    session.add_all(postings + pairings)
    session.flush()
    summary.postings += len(postings)
    summary.pairings = len(pairings)


def _scope(*parts: str) -> str:
    return "/".join(parts)


def _create_users(
    session: Session, rng: random.Random, county: County, plans: list[_VillagePlan], summary: OrgDemoSummary
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Admins with the shared demo password; cadres and villagers use the mini program's dev login."""
    password_hash = hash_password(DEMO_PASSWORD)  # argon2 is slow on purpose: hash once, reuse
    users: list[tuple[User, dict[str, Any]]] = []

    def admin(user: User, scope: str) -> None:
        user.password_hash = password_hash
        users.append((user, {"scope": scope, "password": DEMO_PASSWORD}))

    admin(
        User(
            username="county_admin", role=Role.county_admin, county_id=county.id, display_name=f"{county.name}委组织部"
        ),
        county.name,
    )
    towns_seen: list[int] = []
    for plan in plans:
        if plan.town.id not in towns_seen:
            towns_seen.append(plan.town.id)
            admin(
                User(
                    username=f"town_admin_{plan.town_pinyin}",
                    role=Role.town_admin,
                    town_id=plan.town.id,
                    display_name=f"{plan.town.name}党委",
                ),
                _scope(county.name, plan.town.name),
            )
    codes: list[dict[str, Any]] = []
    for plan in plans:
        village_scope = _scope(county.name, plan.town.name, plan.village.name)
        admin(
            User(
                username=f"reviewer_{plan.pinyin}",
                role=Role.reviewer,
                village_id=plan.village.id,
                display_name=f"{plan.village.name}评议小组",
            ),
            village_scope,
        )
        for number, member in enumerate(plan.team, start=1):
            user = User(
                username=f"cadre_{plan.pinyin}_{number}",
                role=Role.cadre,
                cadre_id=member.cadre.id,
                display_name=member.cadre.name,
            )
            posts = [POST_LABELS[member.post]] + ([POST_LABELS[Post.helper]] if member.is_helper else [])
            users.append((user, {"scope": village_scope, "posts": posts, "login": f"dev:{user.username}"}))
        # One villager from a poor household (has a helper) and one from an ordinary household.
        poor = next(h for h in plan.households if h.is_poor)
        ordinary = next(h for h in plan.households if not (h.is_poor or h.is_monitored))
        for index, household in enumerate((poor, ordinary), start=1):
            user = User(
                username=f"villager_{plan.pinyin}_{index}",
                role=Role.villager,
                household_id=household.id,
                display_name=f"村民({plan.village.name}{household.number}户)",
            )
            extra = {
                "scope": _scope(village_scope, f"{household.number}户"),
                "household_id": household.id,
                "login": f"dev:{user.username}",
            }
            users.append((user, extra))
        # Two unbound households with a printed card code, to demo binding in the mini program.
        for household in [h for h in plan.households if h not in (poor, ordinary)][-2:]:
            code = issue_binding_code(session, session.get_one(Household, household.id), rng=rng)
            codes.append(
                {
                    "household_id": household.id,
                    "village": village_scope,
                    "household_number": household.number,
                    "code": code,
                }
            )
    session.add_all([u for u, _ in users])
    session.flush()
    summary.users, summary.binding_codes = len(users), len(codes)
    accounts = [
        {"username": u.username, "role": u.role.value, "display_name": u.display_name, **extra} for u, extra in users
    ]
    return accounts, codes
