"""Input robustness of the admin forms as a property: every POST route of the admin UI, signed in as the demo
county's admin with a valid CSRF token, answers generated input without a 5xx: a refusal is a message, never a
server error.

Each form is sent as a page shows it (so the first example goes through), with a few fields changed to plausible
values or to junk (NUL, huge numbers and other scripts' digits, odd dates, newlines, very long or empty text,
broken JSON) or left out. The fields are those the page shows and those the view reads, found in its source
(`request.form.get("name")`, `form_int("name")`, f-strings, the module's helpers), so a new form, field or route
is fuzzed without an edit here. Budget: tests/fuzz_budget.py.
"""

from __future__ import annotations

import ast
import inspect
import io
import json
import textwrap
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from html.parser import HTMLParser
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from werkzeug.routing import AnyConverter, Rule

from backend.auth.models import User
from backend.db import db
from backend.demo.org import DEMO_PASSWORD
from backend.extensions import limiter
from backend.org.models import Cadre, County, Grid, Household, Posting, Resident, Town, Village
from backend.points import rules
from backend.points.models import Claim, MonthlyNotice, Objection, RuleBook
from backend.ratings.models import RatingScheme, Rectification
from backend.records.models import LeaveRequest
from backend.shop.models import Product, Redemption, RedemptionWindow
from backend.surveys.models import Survey, SurveyAlert
from backend.timeutil import today_local
from tests.admin_helpers import post_form, post_login
from tests.fuzz_budget import budget

# Signing in and out has tests of its own (tests/test_admin_ui.py); logging out would end the run's session.
UNSHOWN = {"admin.login", "admin.logout", "admin.static"}
# The rows a path parameter names: the newest few, so that generated values reach the checks past "not found".
PATH_ROWS: dict[str, Any] = {
    "leave_id": LeaveRequest.id,
    "notice_id": MonthlyNotice.id,
    "objection_id": Objection.id,
    "claim_id": Claim.id,
    "book_id": RuleBook.id,
    "owner_id": Village.id,
    "item_id": Rectification.id,
    "village_id": Village.id,
    "product_id": Product.id,
    "redemption_id": Redemption.id,
    "window_id": RedemptionWindow.id,
    "alert_id": SurveyAlert.id,
    "survey_id": Survey.id,
    "household_id": Household.id,
    "cadre_id": Cadre.id,
    "town_id": Town.id,
    "grid_id": Grid.id,
    "resident_id": Resident.id,
    "posting_id": Posting.id,
    "user_id": User.id,
}
ROWS_PER_PARAMETER = 4


# --- the fields a view reads, from its source ----------------------------------------------------------------


@dataclass
class Fields:
    """The form fields one view reads: names, files, and prefixes of names it reads by iterating the form."""

    names: set[str] = field(default_factory=set)
    files: set[str] = field(default_factory=set)
    prefixes: set[str] = field(default_factory=set)


def _is_request_part(node: ast.expr, part: str) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == part and getattr(node.value, "id", None) == "request"


def _texts(node: ast.expr | None, env: dict[str, list[str]]) -> list[str]:
    """The values a string expression may take: a formatted part reads as 0 (f"q{i}_prompt" → "q0_prompt"), a
    name its assigned value or the items of the tuple a loop takes it from."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        texts = [""]
        for value in node.values:
            parts = _texts(value, env) if isinstance(value, ast.Constant) else ["0"]
            texts = [text + part for text in texts for part in parts]
        return texts
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return [left + right for left in _texts(node.left, env) for right in _texts(node.right, env)]
    if isinstance(node, ast.Name):
        return env.get(node.id, [])
    if isinstance(node, ast.Tuple | ast.List):
        return [text for element in node.elts for text in _texts(element, env)]
    return []


# Stands for a helper's first parameter while finding out whether it names the field the helper reads.
FIRST = "\0first"


@dataclass
class Module:
    """A module's functions, and which of them read a form field (or a prefix) named by their first argument."""

    functions: dict[str, ast.FunctionDef]
    readers: set[str] = field(default_factory=set)
    prefix_readers: set[str] = field(default_factory=set)


