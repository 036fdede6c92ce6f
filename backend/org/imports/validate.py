"""The dry run: parsed rows + the database + the importing admin's scope → a plan of inserts and updates by
natural key, what each sheet would create, change or leave alone, and every problem by sheet, row and column.

Natural keys: a village by its code, a grid by (village, name), a household by (village code, household
number), a person by the keyed hash of the ID number. People are compared by their keyed hashes (name, phone,
ID), never decrypted; each value is validated, hashed and (later) encrypted once."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from backend.crypto import lookup_hash, mask_id_number, mask_name, mask_phone
from backend.db import any_of, read_rows
from backend.errors import InvalidRequest
from backend.org.identity import normalize_id_number, normalize_phone
from backend.org.imports.parse import ParsedFile, ParsedSheet, Problem
from backend.org.imports.sheets import (
    CADRES,
    FLAG_COLUMNS,
    GRIDS,
    HEAD,
    HOUSEHOLDS,
    NO,
    PAIRINGS,
    POSTS_BY_LABEL,
    RELATIONS,
    VILLAGES,
    YES,
    SheetSpec,
)
from backend.org.models import POST_LABELS, Cadre, Grid, Household, Pairing, Posting, Resident, Town, Village

SAMPLES = 5  # example rows per sheet and action in the preview
CHUNK = 10_000  # keys per lookup query (SQLite allows 32,766 parameters)
FLAGS = tuple(FLAG_COLUMNS.values())
FLAG_LABELS = dict(zip(FLAGS, FLAG_COLUMNS, strict=True))
Progress = Callable[[float], None]


@dataclass(frozen=True)
class ImportScope:
    """Where an import may write: a county admin the county, a town admin one town (`town_id`)."""

    county_id: int
    town_id: int | None
    village_ids: frozenset[int]


@dataclass
class SheetOutcome:
    counts: dict[str, int] = field(default_factory=lambda: {"create": 0, "update": 0, "same": 0})
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {"create": [], "update": [], "same": []})

    def add(self, action: str, row: int, what: str | Callable[[], str], changes: list[list[Any]] | None = None) -> None:
        """Count a row; keep it as an example if there are few yet (`what` may be a function: masking is done
        only for the rows shown)."""
        self.counts[action] += 1
        if len(self.samples[action]) < SAMPLES:
            label = what if isinstance(what, str) else what()
            self.samples[action].append({"row": row, "what": label, "changes": changes or []})


@dataclass
class Plan:
    """Rows to insert (parents named by natural key) and updates by id (only the columns that differ)."""

    inserts: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    updates: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    outcomes: dict[str, SheetOutcome] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    # Existing rows of changed people shown in the preview: (table, id) → sample, filled in with before values.
    personal_samples: list[tuple[str, int, dict[str, Any], dict[str, str]]] = field(default_factory=list)


@dataclass(frozen=True)
class Person:
    name: str
    id_number: str
    phone: str | None
    name_hash: str
    id_number_hash: str
    phone_hash: str | None


def check(session: Session, parsed: ParsedFile, scope: ImportScope, progress: Progress | None = None) -> Plan:
    checker = _Checker(session, parsed, scope, progress or (lambda _fraction: None))
    checker.run()
    fill_personal_before(session, checker.plan)
    return checker.plan


def fill_personal_before(session: Session, plan: Plan) -> None:
    """Show a changed name or phone in the preview as masked before → masked after."""
    models = {"resident": Resident, "cadre": Cadre}
    for table, row_id, sample, after in plan.personal_samples:
        model = models[table]
        before = session.execute(select(model.name, model.phone).where(model.id == row_id)).one()
        masked = {"name": mask_name(before.name), "phone": mask_phone(before.phone)}
        sample["changes"] += [[_LABELS[f], masked[f], after[f]] for f in after]


def _chunks(values: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def _digits(value: str | None, length: int) -> bool:
    return value is not None and len(value) == length and value.isascii() and value.isdigit()


class _Checker:
    def __init__(self, session: Session, parsed: ParsedFile, scope: ImportScope, progress: Progress) -> None:
        self.session, self.parsed, self.scope, self.progress = session, parsed, scope, progress
        self.plan = Plan(problems=list(parsed.problems))
        # Village code → existing village row (any county: a code is unique nationwide).
        self.villages: dict[str, Any] = {}
        # Village codes this file may write to: existing ones in scope, and the ones its 行政村 sheet adds.
        self.writable: set[str] = set()
        self.new_villages: set[str] = set()
        self.grids: dict[tuple[str, str], int | None] = {}  # (village code, name) → id, None if new
        self.households: dict[tuple[str, str], Any] = {}  # (village code, number) → existing row
        self.file_households: set[tuple[str, str]] = set()
        self.cadres: dict[str, Any] = {}  # ID hash → existing cadre of the county
        self.file_cadres: set[str] = set()
        self.rows_done, self.rows_total = 0, max(parsed.row_count, 1)

    # --- helpers ---------------------------------------------------------------------------------------

    def problem(self, spec: SheetSpec, row: int, key: str | None, message: str) -> None:
        self.plan.problems.append(Problem(spec.name, row, spec.header(key) if key else "", message))

    def outcome(self, spec: SheetSpec) -> SheetOutcome:
        return self.plan.outcomes.setdefault(spec.name, SheetOutcome())

    def tick(self, rows: int) -> None:
        self.rows_done += rows
        self.progress(self.rows_done / self.rows_total)

    def rows(self, stmt: Select, **params: Any) -> list[Any]:
        return list(read_rows(self.session, stmt, params or None))

    def village_ref(self, spec: SheetSpec, row: int, code: str | None, key: str = "village_code") -> bool:
        """Whether rows may name this village: it exists in the admin's scope or this file adds it."""
        if code in self.writable:
            return True
        if code not in self.villages:
            self.problem(spec, row, key, f"村代码“{code}”不存在")
        else:
            self.problem(spec, row, key, f"村代码“{code}”不在您的管辖范围内，不能导入")
        return False

    def person(
        self, spec: SheetSpec, row: int, name: str | None, id_number: str | None, phone: str | None
    ) -> Person | None:
        ok = True
        if name is None or len(name) > 20:
            self.problem(spec, row, "name", "请填写姓名（最长20字）")
            ok = False
        try:
            id_number = normalize_id_number(id_number or "")
        except InvalidRequest:
            self.problem(spec, row, "id_number", "身份证号码无效（位数、出生日期或校验位不对）")
            ok = False
        if phone is not None:
            try:
                phone = normalize_phone(phone)
            except InvalidRequest:
                self.problem(spec, row, "phone", "手机号码格式不对（应为11位手机号）")
                ok = False
        if not ok:
            return None
        assert name is not None and id_number is not None
        return Person(
            name,
            id_number,
            phone,
            lookup_hash(name),
            lookup_hash(id_number),
            None if phone is None else lookup_hash(phone),
        )

    def person_row(
        self,
        table: str,
        outcome: SheetOutcome,
        row: int,
        who: str | Callable[[], str],
        current: Any,
        person: Person,
        after: dict[str, Any],
        parent: dict[str, Any],
    ) -> None:
        """Create, change or leave alone a member or a cadre, found by the keyed hash of the ID number and compared
        by keyed hashes: a changed name or phone is encrypted again, an unchanged one never decrypted."""
        if current is None:
            personal = {"name": person.name, "id_number": person.id_number, "phone": person.phone}
            self.plan.inserts[table].append({**parent, **personal, "id_number_hash": person.id_number_hash, **after})
            outcome.add("create", row, who)
            return
        changes = {k: v for k, v in after.items() if getattr(current, k) != v}
        if not changes:
            outcome.add("same", row, who)
            return
        update: dict[str, Any] = {"id": current.id, **changes}
        if "name_hash" in changes:
            update["name"] = person.name
        if "phone_hash" in changes:
            update["phone"] = person.phone
        self.plan.updates[table].append(update)
        shown = [
            [_LABELS[k], _yes(getattr(current, k)), _yes(v)] for k, v in changes.items() if not k.endswith("_hash")
        ]
        self.changed_person(outcome, row, who, shown, table, current.id, person, changes)

    def changed_person(
        self,
        outcome: SheetOutcome,
        row: int,
        what: str | Callable[[], str],
        shown: list[list[Any]],
        table: str,
        row_id: int,
        person: Person,
        changes: dict[str, Any],
    ) -> None:
        """Count a changed person; if the preview shows this row, note which masked values to show before → after
        (the before values are decrypted for these few rows only, by `fill_personal_before`)."""
        samples = len(outcome.samples["update"])
        outcome.add("update", row, what, shown)
        if len(outcome.samples["update"]) > samples:
            fields = [f for f in ("name", "phone") if f"{f}_hash" in changes]
            after = {"name": mask_name(person.name), "phone": mask_phone(person.phone)}
            self.plan.personal_samples.append(
                (table, row_id, outcome.samples["update"][-1], {f: after[f] for f in fields})
            )

    def dates(self, spec: SheetSpec, row: int, start: Any, end: Any) -> tuple[date, date | None] | None:
        ok = True
        if not isinstance(start, date):
            self.problem(spec, row, "start_on", "请填写开始日期，如 2026-01-01")
            ok = False
        if end is not None and not isinstance(end, date):
            self.problem(spec, row, "end_on", "结束日期应写成 2026-01-01 这样的年-月-日")
            ok = False
        if ok and end is not None and end < start:
            self.problem(spec, row, "end_on", "结束日期早于开始日期")
            ok = False
        return (start, end) if ok else None

    # --- the run ---------------------------------------------------------------------------------------

    def run(self) -> None:
        sheets = self.parsed.sheets
        self.load_villages()
        for spec, check_sheet in (
            (VILLAGES, self.check_villages),
            (GRIDS, self.check_grids),
            (HOUSEHOLDS, self.check_households),
            (CADRES, self.check_cadres),
            (PAIRINGS, self.check_pairings),
        ):
            if spec.name in sheets:
                check_sheet(sheets[spec.name])
                self.tick(len(sheets[spec.name].rows))

    def load_villages(self) -> None:
        codes = set()
        for sheet in self.parsed.sheets.values():
            key = "code" if sheet.spec is VILLAGES else "village_code"
            index = [c.key for c in sheet.spec.columns].index(key)
            codes.update(values[index] for _row, values in sheet.rows if values[index])
        stmt = select(
            Village.id,
            Village.code,
            Village.name,
            Village.town_id,
            Village.center_lat,
            Village.center_lng,
            Village.fence_radius_m,
        ).where(any_of(Village.code, "codes"))
        for chunk in _chunks(sorted(codes)):
            for village in self.rows(stmt, codes=chunk):
                self.villages[village.code] = village
                if village.id in self.scope.village_ids:
                    self.writable.add(village.code)

    def load_grids(self, codes: Iterable[str]) -> None:
        ids = {self.villages[code].id: code for code in codes if code in self.villages}
        if ids:
            stmt = select(Grid.id, Grid.village_id, Grid.name).where(any_of(Grid.village_id, "ids"))
            for grid in self.rows(stmt, ids=list(ids)):
                self.grids.setdefault((ids[grid.village_id], grid.name), grid.id)

    def load_households(self, codes: Iterable[str]) -> None:
        ids = {self.villages[code].id: code for code in codes if code in self.villages}
        if not ids:
            return
        stmt = select(
            Household.id,
            Household.village_id,
            Household.number,
            Household.grid_id,
            Household.address,
            *(getattr(Household, flag) for flag in FLAGS),
        ).where(any_of(Household.village_id, "ids"))
        for household in self.rows(stmt, ids=list(ids)):
            self.households[(ids[household.village_id], household.number)] = household

    # --- 行政村 and 网格 -----------------------------------------------------------------------------------

    def check_villages(self, sheet: ParsedSheet) -> None:
        spec, outcome, scope = VILLAGES, self.outcome(VILLAGES), self.scope
        town_codes = sorted({values[0] for _row, values in sheet.rows if values[0]})
        towns = {
            t.code: t
            for t in self.rows(
                select(Town.id, Town.code, Town.county_id).where(any_of(Town.code, "codes")), codes=town_codes
            )
        }
        new_towns: dict[str, str] = {}
        seen: dict[str, int] = {}
        for row, (town_code, town_name, code, name, lat, lng, radius) in sheet.rows:
            problems = len(self.plan.problems)
            if not _digits(town_code, 9):
                self.problem(spec, row, "town_code", "乡镇代码应为9位数字")
            if not _digits(code, 12):
                self.problem(spec, row, "code", "村代码应为12位数字")
            elif town_code and not code.startswith(town_code):
                self.problem(spec, row, "code", "村代码的前9位应与乡镇代码一致")
            elif code in seen:
                self.problem(spec, row, "code", f"村代码与第{seen[code]}行重复")
            if name is None or len(name) > 40:
                self.problem(spec, row, "name", "请填写村名称（最长40字）")
            center = (_number(lat, -90, 90), _number(lng, -180, 180))
            if center[0] is None:
                self.problem(spec, row, "lat", "中心纬度应为 -90 到 90 之间的数字")
            if center[1] is None:
                self.problem(spec, row, "lng", "中心经度应为 -180 到 180 之间的数字")
            fence = 1500 if radius is None else _number(radius, 1, 100_000)
            if fence is None or fence != int(fence):
                self.problem(spec, row, "radius", "打卡半径应为 1 到 100000 之间的整数（米）")
            town = towns.get(town_code)
            if town is not None and town.county_id != scope.county_id:
                self.problem(spec, row, "town_code", "该乡镇不属于本县")
            elif scope.town_id is not None and (town is None or town.id != scope.town_id):
                self.problem(spec, row, "town_code", "只能导入本镇的行政村")
            elif town is None and town_name is None:
                self.problem(spec, row, "town_name", "新乡镇请填写乡镇名称")
            existing = self.villages.get(code)
            if existing is not None and town is not None and existing.town_id != town.id:
                self.problem(spec, row, "town_code", "该村已属于其他乡镇，导入不能迁移行政村")
            if len(self.plan.problems) > problems:
                continue
            seen[code] = row
            self.writable.add(code)
            if town is None and town_code not in new_towns:
                new_towns[town_code] = town_name
                self.plan.inserts["town"].append({"county_id": scope.county_id, "code": town_code, "name": town_name})
            after = {"name": name, "center_lat": center[0], "center_lng": center[1], "fence_radius_m": int(fence)}
            what = f"{code} {name}"
            if existing is None:
                self.new_villages.add(code)
                self.plan.inserts["village"].append({"code": code, "town_code": town_code, **after})
                outcome.add("create", row, what)
                continue
            changes = {k: v for k, v in after.items() if getattr(existing, k) != v}
            if changes:
                self.plan.updates["village"].append({"id": existing.id, **changes})
                outcome.add(
                    "update", row, what, [[_VILLAGE_LABELS[k], getattr(existing, k), v] for k, v in changes.items()]
                )
            else:
                outcome.add("same", row, what)

    def check_grids(self, sheet: ParsedSheet) -> None:
        spec, outcome = GRIDS, self.outcome(GRIDS)
        self.load_grids({values[0] for _row, values in sheet.rows if values[0]})
        seen: dict[tuple[str, str], int] = {}
        for row, (code, name) in sheet.rows:
            if not self.village_ref(spec, row, code):
                continue
            if name is None or len(name) > 40:
                self.problem(spec, row, "name", "请填写网格名称（最长40字）")
                continue
            if (code, name) in seen:
                self.problem(spec, row, "name", f"网格与第{seen[code, name]}行重复")
                continue
            seen[code, name] = row
            if (code, name) in self.grids:
                outcome.add("same", row, f"{code} {name}")
            else:
                self.grids[code, name] = None
                self.plan.inserts["grid"].append({"village_code": code, "name": name})
                outcome.add("create", row, f"{code} {name}")

    # --- 农户成员 ----------------------------------------------------------------------------------------

    def check_households(self, sheet: ParsedSheet) -> None:
        spec = HOUSEHOLDS
        codes = {values[0] for _row, values in sheet.rows if values[0]}
        if GRIDS.name not in self.parsed.sheets:
            self.load_grids(codes)
        self.load_households(codes)
        grid_names = {grid_id: name for (_code, name), grid_id in self.grids.items() if grid_id}
        members: dict[tuple[str, str], list[tuple[int, tuple[Any, ...], Person]]] = defaultdict(list)
        seen: dict[str, int] = {}
        writable, flag_values = self.writable, {None, YES, NO}
        for row, values in sheet.rows:
            code, number, _grid, _address, name, id_number, phone, relation = values[:8]
            ok = code in writable or self.village_ref(spec, row, code)
            if number is None or len(number) > 20:
                self.problem(spec, row, "number", "请填写户号（最长20字）")
                ok = False
            if relation not in RELATIONS:
                self.problem(spec, row, "relation", f"与户主关系应为：{'、'.join(RELATIONS)}")
                ok = False
            if not flag_values.issuperset(values[8:]):
                for header, value in zip(FLAG_COLUMNS, values[8:], strict=True):
                    if value not in flag_values:
                        self.plan.problems.append(Problem(spec.name, row, header, "应填写“是”或“否”"))
                ok = False
            person = self.person(spec, row, name, id_number, phone)
            if person is None:
                continue
            if person.id_number_hash in seen:
                self.problem(spec, row, "id_number", f"同一身份证号在第{seen[person.id_number_hash]}行已出现")
                continue
            seen[person.id_number_hash] = row
            if ok:
                members[code, number].append((row, values, person))
        self.progress(min(1.0, (self.rows_done + len(sheet.rows) / 2) / self.rows_total))
        residents, elsewhere = self.load_residents(members, seen)
        hh_outcome, member_outcome = self.outcome(spec), SheetOutcome()
        for key, rows in members.items():
            self.check_household(key, rows, residents, elsewhere, grid_names, hh_outcome, member_outcome)
            self.file_households.add(key)
        self.plan.outcomes[f"{spec.name}（成员）"] = member_outcome

    def load_residents(
        self, members: dict[tuple[str, str], list[Any]], seen: dict[str, int]
    ) -> tuple[dict[int, list[Any]], dict[str, Any]]:
        """The members of the file's existing households, and where else any of the file's people live."""
        ids = [self.households[key].id for key in members if key in self.households]
        by_household: dict[int, list[Any]] = defaultdict(list)
        stmt = select(
            Resident.id,
            Resident.household_id,
            Resident.id_number_hash,
            Resident.name_hash,
            Resident.phone_hash,
            Resident.relation,
            Resident.is_head,
            Resident.gender,
            Resident.birth_year,
        ).where(any_of(Resident.household_id, "ids"))
        for chunk in _chunks(ids):
            for resident in self.rows(stmt, ids=chunk):
                by_household[resident.household_id].append(resident)
        known = {r.id_number_hash for rows in by_household.values() for r in rows}
        elsewhere = {}
        others = (
            select(Resident.id_number_hash, Household.number, Village.code)
            .join(Household, Household.id == Resident.household_id)
            .join(Village, Village.id == Household.village_id)
            .where(any_of(Resident.id_number_hash, "hashes"))
        )
        for chunk in _chunks([h for h in seen if h not in known]):
            for resident in self.rows(others, hashes=chunk):
                elsewhere[resident.id_number_hash] = resident
        return by_household, elsewhere

    def check_household(
        self,
        key: tuple[str, str],
        rows: list[tuple[int, tuple[Any, ...], Person]],
        residents: dict[int, list[Any]],
        elsewhere: dict[str, Any],
        grid_names: dict[int, str],
        outcome: SheetOutcome,
        member_outcome: SheetOutcome,
    ) -> None:
        spec = HOUSEHOLDS
        heads = [entry for entry in rows if entry[1][7] == HEAD]
        first_row = rows[0][0]
        if not heads:
            self.problem(spec, first_row, "relation", f"户号“{key[1]}”没有户主：每户须有一名“户主”")
            return
        if len(heads) > 1:
            self.problem(spec, heads[1][0], "relation", f"户号“{key[1]}”有两名户主（另见第{heads[0][0]}行）")
            return
        head_row, head_values, _ = heads[0]
        code, number, grid, address = head_values[:4]
        problems = len(self.plan.problems)
        if grid is None or (code, grid) not in self.grids:
            self.problem(spec, head_row, "grid", f"网格“{grid or ''}”不存在：请先在“网格”表中列出")
        if address is None or len(address) > 120:
            self.problem(spec, head_row, "address", "请填写家庭住址（最长120字）")
        for row, values, _person in rows:
            for index in (2, 3):  # grid and address; the flags count on the head's row only
                if values[index] is not None and values[index] != head_values[index]:
                    header = spec.columns[index].header
                    self.plan.problems.append(Problem(spec.name, row, header, f"与户主所在行（第{head_row}行）不一致"))
        existing = self.households.get(key)
        household_residents = residents.get(existing.id, []) if existing else []
        by_hash = {r.id_number_hash: r for r in household_residents}
        for row, _values, person in rows:
            other = elsewhere.get(person.id_number_hash)
            if other is not None:
                self.problem(spec, row, "id_number", f"此人已登记在其他户（村代码 {other.code}，户号 {other.number}）")
        if len(self.plan.problems) > problems:
            return
        after = {"address": address, **{flag: head_values[8 + i] == YES for i, flag in enumerate(FLAGS)}}
        what = f"{code} 户号{number}"
        if existing is None:
            self.plan.inserts["household"].append({"village_code": code, "number": number, "grid": grid, **after})
            outcome.add("create", head_row, what)
        else:
            changes = {k: v for k, v in after.items() if getattr(existing, k) != v}
            shown = [
                [_LABELS.get(k) or FLAG_LABELS[k], _yes(getattr(existing, k)), _yes(v)] for k, v in changes.items()
            ]
            if self.grids[code, grid] != existing.grid_id:
                changes["grid"] = grid
                shown.append(["网格", grid_names.get(existing.grid_id, ""), grid])
            if changes:
                self.plan.updates["household"].append({"id": existing.id, "village_code": code, **changes})
                outcome.add("update", head_row, what, shown)
            else:
                outcome.add("same", head_row, what)
        in_file = set()
        for row, values, person in rows:
            in_file.add(person.id_number_hash)
            relation = values[7]
            after = {
                "name_hash": person.name_hash,
                "phone_hash": person.phone_hash,
                "relation": relation,
                "is_head": relation == HEAD,
                "gender": "男" if int(person.id_number[16]) % 2 else "女",
                "birth_year": int(person.id_number[6:10]),
            }
            current = by_hash.get(person.id_number_hash)
            self.person_row(
                "resident", member_outcome, row, _who(what, person), current, person, after, {"household": key}
            )
        # A member the file no longer names as head stops being one (the file's head replaces them).
        for resident in household_residents:
            if resident.is_head and resident.id_number_hash not in in_file:
                self.plan.updates["resident"].append({"id": resident.id, "is_head": False})
                member_outcome.add("update", head_row, f"{what} 原户主", [["户主", "是", "否"]])

    # --- 干部任职 ----------------------------------------------------------------------------------------

    def load_cadres(self, hashes: Iterable[str]) -> None:
        stmt = select(Cadre.id, Cadre.id_number_hash, Cadre.name_hash, Cadre.phone_hash, Cadre.work_unit).where(
            Cadre.county_id == self.scope.county_id, any_of(Cadre.id_number_hash, "hashes")
        )
        for chunk in _chunks(sorted(set(hashes) - self.cadres.keys())):
            for cadre in self.rows(stmt, hashes=chunk):
                self.cadres[cadre.id_number_hash] = cadre

    def check_cadres(self, sheet: ParsedSheet) -> None:
        spec, outcome, posting_outcome = CADRES, self.outcome(CADRES), SheetOutcome()
        people: dict[str, tuple[int, Person, str]] = {}
        postings: list[tuple[int, str, str, Any, date, date | None]] = []
        for row, (name, id_number, phone, work_unit, post_label, code, start, end) in sheet.rows:
            problems = len(self.plan.problems)
            person = self.person(spec, row, name, id_number, phone)
            if work_unit is None or len(work_unit) > 60:
                self.problem(spec, row, "work_unit", "请填写工作单位（最长60字）")
            post = POSTS_BY_LABEL.get(post_label or "")
            if post is None:
                self.problem(spec, row, "post", f"职务应为：{'、'.join(POST_LABELS.values())}")
            self.village_ref(spec, row, code)
            span = self.dates(spec, row, start, end)
            if len(self.plan.problems) > problems or person is None or span is None:
                continue
            first = people.get(person.id_number_hash)
            if first is None:
                people[person.id_number_hash] = (row, person, work_unit)
            elif (first[1].name_hash, first[1].phone_hash, first[2]) != (
                person.name_hash,
                person.phone_hash,
                work_unit,
            ):
                self.problem(spec, row, "id_number", f"同一身份证号的姓名、手机号或工作单位与第{first[0]}行不一致")
                continue
            postings.append((row, person.id_number_hash, code, post, *span))
        self.load_cadres(people)
        for hash_, (row, person, work_unit) in people.items():
            self.file_cadres.add(hash_)
            after = {"name_hash": person.name_hash, "phone_hash": person.phone_hash, "work_unit": work_unit}
            who = f"{mask_name(person.name)} {mask_id_number(person.id_number)}"
            new = {"county_id": self.scope.county_id}
            self.person_row("cadre", outcome, row, who, self.cadres.get(hash_), person, after, new)
        existing = self.load_postings()
        seen: dict[tuple[Any, ...], int] = {}
        for row, hash_, code, post, start, end in postings:
            key = (hash_, code, post, start)
            what = f"{mask_name(people[hash_][1].name)} {POST_LABELS[post]} {code} {start}"
            if key in seen:
                self.problem(spec, row, "start_on", f"同一任职与第{seen[key]}行重复")
                continue
            seen[key] = row
            current = existing.get(key)
            if current is None:
                self.plan.inserts["posting"].append(
                    {"cadre": hash_, "village_code": code, "post": post, "start_on": start, "end_on": end}
                )
                posting_outcome.add("create", row, what)
            elif current.end_on != end:
                self.plan.updates["posting"].append({"id": current.id, "end_on": end})
                posting_outcome.add("update", row, what, [["结束日期", _day(current.end_on), _day(end)]])
            else:
                posting_outcome.add("same", row, what)
        self.plan.outcomes[f"{spec.name}（任职）"] = posting_outcome

    def load_postings(self) -> dict[tuple[Any, ...], Any]:
        by_id = {cadre.id: hash_ for hash_, cadre in self.cadres.items()}
        codes = {v.id: code for code, v in self.villages.items()}
        stmt = select(Posting.id, Posting.cadre_id, Posting.village_id, Posting.post, Posting.start_on, Posting.end_on)
        found = {}
        for chunk in _chunks(list(by_id)):
            for p in self.rows(stmt.where(any_of(Posting.cadre_id, "ids")), ids=chunk):
                found[(by_id[p.cadre_id], codes.get(p.village_id), p.post, p.start_on)] = p
        return found

    # --- 结对帮扶 ----------------------------------------------------------------------------------------

    def check_pairings(self, sheet: ParsedSheet) -> None:
        spec, outcome = PAIRINGS, self.outcome(PAIRINGS)
        codes = {values[1] for _row, values in sheet.rows if values[1]}
        self.load_households(codes - {code for code, _number in self.households})
        helpers: dict[str, str] = {}
        entries = []
        for row, (helper_id, code, number, start, end) in sheet.rows:
            problems = len(self.plan.problems)
            try:
                helper_number = normalize_id_number(helper_id or "")
                helper = lookup_hash(helper_number)
                helpers[helper] = helper_number
            except InvalidRequest:
                self.problem(spec, row, "helper_id_number", "身份证号码无效（位数、出生日期或校验位不对）")
                helper = None
            known = (code, number) in self.households or (code, number) in self.file_households
            if self.village_ref(spec, row, code) and not known:
                self.problem(spec, row, "number", f"户号“{number or ''}”在该村不存在")
            span = self.dates(spec, row, start, end)
            if len(self.plan.problems) == problems and helper is not None and span is not None:
                entries.append((row, helper, (code, number), *span))
        self.load_cadres(helpers)
        household_ids = {self.households[key].id: key for _r, _h, key, _s, _e in entries if key in self.households}
        cadre_hashes = {cadre.id: hash_ for hash_, cadre in self.cadres.items()}
        existing: dict[tuple[Any, ...], Any] = {}
        current: dict[tuple[str, str], Any] = {}
        stmt = select(Pairing.id, Pairing.cadre_id, Pairing.household_id, Pairing.start_on, Pairing.end_on)
        for chunk in _chunks(list(household_ids)):
            for p in self.rows(stmt.where(any_of(Pairing.household_id, "ids")), ids=chunk):
                key = household_ids[p.household_id]
                existing[(cadre_hashes.get(p.cadre_id), key, p.start_on)] = p
                if p.end_on is None:
                    current[key] = p
        seen: dict[tuple[Any, ...], int] = {}
        current_in_file: dict[tuple[str, str], int] = {}
        for row, helper, key, start, end in entries:
            what = f"{mask_id_number(helpers[helper])} → {key[0]} 户号{key[1]} {start}"
            if helper not in self.cadres and helper not in self.file_cadres:
                self.problem(spec, row, "helper_id_number", "帮扶人不是本县干部：请先在“干部任职”中导入")
                continue
            if (helper, key, start) in seen:
                self.problem(spec, row, "start_on", f"同一结对与第{seen[helper, key, start]}行重复")
                continue
            seen[helper, key, start] = row
            if end is None:
                if key in current_in_file:
                    self.problem(
                        spec, row, "end_on", f"该户在第{current_in_file[key]}行已有在帮的结对：每户只能有一名帮扶人"
                    )
                    continue
                current_in_file[key] = row
            found = existing.get((helper, key, start))
            if found is not None:
                if found.end_on == end:
                    outcome.add("same", row, what)
                else:
                    self.plan.updates["pairing"].append({"id": found.id, "end_on": end})
                    outcome.add("update", row, what, [["结束日期", _day(found.end_on), _day(end)]])
                continue
            old = current.get(key)
            if end is None and old is not None:
                if start <= old.start_on:
                    self.problem(spec, row, "start_on", f"该户现有结对从 {old.start_on} 开始：新结对须晚于此日期")
                    continue
                self.plan.updates["pairing"].append({"id": old.id, "end_on": start - timedelta(days=1)})
                outcome.add(
                    "update", row, f"{key[0]} 户号{key[1]} 原结对", [["结束日期", "", _day(start - timedelta(days=1))]]
                )
            self.plan.inserts["pairing"].append({"cadre": helper, "household": key, "start_on": start, "end_on": end})
            outcome.add("create", row, what)


_LABELS = {
    "name": "姓名",
    "phone": "手机号",
    "address": "家庭住址",
    "relation": "与户主关系",
    "is_head": "户主",
    "gender": "性别",
    "birth_year": "出生年份",
    "work_unit": "工作单位",
}


_VILLAGE_LABELS = {"name": "村名称", "center_lat": "中心纬度", "center_lng": "中心经度", "fence_radius_m": "打卡半径"}


def _who(prefix: str, person: Person) -> Callable[[], str]:
    return lambda: f"{prefix} {mask_name(person.name)} {mask_id_number(person.id_number)}"


def _number(value: str | None, low: float, high: float) -> float | None:
    try:
        number = float(value or "")
    except ValueError:
        return None
    return number if low <= number <= high else None


def _yes(value: Any) -> Any:
    return YES if value is True else NO if value is False else value


def _day(value: date | None) -> str:
    return value.isoformat() if value else "（在任）"
