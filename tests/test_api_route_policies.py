"""Every /api/ route × every role, in and out of scope. Denied calls change nothing.

A new route fails `test_every_api_route_has_a_policy_and_a_matrix_case` until it declares a
policy (miniprogram_api.policy.allow / public) and gets a case here.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from flask import Flask
from sqlalchemy import select

from backend.db import db
from backend.org.models import Household
from backend.timeutil import today_local
from miniprogram_api.policy import PUBLIC, policy_of
from tests.admin_helpers import count_queries
from tests.factories import NOTICE_MONTH, World
from tests.factories_shop import PICKUP_CODE
from tests.photo_corpus import tiny_jpeg

ROLES = ["villager", "cadre", "reviewer", "town_admin", "county_admin"]
# The users of tests.factories whose scope does NOT include household H1 / village V1, per role.
OUTSIDERS = {
    "villager": "villager_neighbour",
    "cadre": "cadre_far",
    "reviewer": "reviewer_other",
    "town_admin": "town_admin_other",
    "county_admin": "county_admin_other",
}
# The routes anyone may call, without a token: signing in, and the dev sign-in screen's list.
PUBLIC_ROUTES = {"mp_auth.login", "mp_auth.redeem_ticket", "mp_auth.dev_accounts"}
# flask-smorest's own documentation endpoints and the vendored static files.
LIBRARY_ENDPOINTS = {"api-docs.openapi_json", "api-docs.openapi_swagger_ui", "mp_static.static"}


@dataclass(frozen=True)
class Case:
    method: str
    path: Callable[[World], str]
    body: Callable[[World], dict] | None = None
    # Routes that name one household or village: the outsider of each role must be refused.
    names_a_resource: bool = False
    # Per-role outsider where the default one (OUTSIDERS) would legitimately see the resource.
    outsiders: dict[str, str] | None = None
    # Body sent as multipart/form-data (file uploads) instead of JSON.
    multipart: bool = False
    # Per-role caller where the role's default user cannot legitimately call (a phone not bound to a household).
    callers: dict[str, str] | None = None


CASES: dict[str, Case] = {
    "mp_auth.login": Case("POST", lambda w: "/auth/login", lambda w: {"code": "dev:t_villager"}),
    "mp_auth.issue_ticket": Case("POST", lambda w: "/auth/tickets"),
    "mp_auth.redeem_ticket": Case("POST", lambda w: "/auth/tickets/redeem", lambda w: {"ticket": w.signin_ticket}),
    "mp_auth.dev_accounts": Case("GET", lambda w: "/auth/dev-accounts"),
    "mp_auth.bind": Case("POST", lambda w: "/auth/bind", lambda w: {"binding_code": w.binding_codes["H6"]}),
    "mp_auth.redeem_invitation": Case(
        "POST",
        lambda w: "/auth/invitations/redeem",
        lambda w: {"invitation_code": w.invitation_code},
        callers={"villager": "villager_unbound"},
    ),
    "mp_auth.logout": Case("POST", lambda w: "/auth/logout"),
    "mp_auth.me": Case("GET", lambda w: "/me"),
    "mp_households.list_households": Case("GET", lambda w: "/households"),
    "mp_households.get_household": Case("GET", lambda w: f"/households/{w.ids['H1']}", names_a_resource=True),
    "mp_households.paired_households": Case("GET", lambda w: "/households/paired"),
    "mp_points.summary": Case("GET", lambda w: "/points/summary"),
    "mp_points.ledger_entries": Case("GET", lambda w: "/points/ledger"),
    "mp_points.rules": Case(
        "GET",
        lambda w: f"/rules?village_id={w.ids['V1']}",
        names_a_resource=True,
        outsiders={"villager": "villager_far"},
    ),
    "mp_points.submit": Case(
        "POST",
        lambda w: "/claims",
        lambda w: {
            "rule_item_id": w.ids["item:P06"],
            "occurred_on": today_local().isoformat(),
            "household_id": w.ids["H1"],
        },
        names_a_resource=True,
    ),
    "mp_points.list_claims": Case("GET", lambda w: "/claims"),
    "mp_review.pending_claims": Case("GET", lambda w: "/review/claims"),
    "mp_review.approve": Case("POST", lambda w: f"/review/claims/{w.ids['claim']}/approve", names_a_resource=True),
    "mp_review.reject": Case(
        "POST",
        lambda w: f"/review/claims/{w.ids['claim']}/reject",
        lambda w: {"reason": "证据不足"},
        names_a_resource=True,
    ),
    "mp_review.batch": Case(
        "POST", lambda w: "/review/claims/batch", lambda w: {"claim_ids": [w.ids["claim"]], "approve": True}
    ),
    "mp_surveys.pending": Case("GET", lambda w: "/surveys/pending"),
    "mp_surveys.respond": Case(
        "POST",
        lambda w: f"/surveys/{w.ids['survey']}/responses",
        lambda w: {
            "answers": [
                {"question_id": w.ids[f"survey_q{n}"], "value": value}
                for n, value in enumerate(["满意", "走访过一次", "满意", 5])
            ]
        },
        names_a_resource=True,
        # H2 (the default outsider) lives in V1 but is not invited: that is survey_not_invited, tested apart.
        outsiders={"villager": "villager_far"},
    ),
    "mp_records.check_in": Case(
        "POST",
        lambda w: "/checkins",
        lambda w: {"lat": 33.15, "lng": 107.33, "accuracy": 20, "village_id": w.ids["V1"]},
        names_a_resource=True,
    ),
    "mp_records.attendance": Case("GET", lambda w: "/attendance"),
    "mp_records.request_leave": Case(
        "POST",
        lambda w: "/leaves",
        lambda w: {"start_on": today_local().isoformat(), "end_on": today_local().isoformat(), "reason": "家中有事"},
    ),
    "mp_records.list_leaves": Case("GET", lambda w: "/leaves"),
    "mp_records.create_daily_record": Case(
        "POST",
        lambda w: "/daily-records",
        lambda w: {
            "date": today_local().isoformat(),
            "category": "visit",
            "content": "走访脱贫户",
            "place": "一组",
            "household_ids": [w.ids["H1"]],
        },
        names_a_resource=True,
    ),
    "mp_records.list_daily_records": Case("GET", lambda w: "/daily-records"),
    "mp_records.edit_daily_record": Case(
        "POST",
        lambda w: f"/daily-records/{w.ids['daily_record']}/edit",
        lambda w: {"content": "会议改到下午"},
        names_a_resource=True,
    ),
    "mp_records.amend_daily_record": Case(
        "POST",
        lambda w: f"/daily-records/{w.ids['daily_record']}/amendments",
        lambda w: {"reason": "补记参会人员", "content": "召开村两委会议，7 人参加"},
        names_a_resource=True,
    ),
    "mp_records.record_visit": Case(
        "POST",
        lambda w: "/visits",
        lambda w: {"household_id": w.ids["H1"], "purpose": "回访", "findings": "一切正常"},
        names_a_resource=True,
    ),
    "mp_records.list_visits": Case("GET", lambda w: "/visits"),
    "mp_records.visit_coverage": Case("GET", lambda w: "/visits/coverage"),
    "mp_records.list_problems": Case("GET", lambda w: "/problems"),
    "mp_records.start_problem": Case("POST", lambda w: f"/problems/{w.ids['problem']}/start", names_a_resource=True),
    "mp_records.close_problem": Case(
        "POST",
        lambda w: f"/problems/{w.ids['problem']}/close",
        lambda w: {"evidence": "已联系镇建设办维修完毕"},
        names_a_resource=True,
    ),
    "mp_points.get_publication": Case(
        "GET",
        lambda w: f"/publications/{NOTICE_MONTH}?village_id={w.ids['V1']}",
        names_a_resource=True,
        outsiders={"villager": "villager_far"},
    ),
    "mp_points.object_to_publication": Case(
        "POST", lambda w: f"/publications/{NOTICE_MONTH}/objections", lambda w: {"text": "第3户的加分与事实不符"}
    ),
    "mp_inbox.list_notifications": Case("GET", lambda w: "/notifications"),
    "mp_inbox.mark_read": Case("POST", lambda w: "/notifications/read", lambda w: {}),
    "mp_uploads.get_upload": Case(
        "GET", lambda w: f"/uploads/{w.photo_id}", names_a_resource=True, outsiders={"villager": "villager_far"}
    ),
    "mp_uploads.upload": Case(
        "POST", lambda w: "/uploads", lambda w: {"file": (io.BytesIO(tiny_jpeg()), "x.jpg")}, multipart=True
    ),
    # Points supermarket (the `world` fixture below adds the shop data these name).
    "mp_shop.products": Case(
        "GET",
        lambda w: f"/shop/products?village_id={w.ids['V1']}",
        names_a_resource=True,
        outsiders={"villager": "villager_far"},
    ),
    "mp_shop.redeem": Case(
        "POST",
        lambda w: "/shop/redemptions",
        lambda w: {"product_id": w.ids["product:rice"], "quantity": 1},
        names_a_resource=True,
        outsiders={"villager": "villager_far"},
    ),
    "mp_shop.my_redemptions": Case("GET", lambda w: "/shop/redemptions"),
    "mp_shop.cancel": Case(
        "POST", lambda w: f"/shop/redemptions/{w.ids['redemption:pending']}/cancel", names_a_resource=True
    ),
    "mp_shop.pickup_qr": Case(
        "GET", lambda w: f"/shop/redemptions/{w.ids['redemption:approved']}/qr.svg", names_a_resource=True
    ),
    "mp_shop_review.review_list": Case("GET", lambda w: "/review/redemptions"),
    "mp_shop_review.approve": Case(
        "POST", lambda w: f"/review/redemptions/{w.ids['redemption:pending']}/approve", names_a_resource=True
    ),
    "mp_shop_review.reject": Case(
        "POST",
        lambda w: f"/review/redemptions/{w.ids['redemption:pending']}/reject",
        lambda w: {"reason": "库存核对有误"},
        names_a_resource=True,
    ),
    "mp_shop_review.find_by_pickup_code": Case(
        "GET",
        lambda w: f"/review/redemptions/by-pickup-code?pickup_code={PICKUP_CODE}&village_id={w.ids['V1']}",
        names_a_resource=True,
    ),
    "mp_shop_review.hand_over": Case(
        "POST",
        lambda w: f"/review/redemptions/{w.ids['redemption:approved']}/hand-over",
        lambda w: {"pickup_code": PICKUP_CODE},
        names_a_resource=True,
    ),
    "mp_ratings.village": Case(
        "GET",
        lambda w: f"/ratings/villages/{w.ids['V1']}?month=2026-05",
        names_a_resource=True,
        outsiders={"villager": "villager_far"},
    ),
}


@pytest.fixture
def world(shop_world: World) -> World:
    """The factories' world plus the data other areas' routes name (shop: a product, redemptions)."""
    return shop_world


def api_endpoints(app: Flask) -> set[str]:
    return {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/") and rule.endpoint not in LIBRARY_ENDPOINTS
    }


# Text statements too: the ORM's and Core's are flagged on their execution context.
WRITE_VERB = re.compile(r"^\s*(INSERT|UPDATE|DELETE|MERGE)\b", re.IGNORECASE)


def is_write(statement: str, context) -> bool:  # type: ignore[no-untyped-def]
    """An INSERT, UPDATE or DELETE, kept or rolled back: a refused call must send none. (Stricter than comparing
    the tables before and after, and cheaper than reading them.)"""
    return bool(context.isinsert or context.isupdate or context.isdelete or WRITE_VERB.match(statement))


def call(api, user: str | None, case: Case, world: World):  # type: ignore[no-untyped-def]
    client = api(user)
    if case.method == "GET":
        return client.get(case.path(world))
    if case.multipart:
        return client.post(case.path(world), data=case.body(world), content_type="multipart/form-data")
    return client.post(case.path(world), json=case.body(world) if case.body else None)


def test_every_api_route_has_a_policy_and_a_matrix_case(app: Flask) -> None:
    endpoints = api_endpoints(app)
    with app.app_context():
        missing_policy = sorted(e for e in endpoints if policy_of(e) is None)
        public = {e for e in endpoints if policy_of(e) == PUBLIC}
    assert missing_policy == [], f"API routes without a policy: {missing_policy}"
    assert public == PUBLIC_ROUTES, "a route open to anyone must be listed in PUBLIC_ROUTES"
    assert sorted(endpoints - CASES.keys()) == [], "add a Case for each new route"
    assert sorted(CASES.keys() - endpoints) == [], "stale Case for a removed route"


@pytest.mark.parametrize("endpoint", sorted(CASES))
@pytest.mark.parametrize("role", ROLES)
def test_each_role_is_allowed_or_refused_by_the_route_policy(app, api, world, endpoint, role) -> None:
    case = CASES[endpoint]
    with app.app_context():
        policy = policy_of(endpoint)
    allowed = policy == PUBLIC or role in policy
    with count_queries(app, keep=is_write) as writes:
        response = call(api, (case.callers or {}).get(role, role), case, world)
    assert response.status_code < 500
    if allowed:
        assert response.status_code < 400, (endpoint, role, response.json)
    else:
        assert response.status_code == 403, (endpoint, role, response.status_code)
        assert response.json["code"] == "forbidden"
        assert writes == [], "a refused call changed data"


@pytest.mark.parametrize("endpoint", sorted(e for e, c in CASES.items() if c.names_a_resource))
@pytest.mark.parametrize("role", ROLES)
def test_a_user_outside_the_resource_scope_is_refused_and_nothing_changes(app, api, world, endpoint, role) -> None:
    case = CASES[endpoint]
    with app.app_context():
        policy = policy_of(endpoint)
    if policy != PUBLIC and role not in policy:
        pytest.skip("role refused by policy; covered above")
    with count_queries(app, keep=is_write) as writes:
        response = call(api, (case.outsiders or {}).get(role, OUTSIDERS[role]), case, world)
    assert response.status_code == 403, (endpoint, role, response.json)
    assert response.json["code"] == "not_in_scope"
    assert writes == [], "a refused call changed data"


@pytest.mark.parametrize("endpoint", sorted(CASES.keys() - PUBLIC_ROUTES))
def test_calls_without_a_token_get_unauthenticated_and_change_nothing(app, api, world, endpoint) -> None:
    with count_queries(app, keep=is_write) as writes:
        response = call(api, None, CASES[endpoint], world)
    assert response.status_code == 401
    assert response.json["code"] == "unauthenticated"
    assert writes == [], "a call without a token changed data"


@pytest.mark.parametrize(
    ("role", "visible"),
    [
        ("cadre", {"V1"}),
        ("reviewer", {"V1"}),
        ("town_admin", {"V1", "V2"}),
        ("county_admin", {"V1", "V2", "V3"}),
        ("county_admin_other", {"V4"}),
    ],
)
def test_household_list_holds_only_households_of_the_callers_villages(app, api, world, role, visible) -> None:
    response = api(role).get("/households?limit=100")
    assert response.status_code == 200
    villages = {item["village_id"] for item in response.json["items"]}
    assert villages == {world.ids[v] for v in visible}
    with app.app_context():
        expected = db.session.scalar(
            select(db.func.count()).where(Household.village_id.in_([world.ids[v] for v in visible]))
        )
    assert len(response.json["items"]) == expected


@pytest.mark.parametrize("endpoint", ["mp_points.submit", "mp_review.approve", "mp_shop.redeem"])
def test_the_write_check_of_refused_calls_sees_the_writes_of_an_allowed_one(app, api, world, endpoint) -> None:
    """The matrix's "nothing changed" rests on count_queries(app, keep=is_write): it must see a real write."""
    case = CASES[endpoint]
    with app.app_context():
        role = next(r for r in ROLES if r in policy_of(endpoint))
    with count_queries(app, keep=is_write) as writes:
        response = call(api, (case.callers or {}).get(role, role), case, world)
    assert response.status_code < 400, response.json
    assert any(w.lstrip().upper().startswith("INSERT") for w in writes), writes