def _parse(module: ModuleType) -> dict[str, ast.FunctionDef]:
    tree = ast.parse(textwrap.dedent(inspect.getsource(module)))
    return {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}


@cache
def _module(module: ModuleType) -> Module:
    import admin_ui.access

    parsed = Module({**_parse(admin_ui.access), **_parse(module)})
    # Fixed point: a helper whose first parameter is the name of a field it reads, directly or through another.
    while True:
        before = (len(parsed.readers), len(parsed.prefix_readers))
        for name, function in parsed.functions.items():
            if not function.args.args:
                continue
            first = function.args.args[0].arg
            found = Fields()
            _reads(function, parsed, found, seen=set(), env={first: [FIRST]})
            if FIRST in found.names:
                parsed.readers.add(name)
            if FIRST in found.prefixes:
                parsed.prefix_readers.add(name)
        if (len(parsed.readers), len(parsed.prefix_readers)) == before:
            return parsed


def _reads(function: ast.FunctionDef, module: Module, found: Fields, seen: set[str], env: dict[str, list[str]]) -> None:
    """The fields `function` reads, and those of the module's helpers it calls (their literal reads)."""
    seen.add(function.name)
    env = dict(env)
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            env[node.targets[0].id] = _texts(node.value, env)
        elif isinstance(node, ast.For | ast.comprehension) and isinstance(node.target, ast.Name):
            env[node.target.id] = _texts(node.iter, env)
    for node in ast.walk(function):
        if isinstance(node, ast.Subscript) and _is_request_part(node.value, "form"):
            found.names.update(_texts(node.slice, env))
        if not isinstance(node, ast.Call):
            continue
        first = _texts(node.args[0], env) if node.args else []
        callee = node.func
        if isinstance(callee, ast.Attribute) and callee.attr in ("get", "getlist"):
            if _is_request_part(callee.value, "form"):
                found.names.update(first)
            elif _is_request_part(callee.value, "files"):
                found.files.update(first)
        elif isinstance(callee, ast.Attribute) and callee.attr == "startswith":
            found.prefixes.update(text for text in first if text.endswith("_") or text == FIRST)
        elif isinstance(callee, ast.Name):
            if callee.id in module.readers:
                found.names.update(first)
            if callee.id in module.prefix_readers:
                found.prefixes.update(first)
            if callee.id in module.functions and callee.id not in seen:
                _reads(module.functions[callee.id], module, found, seen, {})


def view_fields(app: Flask, endpoint: str) -> Fields:
    view = inspect.unwrap(app.view_functions[endpoint])
    module = _module(inspect.getmodule(view))  # type: ignore[arg-type]
    found = Fields()
    _reads(module.functions[view.__name__], module, found, seen=set(), env={})
    return found


# --- generated values ------------------------------------------------------------------------------------------


def _numbers() -> st.SearchStrategy[str]:
    return st.one_of(
        st.integers().map(str),
        st.sampled_from(["2147483648", "-2147483649", "9" * 400, "1e400", "-0", "0x10", "1_000", "nan", "inf"]),
        st.sampled_from(["٣", "１２", "²", "߁", "३५", "Ⅻ", "一"]),  # digits str.isdigit or int() take, or not
        st.floats(allow_nan=True, allow_infinity=True).map(str),
    )


def _days() -> st.SearchStrategy[str]:
    today = today_local()
    return st.one_of(
        st.integers(-400, 400).map(lambda days: (today + timedelta(days=days)).isoformat()),
        st.integers(-10, 60).map(lambda days: f"{today + timedelta(days=days)}T08:00"),
    )


def _months() -> st.SearchStrategy[str]:
    today = today_local()
    return st.integers(-24, 24).map(
        lambda months: f"{today.year + (today.month + months - 1) // 12}-{(today.month + months - 1) % 12 + 1:02d}"
    )


ODD_DATES = [
    "0001-01-01",
    "9999-12-31",
    "9999-12",
    "0000-01",
    "2026-02-30",
    "2026-13",
    "２０２６-０５",
    "+10000-01-01",
    "2026-05-01T25:00",
    "2026-05-01T08:00+14:00",
]


