"""Binding in the admin UI: the household page's binding section, household cards as PDF, 查看完整信息, cadre
invitations; every action is audited and refused outside the admin's area."""

from __future__ import annotations

import io
import re

import pytest
import segno
from pypdf import PdfReader
from sqlalchemy import func, select

from backend.audit.models import AuditEntry
from backend.auth.models import User
from backend.crypto import lookup_hash
from backend.org.models import Household, Resident
from tests.admin_helpers import html, post_form
from tests.test_binding_phones import fresh_phone

CODE = re.compile(r"\b([2-9A-HJ-NP-Z]{4})-([2-9A-HJ-NP-Z]{4})\b")


def audit_rows(database, action: str) -> list[AuditEntry]:  # type: ignore[no-untyped-def]
    with database() as s:
        rows = list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))
        s.expunge_all()
        return rows


def pdf_text(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, html(response)
    assert response.mimetype == "application/pdf"
    return [page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages]


def codes_in(text: str) -> list[str]:
    return ["".join(groups) for groups in CODE.findall(text)]


RECT = re.compile(r"([-\d.]+) ([-\d.]+) ([-\d.]+) ([-\d.]+) re\b")


def drawn_qr(response, page: int) -> set[tuple[int, int]]:  # type: ignore[no-untyped-def]
    """The dark modules (row, column) of the QR drawn on a page of the PDF, read back from its square rects."""
    content = PdfReader(io.BytesIO(response.data)).pages[page].get_contents().get_data().decode("latin-1")
    squares = [(x, y, w) for x, y, w, h in (map(float, m.groups()) for m in RECT.finditer(content)) if w == h]
    module = min(w for _x, _y, w in squares)
    left, top = min(x for x, _y, _w in squares), max(y for _x, y, _w in squares)
    return {(round((top - y) / module), round((x - left) / module)) for x, y, _w in squares}


def qr_of(code: str) -> set[tuple[int, int]]:
    """The dark modules of the code's QR as the card must draw it (a full QR: Micro QR is not read by WeChat)."""
    return {(r, c) for r, row in enumerate(segno.make_qr(code, error="m").matrix) for c, dark in enumerate(row) if dark}


def test_the_household_page_shows_the_code_state_and_the_bound_phones(api, admin, world) -> None:
    fresh_phone(api, "wx-a").post("/auth/bind", json={"binding_code": world.binding_codes["H6"]})
    page = html(admin("reviewer").get(f"/admin/households/{world.ids['H6']}"))
    assert "手机绑定" in page and "有效" in page
    assert "1 / 2 部" in page
    assert "解绑（手机丢失或更换）" in page and "查看完整信息" in page


def test_a_household_card_carries_its_number_the_masked_head_the_helper_the_rules_and_a_fresh_code(
    admin, world, database
) -> None:
    response = post_form(admin("reviewer"), f"/admin/households/{world.ids['H1']}/card.pdf", {})
    (text,) = pdf_text(response)
    assert "户号：001" in text and "青石村" in text and "明白卡" in text
    assert "户主：王*" in text
    assert "帮扶责任人：赵第一" in text and "联系电话：137" in text  # the helper in full, for the family to call
    assert "积分规则" in text and "基础分" in text
    (code,) = set(codes_in(text))
    assert drawn_qr(response, 0) == qr_of(code)
    with database() as s:
        assert s.get(Household, world.ids["H1"]).binding_code_hash == lookup_hash(code)
    (entry,) = audit_rows(database, "household.print")
    assert entry.target_id == world.ids["H1"]


def test_printing_a_village_gives_a_page_per_household_and_invalidates_the_old_codes(
    api, admin, world, database
) -> None:
    client = admin("town_admin")
    unconfirmed = post_form(client, f"/admin/villages/{world.ids['V1']}/cards.pdf", {})
    assert unconfirmed.status_code == 302
    assert "旧卡" in html(client.get("/admin/binding/cards"))
    assert (
        fresh_phone(api, "wx-a").post("/auth/bind", json={"binding_code": world.binding_codes["H6"]}).status_code == 200
    )
    response = post_form(client, f"/admin/villages/{world.ids['V1']}/cards.pdf", {"confirm": "1"})
    pages = pdf_text(response)
    assert sorted(re.search(r"户号：(\d+)", page).group(1) for page in pages) == ["001", "002", "003"]
    new_codes = [codes_in(page)[0] for page in pages]
    assert len(set(new_codes)) == 3
    assert [drawn_qr(response, n) for n in range(3)] == [qr_of(code) for code in new_codes]
    old = fresh_phone(api, "wx-b").post("/auth/bind", json={"binding_code": world.binding_codes["H6"]})
    assert old.json["code"] == "binding_code_invalid"
    assert fresh_phone(api, "wx-a").get("/me").json["household_id"] == world.ids["H6"]  # bound phones stay bound
    (entry,) = audit_rows(database, "village.print")
    assert (entry.target_id, entry.town_id) == (world.ids["V1"], world.ids["T1"])


def test_reissue_shows_the_new_code_once_and_it_binds(api, admin, world, database) -> None:
    response = post_form(admin("reviewer"), f"/admin/households/{world.ids['H6']}/binding/reissue", {})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    (code,) = codes_in(html(response))
    assert "<svg" in html(response)
    bound = fresh_phone(api, "wx-a").post("/auth/bind", json={"binding_code": code})
    assert bound.json["household_id"] == world.ids["H6"]
    assert len(audit_rows(database, "binding_code.issue")) == 1


def test_revoke_from_the_household_page_refuses_the_code(api, admin, world, database) -> None:
    client = admin("reviewer")
    response = post_form(client, f"/admin/households/{world.ids['H6']}/binding/revoke", {})
    assert response.status_code == 302
    assert "没有有效的绑定码" in html(client.get(f"/admin/households/{world.ids['H6']}"))
    refused = fresh_phone(api, "wx-a").post("/auth/bind", json={"binding_code": world.binding_codes["H6"]})
    assert refused.json["code"] == "binding_code_invalid"
    assert len(audit_rows(database, "binding_code.revoke")) == 1


def test_unbinding_a_lost_phone_from_the_household_page_signs_it_out_at_once(api, admin, world, database) -> None:
    phone = fresh_phone(api, "wx-lost")
    phone.post("/auth/bind", json={"binding_code": world.binding_codes["H6"]})
    user_id = phone.get("/me").json["id"]
    response = post_form(admin("reviewer"), f"/admin/households/{world.ids['H6']}/binding/phones/{user_id}/unbind", {})
    assert response.status_code == 302
    assert phone.get("/points/summary").status_code == 401
    with database() as s:
        assert s.get(User, user_id).household_id is None
    (entry,) = audit_rows(database, "user.unbind")
    assert entry.target_id == user_id


def test_reveal_shows_the_full_phone_and_id_number_and_is_audited(admin, world, database) -> None:
    with database() as s:
        resident = s.scalars(select(Resident).where(Resident.household_id == world.ids["H1"], Resident.is_head)).one()
        resident_id, phone, id_number = resident.id, resident.phone, resident.id_number
    client = admin("reviewer")
    assert phone not in html(client.get(f"/admin/households/{world.ids['H1']}"))
    path = f"/admin/households/{world.ids['H1']}/residents/{resident_id}/reveal"
    assert client.get(path).status_code == 405
    response = post_form(client, path, {})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert phone in html(response) and id_number in html(response)
    (entry,) = audit_rows(database, "resident.reveal")
    assert (entry.target_id, entry.village_id) == (resident_id, world.ids["V1"])
    assert phone not in entry.summary and id_number not in entry.summary


def test_a_resident_of_another_household_cannot_be_revealed_through_this_one(admin, world, database) -> None:
    with database() as s:
        far = s.scalars(select(Resident.id).where(Resident.household_id == world.ids["H4"])).first()
    response = post_form(admin("reviewer"), f"/admin/households/{world.ids['H1']}/residents/{far}/reveal", {})
    assert response.status_code == 404
    assert audit_rows(database, "resident.reveal") == []


def test_a_cadre_invitation_from_the_admin_page_becomes_the_cadres_wechat_login(api, admin, world, database) -> None:
    client = admin("town_admin")
    assert "未绑定" in html(client.get("/admin/binding/cadres"))
    response = post_form(client, f"/admin/binding/cadres/{world.ids['cadre']}/invite", {})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    (code,) = codes_in(html(response))
    redeemed = fresh_phone(api, "wx-zhao").post("/auth/invitations/redeem", json={"invitation_code": code})
    assert redeemed.json["user"]["id"] == world.ids["user:cadre"]
    assert "已绑定" in html(client.get("/admin/binding/cadres"))
    assert post_form(client, f"/admin/binding/cadres/{world.ids['cadre']}/release", {}).status_code == 302
    phone = api(None)
    phone.token = redeemed.json["token"]
    assert phone.get("/me").status_code == 401
    actions = {e.action for e in audit_rows(database, "cadre.invite") + audit_rows(database, "cadre.bind")}
    assert actions == {"cadre.invite", "cadre.bind"} and len(audit_rows(database, "cadre.unbind")) == 1


# --- Scope: an admin of another town or county touches nothing here ---

ACTIONS = {
    "card": lambda w: (f"/admin/households/{w.ids['H6']}/card.pdf", {}),
    "reissue": lambda w: (f"/admin/households/{w.ids['H6']}/binding/reissue", {}),
    "revoke": lambda w: (f"/admin/households/{w.ids['H6']}/binding/revoke", {}),
    "unbind": lambda w: (f"/admin/households/{w.ids['H6']}/binding/phones/{w.ids['user:villager']}/unbind", {}),
    "reveal": lambda w: (f"/admin/households/{w.ids['H6']}/residents/{w.ids['resident:H6']}/reveal", {}),
    "village cards": lambda w: (f"/admin/villages/{w.ids['V1']}/cards.pdf", {"confirm": "1"}),
    "invite": lambda w: (f"/admin/binding/cadres/{w.ids['cadre']}/invite", {}),
    "release": lambda w: (f"/admin/binding/cadres/{w.ids['cadre']}/release", {}),
}


@pytest.mark.parametrize("action", sorted(ACTIONS))
@pytest.mark.parametrize("outsider", ["town_admin_other", "county_admin_other", "reviewer_other"])
def test_an_admin_outside_the_area_is_refused_and_nothing_is_written(admin, world, database, action, outsider) -> None:
    with database() as s:
        world.ids["resident:H6"] = s.scalars(
            select(Resident.id).where(Resident.household_id == world.ids["H6"])
        ).first()
        before = s.get(Household, world.ids["H6"]).binding_code_hash
    path, form = ACTIONS[action](world)
    client = admin(outsider)
    response = post_form(client, path, form)
    if response.status_code == 302:  # a form that answers with a flashed message says why
        with client.session_transaction() as session:
            assert [m for _c, m in session["_flashes"]] == ["无权访问该范围的数据"]
    else:
        assert response.status_code == 403
    with database() as s:
        assert s.scalar(select(func.count(AuditEntry.id))) == 0
        assert s.get(Household, world.ids["H6"]).binding_code_hash == before


@pytest.mark.parametrize("outsider", ["town_admin_other", "county_admin_other"])
def test_the_lists_hold_only_the_admins_own_villages_and_cadres(admin, world, outsider) -> None:
    cards_page = html(admin(outsider).get("/admin/binding/cards"))
    assert "青石村" not in cards_page
    cadres_page = html(admin(outsider).get("/admin/binding/cadres"))
    assert "赵*" not in cadres_page
    own = html(admin("town_admin").get("/admin/binding/cards"))
    assert "青石村" in own and "白杨村" in own and "河口村" not in own
