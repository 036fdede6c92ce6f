"""Rule books: versioned per county, town or village; a village uses the most specific one in force."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from sqlalchemy import Date, Integer, Select, bindparam, case, delete, func, or_, select
from sqlalchemy.orm import Session, selectinload

from backend.auth.models import Role, User
from backend.auth.scope import Scope, load_village
from backend.errors import InvalidRequest, NoRuleBook, NotFound, NotInScope, RuleVersionInForce
from backend.org.models import County, Town, Village
from backend.points.models import CapPeriod, ItemKind, RuleBook, RuleItem
from backend.points.presets import PRESETS, PresetItem
from backend.timeutil import today_local

Owner = County | Town | Village


def _owner_key(owner: Owner) -> str:
    return f"{owner.__tablename__}:{owner.id}"


def create_rule_book(
    session: Session,
    owner: Owner,
    *,
    title: str,
    effective_from: date,
    base_score: int,
    items: list[PresetItem],
    review_quorum: int = 1,
    actor_id: int | None = None,
) -> RuleBook:
    """Add the next version for this owner. Earlier versions stay as they were: claims point at them."""
    codes = [item["code"] for item in items]
    if len(codes) != len(set(codes)):
        raise InvalidRequest(errors={"items": ["事项编号不能重复"]})
    key = _owner_key(owner)
    version = (session.scalar(select(func.max(RuleBook.version)).where(RuleBook.owner == key)) or 0) + 1
    book = RuleBook(
        owner=key,
        county_id=owner.id if isinstance(owner, County) else None,
        town_id=owner.id if isinstance(owner, Town) else None,
        village_id=owner.id if isinstance(owner, Village) else None,
        version=version,
        title=title,
        effective_from=effective_from,
        base_score=base_score,
        review_quorum=review_quorum,
        created_by_id=actor_id,
    )
    book.items = [
        RuleItem(
            code=item["code"],
            kind=ItemKind(item["kind"]),
            title=item["title"],
            points=item["points"],
            evidence_required=item.get("evidence_required", False),
            cap_count=item.get("cap_count"),
            cap_period=CapPeriod(item["cap_period"]) if item.get("cap_period") else None,
            position=position,
        )
        for position, item in enumerate(items)
    ]
    session.add(book)
    session.flush()
    return book


def install_preset(
    session: Session, owner: Owner, preset: str, effective_from: date, actor_id: int | None = None
) -> RuleBook:
    data = PRESETS[preset]
    return create_rule_book(
        session,
        owner,
        title=data["title"],
        effective_from=effective_from,
        base_score=data["base_score"],
        items=data["items"],
        actor_id=actor_id,
    )


def _active_rule_book_statement() -> Select[tuple[RuleBook]]:
    """The most specific book in force for a village, in one query: its own, else its town's, else its
    county's; within one owner the latest effective date, then the highest version. Built once with bound
    parameters (village_id, on) so its compiled form is cached: the shop and the home screen ask per request."""
    place = (
        select(Village.id, Village.town_id, Town.county_id)
        .join(Town, Town.id == Village.town_id)
        .where(Village.id == bindparam("village_id", type_=Integer))
        .subquery()
    )
    most_specific = case((RuleBook.village_id.is_not(None), 0), (RuleBook.town_id.is_not(None), 1), else_=2)
    return (
        select(RuleBook)
        .join(
            place,
            or_(
                RuleBook.village_id == place.c.id,
                RuleBook.town_id == place.c.town_id,
                RuleBook.county_id == place.c.county_id,
            ),
        )
        .where(RuleBook.effective_from <= bindparam("on", type_=Date))
        .order_by(most_specific, RuleBook.effective_from.desc(), RuleBook.version.desc())
        .options(selectinload(RuleBook.items))
        .limit(1)
    )


_ACTIVE_RULE_BOOK = _active_rule_book_statement()


def active_rule_book(session: Session, village_id: int, on: date) -> RuleBook:
    """The village's own book if it has one in force, else its town's, else its county's."""
    book = session.scalar(_ACTIVE_RULE_BOOK, {"village_id": village_id, "on": on})
    if book is None:
        raise NoRuleBook()
    return book


def rules_in_force(session: Session, scope: Scope, village_id: int | None) -> RuleBook:
    """The book a caller's village uses today; callers covering several villages must name one."""
    if village_id is None:
        if len(scope.village_ids) != 1:
            raise InvalidRequest(errors={"village_id": ["请指定村"]})
        village_id = next(iter(scope.village_ids))
    if not scope.covers_village(village_id):
        raise NotInScope()
    return active_rule_book(session, village_id, today_local())


# --- Editing: new versions are drafts until their effective date, then read-only for good ---

OWNER_LEVELS = {"county": County, "town": Town, "village": Village}
CODE_PREFIX = {ItemKind.positive: "P", ItemKind.negative: "N", ItemKind.veto: "V"}