def _json_texts(definitions: list[Any]) -> st.SearchStrategy[str]:
    """A scheme definition in force with one value replaced by junk, or any JSON at all."""
    junk = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
        max_leaves=6,
    )

    def mutated(definition: Any, path_and_value: tuple[int, Any]) -> str:
        paths = list(_paths(definition))
        path, value = paths[path_and_value[0] % len(paths)], path_and_value[1]
        copy = json.loads(json.dumps(definition))
        target = copy
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        return json.dumps(copy, ensure_ascii=False)

    pieces = [junk.map(lambda value: json.dumps(value, ensure_ascii=False))]
    if definitions:
        pieces.append(st.builds(mutated, st.sampled_from(definitions), st.tuples(st.integers(0, 10_000), junk)))
    return st.one_of(pieces)


def _paths(document: Any) -> Iterator[tuple]:
    return (path for path, _value in _leaves(document, leaves_only=False))


def _leaves(document: Any, prefix: tuple = (), *, leaves_only: bool = True) -> Iterator[tuple[tuple, Any]]:
    """(path, value) of every value inside a JSON document; with leaves_only, not lists and objects."""
    items = (
        document.items() if isinstance(document, dict) else enumerate(document) if isinstance(document, list) else ()
    )
    for key, value in items:
        if not leaves_only or not isinstance(value, dict | list):
            yield (*prefix, key), value
        yield from _leaves(value, (*prefix, key), leaves_only=leaves_only)


@cache
def _words(module: ModuleType) -> tuple[str, ...]:
    """Short lowercase words of a module's source: the choices its forms offer (approve, restock, weekly, …)."""
    tree = ast.parse(inspect.getsource(module))
    words = {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value.isascii()
        and node.value.replace("_", "").isalpha()
        and node.value.islower()
        and len(node.value) <= 20
    }
    return tuple(sorted(words))


def junk(definitions: list[Any]) -> st.SearchStrategy[str]:
    """What no form offers: odd numbers and dates, NUL, very long or empty text, JSON."""
    return st.one_of(
        _numbers(),
        st.sampled_from(ODD_DATES),
        st.text(max_size=20),
        st.sampled_from(["\n", "x\r\ny", "\t", " ", "<b>", "'\"", "\u202e", "\ufeff", "%0A", "../"]),
        st.text(st.characters(codec="utf-8"), min_size=1, max_size=5).map(lambda text: text + "\0"),
        st.integers(1, 20_000).map(lambda size: "长" * size),
        st.just(""),
        _json_texts(definitions),
    )


def plausible(name: str, words: tuple[str, ...]) -> st.SearchStrategy[str]:
    """What the form would send, guessed from the field's name, so that generated posts get past the first check."""
    if name.endswith("_id"):
        return st.integers(1, 60).map(str)  # the demo county's ids are small
    if "month" in name:
        return _months()
    if name.endswith(("_on", "_at", "_from")) or "date" in name:
        return _days()
    return st.one_of(st.sampled_from(words or ("x",)), st.integers(-3, 40).map(str), _days(), _months())


# --- the forms as the pages show them --------------------------------------------------------------------------


