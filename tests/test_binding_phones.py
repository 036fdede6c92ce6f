"""Binding on the phone: every family member binds with the household's card code, an admin's revoke, reissue and
unbind take effect on the phone's next request, cadres join with an invitation, helpers get their families' phones."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from backend.audit.models import AuditEntry
from backend.auth import binding, invitations
from backend.auth.models import CadreInvitation, User
from backend.auth.scope import scope_for
from backend.errors import NotInScope
from backend.org.models import Household, Resident
from backend.timeutil import now_utc


def fresh_phone(api, wechat_code: str):  # type: ignore[no-untyped-def]
    """A phone whose WeChat signs in for the first time: an unbound villager account with its own token."""
    phone = api(None)
    phone.token = api(None).post("/auth/login", json={"code": wechat_code}).json["token"]
    return phone


def as_admin(database, world, name: str, act):  # type: ignore[no-untyped-def]
    """Run an admin's service call in its own committed transaction, as the admin page would."""
    with database() as s:
        admin = s.get(User, world.ids[f"user:{name}"])
        return act(s, scope_for(s, admin), admin)


def test_two_members_bind_one_household_each_with_their_own_token(api, world) -> None:
    code = world.binding_codes["H6"]
    husband, wife = fresh_phone(api, "wx-husband"), fresh_phone(api, "wx-wife")
    for phone in (husband, wife):
        assert phone.post("/auth/bind", json={"binding_code": code}).status_code == 200
    assert husband.token != wife.token
    for phone in (husband, wife):
        assert phone.get("/me").json["household_id"] == world.ids["H6"]
        assert phone.get(f"/households/{world.ids['H6']}").status_code == 200
    assert husband.get("/me").json["id"] != wife.get("/me").json["id"]


def test_binding_writes_an_audit_row_in_the_households_village(app, api, world, database) -> None:
    fresh_phone(api, "wx-a").post("/auth/bind", json={"binding_code": world.binding_codes["H6"]})
    with database() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "household.bind")).one()
        assert (entry.target_id, entry.village_id) == (world.ids["H6"], world.ids["V1"])


def test_a_revoked_code_is_refused(api, world, database) -> None:
    as_admin(database, world, "reviewer", lambda s, scope, a: binding.revoke_code(s, scope, a, world.ids["H6"]))
    refused = fresh_phone(api, "wx-late").post("/auth/bind", json={"binding_code": world.binding_codes["H6"]})
    assert refused.status_code == 422
    assert refused.json["code"] == "binding_code_invalid"


def test_a_reissued_code_replaces_the_old_one_and_bound_phones_stay_bound(api, world, database) -> None:
    early = fresh_phone(api, "wx-early")
    assert early.post("/auth/bind", json={"binding_code": world.binding_codes["H6"]}).status_code == 200
    new_code = as_admin(
        database, world, "town_admin", lambda s, scope, a: binding.reissue_code(s, scope, a, world.ids["H6"])
    )
    late = fresh_phone(api, "wx-late")
    old = late.post("/auth/bind", json={"binding_code": world.binding_codes["H6"]})
    assert old.json["code"] == "binding_code_invalid"
    assert late.post("/auth/bind", json={"binding_code": new_code}).json["household_id"] == world.ids["H6"]
    assert early.get("/me").json["household_id"] == world.ids["H6"]


def test_an_unbound_phone_is_refused_on_its_next_request_and_frees_its_place(api, world, database) -> None:
    code = world.binding_codes["H6"]
    lost, kept = fresh_phone(api, "wx-lost"), fresh_phone(api, "wx-kept")
    for phone in (lost, kept):
        phone.post("/auth/bind", json={"binding_code": code})
    lost_id = lost.get("/me").json["id"]
    as_admin(
        database, world, "reviewer", lambda s, scope, a: binding.unbind_phone(s, scope, a, world.ids["H6"], lost_id)
    )
    refused = lost.get(f"/households/{world.ids['H6']}")
    assert refused.status_code == 401
    assert refused.json["code"] == "unauthenticated"
    assert kept.get(f"/households/{world.ids['H6']}").status_code == 200
    # The family's new phone takes the freed place with the same card.
    assert fresh_phone(api, "wx-new").post("/auth/bind", json={"binding_code": code}).status_code == 200
    # Signing in again with the lost phone's WeChat gives an account bound to nothing.
    again = fresh_phone(api, "wx-lost")
    assert again.get("/me").json["household_id"] is None
    assert again.get(f"/households/{world.ids['H6']}").status_code == 403


@pytest.mark.parametrize("admin", ["reviewer_other", "town_admin_other", "county_admin_other"])
def test_admins_cannot_touch_the_binding_of_a_household_outside_their_area(world, database, admin) -> None:
    for act in (binding.revoke_code, binding.reissue_code):
        with pytest.raises(NotInScope):
            as_admin(database, world, admin, lambda s, scope, a, act=act: act(s, scope, a, world.ids["H6"]))
    with database() as s:
        assert s.get(Household, world.ids["H6"]).binding_code_hash is not None


# --- Cadre invitations ---


def invite(database, world, cadre_key: str = "cadre", admin: str = "town_admin") -> str:  # type: ignore[no-untyped-def]
    return as_admin(
        database, world, admin, lambda s, scope, a: invitations.invite_cadre(s, scope, a, world.ids[cadre_key]).code
    )