@dataclass(frozen=True)
class ItemInput:
    """One row of the editor; `code` is None for an item added in this version."""

    code: str | None
    kind: ItemKind
    title: str
    points: int
    evidence_required: bool = False
    cap_count: int | None = None
    cap_period: CapPeriod | None = None


@dataclass(frozen=True)
class VersionChanges:
    title: str
    effective_from: date
    base_score: int
    review_quorum: int
    veto_blocks_redemption: bool
    items: list[ItemInput]


def owner_of(session: Session, book: RuleBook) -> Owner:
    if book.county_id is not None:
        return session.get_one(County, book.county_id)
    if book.town_id is not None:
        return session.get_one(Town, book.town_id)
    return session.get_one(Village, book.village_id)


def load_owner(session: Session, level: str, owner_id: int) -> Owner:
    model = OWNER_LEVELS.get(level)
    owner = session.get(model, owner_id) if model is not None else None
    if owner is None:
        raise NotFound("规则所属单位不存在")
    return owner


def may_edit(user: User, owner: Owner) -> bool:
    """County admins edit their county's book and any town's or village's in it; town admins their
    town's and its villages'. The review panel applies the rules and does not write them."""
    if user.role == Role.county_admin:
        if isinstance(owner, County):
            return owner.id == user.county_id
        town = owner if isinstance(owner, Town) else owner.town
        return town.county_id == user.county_id
    if user.role == Role.town_admin:
        if isinstance(owner, Town):
            return owner.id == user.town_id
        return isinstance(owner, Village) and owner.town_id == user.town_id
    return False


def may_view(session: Session, scope: Scope, user: User, owner: Owner) -> bool:
    """Anyone whose villages the book applies to (or who may edit it)."""
    if may_edit(user, owner):
        return True
    if isinstance(owner, Village):
        return scope.covers_village(owner.id)
    column = Village.town_id if isinstance(owner, Town) else Town.county_id
    return (
        session.scalar(
            select(func.count(Village.id)).join(Town).where(column == owner.id, Village.id.in_(scope.village_ids))
        )
        or 0
    ) > 0


def is_draft(book: RuleBook, today: date | None = None) -> bool:
    """A version is editable only before it takes effect; from then on claims may point at its items."""
    return book.effective_from > (today or today_local())


@dataclass(frozen=True)
class OwnerBooks:
    owner: Owner
    level: str
    versions: list[RuleBook]  # newest first
    editable: bool


def rule_book_chain(session: Session, scope: Scope, user: User, village_id: int) -> tuple[list[OwnerBooks], RuleBook]:
    """The village, its town and its county with their own versions, and the book the village uses today."""
    village = load_village(session, scope, village_id)
    chain: list[OwnerBooks] = []
    for level, owner in (("village", village), ("town", village.town), ("county", village.town.county)):
        versions = list(
            session.scalars(
                select(RuleBook)
                .where(RuleBook.owner == _owner_key(owner))
                .order_by(RuleBook.version.desc())
                .options(selectinload(RuleBook.items))
            )
        )
        chain.append(OwnerBooks(owner, level, versions, may_edit(user, owner)))
    return chain, active_rule_book(session, village.id, today_local())


def load_book(session: Session, scope: Scope, user: User, book_id: int) -> tuple[RuleBook, Owner]:
    book = session.get(RuleBook, book_id)
    if book is None:
        raise NotFound("规则版本不存在")
    owner = owner_of(session, book)
    if not may_view(session, scope, user, owner):
        raise NotInScope()
    return book, owner


def _book_to_copy(session: Session, owner: Owner) -> RuleBook:
    """The owner's newest version, else what its villages inherit today (a town starts from its county's)."""
    own = session.scalar(
        select(RuleBook).where(RuleBook.owner == _owner_key(owner)).order_by(RuleBook.version.desc()).limit(1)
    )
    if own is not None:
        return own
    if isinstance(owner, Village):
        return active_rule_book(session, owner.id, today_local())
    parent = owner.county if isinstance(owner, Town) else None
    book = (
        session.scalar(
            select(RuleBook)
            .where(RuleBook.owner == _owner_key(parent), RuleBook.effective_from <= today_local())
            .order_by(RuleBook.effective_from.desc(), RuleBook.version.desc())
            .limit(1)
        )
        if parent is not None
        else None
    )
    if book is None:
        raise NoRuleBook("没有可复制的积分规则：请先为县设置规则")
    return book


def _check_future(effective_from: date) -> None:
    if effective_from <= today_local():
        raise InvalidRequest(
            "生效日期必须晚于今天", errors={"effective_from": ["生效日期必须晚于今天：已评议的申报按原版本执行"]}
        )


def start_version(session: Session, user: User, owner: Owner, effective_from: date) -> RuleBook:
    """A new version as a copy of the current one, to be edited until it takes effect."""
    if not may_edit(user, owner):
        raise NotInScope("无权修改该级积分规则")
    _check_future(effective_from)
    source = _book_to_copy(session, owner)
    book = create_rule_book(
        session,
        owner,
        title=source.title,
        effective_from=effective_from,
        base_score=source.base_score,
        items=[_as_preset(item) for item in source.items],
        review_quorum=source.review_quorum,
        actor_id=user.id,
    )
    book.veto_blocks_redemption = source.veto_blocks_redemption
    session.flush()
    return book