class PostForms(HTMLParser):
    """The post forms of a page: each its action and what a browser sends for it as the page stands (the values
    filled in, the options selected, the boxes ticked, the first submit button)."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.page = page
        self.forms: list[tuple[str, dict[str, str]]] = []
        self._form: dict[str, str] | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {key: value or "" for key, value in attrs}
        if tag == "form" and a.get("method", "").lower() == "post":
            self._form = {}
            self.forms.append((a.get("action") or self.page, self._form))
        selecting = tag == "option" and self._form is not None and self._select
        if selecting and ("selected" in a or self._select not in self._form):  # the selected option, or the first
            self._form[self._select] = a.get("value", "")
        if self._form is None or not a.get("name"):
            return
        name, kind = a["name"], a.get("type", "").lower()
        if (tag == "input" and kind not in ("checkbox", "radio", "file")) or (tag == "button" and kind != "button"):
            self._form.setdefault(name, a.get("value", ""))
        elif tag == "input" and kind in ("checkbox", "radio") and "checked" in a:
            self._form.setdefault(name, a.get("value") or "on")
        elif tag == "select":
            self._select = name
        elif tag == "textarea":
            self._textarea, self._form[name] = name, ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        self._select = None if tag == "select" else self._select
        self._textarea = None if tag == "textarea" else self._textarea

    def handle_data(self, data: str) -> None:
        if self._form is not None and self._textarea:
            self._form[self._textarea] += data


def shown_forms(app: Flask, client: FlaskClient) -> dict[str, tuple[dict[str, Any], dict[str, str]]]:
    """endpoint → (its path values, the form) of the first post form for it on any admin page."""
    adapter = app.url_map.bind("localhost")
    found: dict[str, tuple[dict[str, Any], dict[str, str]]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.endpoint.startswith("admin.") or "GET" not in rule.methods or rule.endpoint in UNSHOWN:
            continue
        with app.test_request_context():
            page = url_for(rule.endpoint, **{arg: ids[0] for arg, ids in _path_choices(rule).items()})
        response = client.get(page)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        parser = PostForms(page)
        parser.feed(response.get_data(as_text=True))
        for action, form in parser.forms:
            endpoint, path_values = adapter.match(urlsplit(action).path, method="POST")
            form.pop("csrf_token", None)
            found.setdefault(endpoint, (path_values, form))
    return found


# --- the test ------------------------------------------------------------------------------------------------


def _path_choices(rule: Rule) -> dict[str, list[Any]]:
    choices: dict[str, list[Any]] = {}
    for argument in sorted(rule.arguments):
        converter = rule._converters[argument]  # where werkzeug keeps an any()'s items
        if isinstance(converter, AnyConverter):
            choices[argument] = sorted(converter.items)
        elif argument == "level":
            choices[argument] = ["county", "town", "village"]
        else:
            assert argument in PATH_ROWS, f"{rule.endpoint}: which table's rows does <{argument}> name? (PATH_ROWS)"
            column = PATH_ROWS[argument]
            ids = list(db.session.scalars(select(column).order_by(column.desc()).limit(ROWS_PER_PARAMETER)))
            if argument == "owner_id":
                ids += [*db.session.scalars(select(Town.id).limit(1)), *db.session.scalars(select(County.id))]
            choices[argument] = ids or [1]
    return choices


@dataclass
class Route:
    rule: Rule
    fields: Fields
    path_choices: dict[str, list[Any]]  # a few real rows for each path value
    shown_path: dict[str, Any] | None  # the path values and the form of a page that shows the form, if one does
    shown: dict[str, str]
    words: tuple[str, ...]  # the choices its module's forms offer, and the scheme's indicator codes
    codes: tuple[str, ...]  # the scheme's indicator codes, which complete the names of prefixed fields
    junk: st.SearchStrategy[str]

    def requests(self) -> st.SearchStrategy[tuple[dict, dict]]:
        """(path values, form): the form as a page shows it with up to three fields changed, so that a refusal is
        of few changes, each to a plausible value or junk or left out; half of the changes are of fields the view
        reads, whichever the page shows. The first example is the form as shown, on the path it was shown for."""
        prefixed = [prefix + code for prefix in sorted(self.fields.prefixes) for code in self.codes]
        read = sorted(self.fields.names) + prefixed
        names = sorted(set(read) | set(self.shown))
        value = {name: plausible(name, self.words) | self.junk | st.none() for name in names}
        pick = st.sampled_from(read) | st.sampled_from(names) if read else st.sampled_from(names)
        changes = st.lists(pick.flatmap(lambda name: st.tuples(st.just(name), value[name])), max_size=3).map(dict)
        files = st.fixed_dictionaries(
            {},
            optional={
                name: st.binary(max_size=64).map(lambda data: (io.BytesIO(data), "x.jpg"))
                for name in sorted(self.fields.files)
            },
        )
        form = st.builds(
            lambda changed, sent: {**{k: v for k, v in {**self.shown, **changed}.items() if v is not None}, **sent},
            changes if names else st.just({}),
            files,
        )
        paths = st.fixed_dictionaries({name: st.sampled_from(ids) for name, ids in self.path_choices.items()})
        return st.tuples(st.just(self.shown_path) | paths if self.shown_path is not None else paths, form)


@pytest.fixture
def county_admin(app: Flask, demo_county, database, monkeypatch: pytest.MonkeyPatch) -> FlaskClient:  # type: ignore[no-untyped-def]
    # Rate limits (the pickup-code guess limit) would refuse most generated posts before the code behind them.
    monkeypatch.setattr(limiter, "enabled", False)
    with database() as session:
        # A draft of the county's rule book (the demo has none), so that the editor's save is reached.
        admin = session.scalars(select(User).where(User.username == "county_admin")).one()
        owner = rules.load_owner(session, "county", admin.county_id)
        rules.start_version(session, admin, owner, today_local() + timedelta(days=30))
    client = app.test_client()
    assert post_login(client, "county_admin", DEMO_PASSWORD).status_code == 302
    return client


def _routes(app: Flask, client: FlaskClient) -> list[Route]:
    with app.test_request_context():
        shown = shown_forms(app, client)
        definitions = [scheme.definition for scheme in db.session.scalars(select(RatingScheme))]
        codes = tuple(sorted({str(code) for d in definitions for path, code in _leaves(d) if path[-1] == "code"}))
        routes = []
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            if not rule.endpoint.startswith("admin.") or "POST" not in rule.methods or rule.endpoint in UNSHOWN:
                continue
            module = inspect.getmodule(inspect.unwrap(app.view_functions[rule.endpoint]))
            shown_path, shown_form = shown.get(rule.endpoint, (None, {}))
            words = _words(module) + codes  # type: ignore[arg-type]
            fields = view_fields(app, rule.endpoint)
            routes.append(
                Route(rule, fields, _path_choices(rule), shown_path, shown_form, words, codes, junk(definitions))
            )
        db.session.remove()
    return routes


def fuzz(app: Flask, client: FlaskClient, route: Route) -> None:
    @budget
    @given(request=route.requests())
    def post(request: tuple[dict[str, Any], dict[str, Any]]) -> None:
        path_values, form = request
        with app.test_request_context():
            path = url_for(route.rule.endpoint, **path_values)
        response = post_form(client, path, form)
        assert response.status_code < 500, f"{response.status_code} on POST {path} with {form!r}"

    post()


def test_every_admin_form_answers_generated_input_without_a_server_error(app: Flask, county_admin: FlaskClient, undone):  # type: ignore[no-untyped-def]
    routes = _routes(app, county_admin)
    assert len(routes) > 30
    assert sum(bool(route.shown) for route in routes) > 20, "the pages show most forms"
    failures = []
    for route in routes:
        try:
            with undone():
                fuzz(app, county_admin, route)
        except Exception as failure:  # a 500, or an error that escaped the error page
            failures.append(f"{route.rule.endpoint}: " + "".join(traceback.format_exception_only(failure)))
    assert not failures, "\n".join(failures)


def test_the_fields_of_a_view_are_read_from_its_source(app: Flask) -> None:
    """The reading of names the fuzzing relies on: literals, helpers, f-strings, a prefix, a file."""
    assert view_fields(app, "admin.save_cadre_settings").names >= {"visit_rule", "visits_required", "required_days"}
    rule_book = view_fields(app, "admin.points_save_rule_book").names
    assert {"item_count", "item-0-title", "item-0-points", "effective_from", "base_score"} <= rule_book
    assert {"q0_prompt", "q0_kind", "title", "preset"} <= view_fields(app, "admin.survey_templates").names
    assert view_fields(app, "admin.ratings_village_step").prefixes == {"score_", "reason_"}
    assert view_fields(app, "admin.shop_product_photo").files == {"photo"}
    assert view_fields(app, "admin.shop_product_create").names >= {"name", "points", "village_id", "limit_period"}