def release_cadre_wechat(database, world) -> None:  # type: ignore[no-untyped-def]
    as_admin(
        database, world, "town_admin", lambda s, scope, a: invitations.release_wechat(s, scope, a, world.ids["cadre"])
    )


def test_an_invited_cadres_wechat_becomes_the_cadres_login(api, world, database) -> None:
    code = invite(database, world)
    phone = fresh_phone(api, "wx-zhao")
    redeemed = phone.post("/auth/invitations/redeem", json={"invitation_code": code.lower()})
    assert redeemed.status_code == 200, redeemed.json
    user = redeemed.json["user"]
    assert (user["role"], user["id"]) == ("cadre", world.ids["user:cadre"])
    # The fresh villager account's token is retired; the new one is the cadre's, and so is every later WeChat login.
    assert phone.get("/me").status_code == 401
    phone.token = redeemed.json["token"]
    assert phone.get("/visits/coverage").status_code == 200
    assert fresh_phone(api, "wx-zhao").get("/me").json["id"] == world.ids["user:cadre"]


def test_an_invitation_redeems_once(api, world, database) -> None:
    code = world.invitation_code
    assert (
        fresh_phone(api, "wx-qian").post("/auth/invitations/redeem", json={"invitation_code": code}).status_code == 200
    )
    again = fresh_phone(api, "wx-other").post("/auth/invitations/redeem", json={"invitation_code": code})
    assert again.status_code == 422
    assert again.json["code"] == "invitation_invalid"


def test_an_expired_or_superseded_invitation_is_refused(api, world, database) -> None:
    first = invite(database, world)
    second = invite(database, world)
    superseded = fresh_phone(api, "wx-1").post("/auth/invitations/redeem", json={"invitation_code": first})
    assert superseded.json["code"] == "invitation_invalid"
    with database() as s:
        s.execute(update(CadreInvitation).values(expires_at=now_utc() - timedelta(seconds=1)))
    expired = fresh_phone(api, "wx-2").post("/auth/invitations/redeem", json={"invitation_code": second})
    assert expired.json["code"] == "invitation_invalid"


def test_a_cadre_account_bound_to_another_wechat_is_refused_until_an_admin_releases_it(api, world, database) -> None:
    code = invite(database, world)
    assert (
        fresh_phone(api, "wx-zhao").post("/auth/invitations/redeem", json={"invitation_code": code}).status_code == 200
    )
    with pytest.raises(Exception, match="已绑定其他微信"):
        invite(database, world)
    release_cadre_wechat(database, world)
    with database() as s:
        assert s.get(User, world.ids["user:cadre"]).wechat_openid is None
    code = invite(database, world)
    redeemed = fresh_phone(api, "wx-zhao-new-phone").post("/auth/invitations/redeem", json={"invitation_code": code})
    assert redeemed.json["user"]["id"] == world.ids["user:cadre"]


def test_a_cadre_whose_account_has_a_wechat_refuses_a_stray_invitation(api, world, database) -> None:
    code = invite(database, world)
    with database() as s:
        s.get(User, world.ids["user:cadre"]).wechat_openid = "dev-openid:someone-else"
    refused = fresh_phone(api, "wx-x").post("/auth/invitations/redeem", json={"invitation_code": code})
    assert refused.status_code == 409
    assert "解除" in refused.json["message"]


def test_a_bound_villager_cannot_turn_into_a_cadre(api, world) -> None:
    refused = api("villager").post("/auth/invitations/redeem", json={"invitation_code": world.invitation_code})
    assert refused.status_code == 403


@pytest.mark.parametrize("admin", ["reviewer_other", "town_admin_other", "county_admin_other"])
def test_admins_cannot_invite_a_cadre_outside_their_area(world, database, admin) -> None:
    with pytest.raises(NotInScope):
        invite(database, world, admin=admin)


def test_invitations_are_stored_as_keyed_hashes_and_audited(world, database) -> None:
    code = invite(database, world)
    with database() as s:
        stored = s.scalars(select(CadreInvitation.code_hash)).all()
        assert code not in stored
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "cadre.invite")).one()
        assert (entry.target_id, entry.village_id) == (world.ids["cadre"], world.ids["V1"])


# --- Helpers phone their paired households ---


def test_a_helper_gets_the_full_phones_of_their_own_paired_households_only(api, world, database) -> None:
    items = api("cadre").get("/households/paired").json["items"]
    assert [item["household_id"] for item in items] == [world.ids["H1"]]
    with database() as s:
        phones = set(s.scalars(select(Resident.phone).where(Resident.household_id == world.ids["H1"])))
    assert {c["phone"] for c in items[0]["contacts"]} == phones
    assert all("*" in c["name"] for c in items[0]["contacts"])
    # Another cadre (paired with nobody) gets nothing; everyone else is refused, and the household detail stays masked.
    assert api("cadre_far").get("/households/paired").json["items"] == []
    assert api("villager").get("/households/paired").status_code == 403
    detail = api("cadre").get(f"/households/{world.ids['H1']}").json
    assert all("*" in r["phone"] for r in detail["residents"])