def _as_preset(item: RuleItem | ItemInput) -> PresetItem:
    data: PresetItem = {
        "code": item.code or "",
        "kind": item.kind.value,
        "title": item.title,
        "points": item.points,
        "evidence_required": item.evidence_required,
    }
    if item.cap_count is not None and item.cap_period is not None:
        data["cap_count"], data["cap_period"] = item.cap_count, item.cap_period.value
    return data


def _validate(changes: VersionChanges, codes: set[str]) -> dict[str, list[str]]:
    """What is wrong with an edited version; `codes` are the draft's item codes, the only ones a row may keep."""
    errors: dict[str, list[str]] = {}
    if not changes.title.strip() or len(changes.title) > 80:
        errors["title"] = ["标题为 1–80 个字"]
    if not 0 <= changes.base_score <= 100_000:
        errors["base_score"] = ["基础分应在 0–100000 之间"]
    if not 1 <= changes.review_quorum <= 9:
        errors["review_quorum"] = ["评议通过人数应在 1–9 之间"]
    if not changes.items:
        errors["items"] = ["至少保留一个事项"]
    for n, item in enumerate(changes.items, start=1):
        problems = []
        if item.code is not None and item.code not in codes:
            problems.append("事项编号无效")
        if not item.title.strip() or len(item.title) > 120:
            problems.append("事项名称为 1–120 个字")
        if not 0 <= item.points <= 10_000:
            problems.append("分值应在 0–10000 之间")
        if (item.cap_count is None) != (item.cap_period is None):
            problems.append("上限次数与周期须同时填写")
        elif item.cap_count is not None and item.cap_count < 1:
            problems.append("上限次数至少为 1")
        if problems:
            errors[f"items.{n}"] = problems
    return errors


def _next_codes(session: Session, items: list[ItemInput]) -> list[ItemInput]:
    """New items get a code never used before for that kind, so caps never count another deed's claims."""
    used: dict[str, int] = {}
    for prefix in {CODE_PREFIX[item.kind] for item in items if item.code is None}:
        numbers = [
            int(number)
            for code in session.scalars(select(RuleItem.code).where(RuleItem.code.startswith(prefix)).distinct())
            if (number := code[len(prefix) :]).isascii() and number.isdigit()  # "P²" passes isdigit, not int()
        ]
        used[prefix] = max(numbers, default=0)
    coded = []
    for item in items:
        if item.code is None:
            prefix = CODE_PREFIX[item.kind]
            used[prefix] += 1
            item = replace(item, code=f"{prefix}{used[prefix]:02d}")
        coded.append(item)
    return coded


def editable_book(session: Session, scope: Scope, user: User, book_id: int) -> tuple[RuleBook, Owner]:
    """A version this user may still change: their level's, and not yet in force."""
    book, owner = load_book(session, scope, user, book_id)
    if not may_edit(user, owner):
        raise NotInScope("无权修改该级积分规则")
    if not is_draft(book):
        raise RuleVersionInForce()
    return book, owner


def update_version(session: Session, scope: Scope, user: User, book_id: int, changes: VersionChanges) -> RuleBook:
    """Rewrite a draft version (settings and the whole item list); a version in force is read-only."""
    book, _owner = editable_book(session, scope, user, book_id)
    _check_future(changes.effective_from)
    errors = _validate(changes, {item.code for item in book.items})
    if errors:
        raise InvalidRequest("请检查标红的内容", errors=errors)
    items = _next_codes(session, changes.items)
    codes = [item.code for item in items]
    if len(codes) != len(set(codes)):
        raise InvalidRequest(errors={"items": ["事项编号不能重复"]})
    book.title = changes.title.strip()
    book.effective_from = changes.effective_from
    book.base_score = changes.base_score
    book.review_quorum = changes.review_quorum
    book.veto_blocks_redemption = changes.veto_blocks_redemption
    # No claim or entry can point at a draft's items (they are judged by books already in force).
    _drop_items(session, book)
    book.items.extend(
        RuleItem(
            code=item.code,
            kind=item.kind,
            title=item.title.strip(),
            points=item.points,
            evidence_required=item.evidence_required,
            cap_count=item.cap_count,
            cap_period=item.cap_period,
            position=position,
        )
        for position, item in enumerate(items)
    )
    session.flush()
    return book


def discard_version(session: Session, scope: Scope, user: User, book_id: int) -> Owner:
    """Withdraw a version that has not taken effect yet."""
    book, owner = editable_book(session, scope, user, book_id)
    _drop_items(session, book)
    session.delete(book)
    session.flush()
    return owner


def _drop_items(session: Session, book: RuleBook) -> None:
    session.execute(delete(RuleItem).where(RuleItem.rule_book_id == book.id))
    session.expire(book, ["items"])
