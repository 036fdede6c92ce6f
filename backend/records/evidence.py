"""The one seam between cadre work and the photo pipeline (backend.records.photos, branch `media`).

Records, visits and problem closures claim uploaded photos here; pages ask here for thumbnails.
Until the pipeline is merged there are no uploads to claim, so any photo id is refused as unknown.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from backend.auth.models import User
from backend.errors import InvalidRequest

MAX_PHOTOS = 9


@dataclass(frozen=True)
class EvidencePhoto:
    id: str
    thumbnail_url: str
    display_url: str
    duplicate: bool


def attach_evidence(session: Session, *, actor: User, photo_ids: list[str], owner_type: str, owner_id: int) -> None:
    if not photo_ids:
        return
    raise InvalidRequest(errors={"photo_ids": ["照片不存在或已被使用"]})


def evidence_of(session: Session, owner_type: str, owner_ids: list[int]) -> dict[int, list[EvidencePhoto]]:
    return {}
