"""The one seam between cadre work and the photo pipeline (backend.records.photos, branch `media`).

Records, visits and problem closures claim uploaded photos here; pages and the API ask here for
each owner's photos with signed URLs. Until the pipeline is merged there are no uploads to claim,
so any photo id is refused as unknown and owners have no photos.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from backend.auth.scope import Scope
from backend.errors import InvalidRequest

MAX_PHOTOS = 9


@dataclass(frozen=True)
class EvidencePhoto:
    id: str
    thumb_url: str | None
    display_url: str | None
    flag: str | None  # "duplicate" / "near_duplicate": the same picture is used elsewhere


def attach_evidence(
    session: Session,
    *,
    actor: Scope,
    photo_ids: Sequence[str],
    owner_type: str,
    owner_id: int,
    village_id: int,
    household_id: int | None = None,
) -> None:
    if photo_ids:
        raise InvalidRequest(errors={"photo_ids": ["照片不存在或已被使用"]})


def evidence_of(
    session: Session, viewer: Scope, owner_type: str, owner_ids: Sequence[int]
) -> dict[int, list[EvidencePhoto]]:
    return {}
