"""查看完整信息: an admin who needs a member's phone or ID number asks for it explicitly, and the look is audited.
Everywhere else personal data is shown masked."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from backend.audit.service import Actor, place_of_village, record
from backend.auth.scope import Scope, load_household
from backend.auth.service import household_label
from backend.crypto import mask_name
from backend.errors import NotFound
from backend.org.models import Resident


@dataclass(frozen=True)
class RevealedResident:
    household_id: int
    household_label: str
    name: str
    relation: str
    phone: str | None
    id_number: str | None


def reveal_resident(
    session: Session, scope: Scope, actor: Actor, household_id: int, resident_id: int
) -> RevealedResident:
    """A member's full name, phone and ID number, for an admin whose scope covers the household; audited as
    resident.reveal (the row names who looked, never the data)."""
    household = load_household(session, scope, household_id)
    resident = session.get(Resident, resident_id)
    if resident is None or resident.household_id != household.id:
        raise NotFound("该户没有这位成员")
    label = household_label(household)
    record(
        session,
        actor,
        "resident.reveal",
        "resident",
        resident.id,
        f"查看 {label} {mask_name(resident.name)}（{resident.relation}）的完整联系电话和身份证号",
        place_of_village(session, household.village_id),
    )
    return RevealedResident(household.id, label, resident.name, resident.relation, resident.phone, resident.id_number)
