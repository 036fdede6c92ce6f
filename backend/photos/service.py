"""Photos as evidence: accept an upload, process it in the background, let a record claim it,
hand out signed URLs to those who may see it, and forget what nobody claimed.

The interface other areas use:

- `attach_photos(session, actor=scope, photo_ids=[...], owner_type="visit", owner_id=visit.id,
  village_id=..., household_id=...)` in the service that creates the owner (same transaction).
- `photos_of(session, "visit", [ids])` for list pages (one query).
- `photo_urls(photo, viewer_scope)` → `{"thumb_url", "display_url"}`; API serializers nest
  `miniprogram_api.uploads.PhotoSchema`; admin templates call `{{ photo_thumb(photo) }}`
  (admin_ui/photos.py), a thumbnail linking to the display copy.

`records.photo_housekeeping` runs hourly from the schedule (backend/photos/jobs.py): it deletes uploads
nobody claimed within 24 h and re-queues photos whose processing job was lost.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, request
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import Select, delete, or_, select, update
from sqlalchemy.orm import Session

from backend.auth.models import Role, User
from backend.auth.scope import Scope, filter_villages, scope_for
from backend.crypto import mask_name
from backend.errors import (
    DomainError,
    NotFound,
    NotInScope,
    PayloadTooLarge,
    PhotoAlreadyUsed,
    PhotoNotFound,
    PhotoRequired,
    PhotoUnusable,
    StorageFull,
    TooManyPhotos,
)
from backend.jobs.outbox import enqueue
from backend.org.models import Cadre, Town, Village
from backend.pagination import PER_PAGE, Page, page_bounds
from backend.photos.images import allowed_head, find_font, hamming, inspect_upload, render_copies
from backend.photos.models import (
    OWNER_TYPES,
    PHOTO_FLAG_LABELS,
    VILLAGE_PUBLIC_OWNER_TYPES,
    Photo,
    PhotoFlag,
    PhotoSettings,
    PhotoStatus,
)
from backend.photos.storage import Incoming, photo_storage
from backend.timeutil import now_utc, to_local

log = logging.getLogger(__name__)

# Named when photos lived in records/; queued jobs and outbox rows carry these names, so they stay.
PROCESS_TASK = "records.process_photo"
HOUSEKEEPING_TASK = "records.photo_housekeeping"
UNCLAIMED_TTL = timedelta(hours=24)
# A photo still processing this long after upload lost its job (a worker died mid-job): queue it again,
# until PROCESSING_GIVE_UP, when it is marked failed instead of retried forever.
STUCK_AFTER = timedelta(minutes=15)
PROCESSING_GIVE_UP = timedelta(hours=24)
# dHash bits that may differ for two photos to count as the same scene re-used.
NEAR_DUPLICATE_BITS = 6
# How far back (per county) the near-duplicate search looks: bounded work per photo.
NEAR_DUPLICATE_WINDOW = timedelta(days=180)
# One uploader's similar photos this close together are shots of one occasion, not a re-used photo.
SAME_OCCASION = timedelta(hours=12)
VARIANTS = ("display", "thumb")
# Where the signed URLs point: the media route (backend/photos/media.py) is registered on this path.
MEDIA_PATH = "/media/photos"


# --- storage keys ---------------------------------------------------------------------------------


def storage_key(photo_id: str, variant: str) -> str:
    """originals are private; display/thumb are what the signed URLs serve."""
    ext = "bin" if variant == "original" else "jpg"
    return f"{variant}/{photo_id[:2]}/{photo_id}.{ext}"


# --- acceptance -----------------------------------------------------------------------------------


def receive_upload() -> Incoming:
    """Where the form parser streams an uploaded file: hashed and stored as it arrives, non-images
    (by their first bytes) and bytes over PHOTO_MAX_BYTES never stored."""
    return photo_storage().receive(current_app.config["PHOTO_MAX_BYTES"], screen=allowed_head)


def accept_upload(
    session: Session,
    *,
    user: User,
    scope: Scope,
    data: bytes | Incoming,
    label_event: str | None = None,
    label_place: str | None = None,
    durable: bool = True,
) -> Photo:
    """Check the bytes cheaply (no pixel decoding), keep the original privately and durably, queue the copies.

    `data` is a file received by `receive_upload` (the API) or bytes (demo, shop). `durable=False` skips
    the fsync, only for generated demo photos: hundreds in one seed, and easily made again. Raises
    payload_too_large (bytes or pixels over the limits), unsupported_image (not JPEG/PNG/WebP by its
    bytes, unreadable header, truncated) or storage_full (the disk is full: nothing is kept, try again later).
    """
    if isinstance(data, Incoming):
        return _accept(session, user, scope, data, label_event, label_place, durable)
    with receive_upload() as incoming:
        incoming.write(data)
        return _accept(session, user, scope, incoming, label_event, label_place, durable)


def _accept(
    session: Session,
    user: User,
    scope: Scope,
    upload: Incoming,
    label_event: str | None,
    label_place: str | None,
    durable: bool,
) -> Photo:
    config = current_app.config
    if upload.size > config["PHOTO_MAX_BYTES"]:
        raise PayloadTooLarge(f"照片过大（上限 {config['PHOTO_MAX_BYTES'] // (1024 * 1024)} MB）")
    if upload.no_space:
        raise StorageFull()
    received = now_utc()
    # A body refused by its first bytes stored nothing: the format check below refuses it.
    info = inspect_upload(upload.view(), config["PHOTO_MAX_PIXELS"], now=received)
    # Nothing is looked up here: the county (when the uploader is not a county admin) and the duplicate flags
    # wait for the processing job, so after the last byte the phone waits only for two INSERTs and the commit.
    photo = Photo(
        id=uuid.uuid4().hex,
        uploader_id=user.id,
        county_id=user.county_id,
        village_id=next(iter(scope.village_ids)) if len(scope.village_ids) == 1 else None,
        household_id=scope.household_id,
        status=PhotoStatus.processing,
        format=info.format,
        byte_size=upload.size,
        width=info.width,
        height=info.height,
        sha256=upload.sha256(),
        taken_at=info.taken_at,
        gps_lat=None if info.gps is None else f"{info.gps[0]:.6f}",
        gps_lng=None if info.gps is None else f"{info.gps[1]:.6f}",
        received_at=received,
        label_event=label_event or None,
        label_place=label_place or None,
    )
    # On disk for good before the row can commit: an accepted photo is never lost (see storage.keep).
    photo_storage().keep(upload, storage_key(photo.id, "original"), durable=durable)
    session.add(photo)
    enqueue(session, PROCESS_TASK, job_id=f"photo-{photo.id}", photo_id=photo.id)  # its flush writes both rows
    return photo


# --- background processing ------------------------------------------------------------------------


def process_photo(session: Session, photo_id: str) -> PhotoStatus | None:
    """Make the display copy and thumbnail, the perceptual hash, and the flags: the same bytes uploaded
    earlier by someone else (a photo passed around between cadres), else a near-duplicate.

    Idempotent: a photo already processed (or purged meanwhile) is left alone.
    """
    photo = session.get(Photo, photo_id)
    if photo is None or photo.status != PhotoStatus.processing:
        return None if photo is None else photo.status
    if photo.county_id is None:
        photo.county_id = _uploader_county(session, photo.uploader_id)
    store = photo_storage()
    config = current_app.config
    try:
        copies = render_copies(
            store.get(storage_key(photo.id, "original")),
            photo.format,
            config["PHOTO_MAX_PIXELS"],
            label=_label_text(session, photo),
            font_path=find_font(config.get("PHOTO_LABEL_FONT")),
        )
    except DomainError as exc:  # corrupt pixel data: mark the photo, never retry it
        log.warning("photo %s could not be processed: %s", photo.id, exc.code)
        photo.status, photo.error_code = PhotoStatus.failed, exc.code
        photo.processed_at = now_utc()
        return photo.status
    store.put(storage_key(photo.id, "display"), copies.display)
    store.put(storage_key(photo.id, "thumb"), copies.thumb)
    photo.phash = copies.dhash
    photo.status, photo.processed_at = PhotoStatus.ready, now_utc()
    if photo.flag is None:
        earlier = _earlier_copy(session, photo)
        near = None if earlier is not None else _near_duplicate(session, photo)
        if earlier is not None:
            photo.flag, photo.duplicate_of_id = PhotoFlag.duplicate, earlier
        elif near is not None:
            photo.flag, photo.duplicate_of_id = PhotoFlag.near_duplicate, near
    return photo.status


def _uploader_county(session: Session, uploader_id: int) -> int | None:
    """The county of the uploader's villages (the first of them): the photo's label settings and the pool its
    near-duplicates are looked for in."""
    user = session.get(User, uploader_id)
    if user is None:
        return None
    if user.county_id is not None:
        return user.county_id
    villages = scope_for(session, user).village_ids
    if not villages:
        return None
    return session.scalar(
        select(Town.county_id).join(Village, Village.town_id == Town.id).where(Village.id.in_(villages)).limit(1)
    )


def _earlier_copy(session: Session, photo: Photo) -> str | None:
    """The first upload of the same bytes by someone else before this one."""
    return session.scalar(
        select(Photo.id)
        .where(
            Photo.sha256 == photo.sha256,
            Photo.uploader_id != photo.uploader_id,
            Photo.received_at <= photo.received_at,
            Photo.id != photo.id,
        )
        .order_by(Photo.received_at)
        .limit(1)
    )


def _label_text(session: Session, photo: Photo) -> str | None:
    """温馨照片: time · place · event, when the county turned labels on."""
    if photo.county_id is None:
        return None
    settings = session.get(PhotoSettings, photo.county_id)
    if settings is None or not settings.label_enabled:
        return None
    # The phone's capture time when it is plausible (taken within a day before receipt), else receipt.
    when = photo.received_at
    if photo.taken_at is not None and timedelta(0) <= photo.received_at - photo.taken_at <= timedelta(days=1):
        when = photo.taken_at
    place = photo.label_place
    if place is None and photo.village_id is not None:
        village = session.get(Village, photo.village_id)
        place = village.name if village else None
    return " · ".join(part for part in (to_local(when).strftime("%Y-%m-%d %H:%M"), place, photo.label_event) if part)


def _near_duplicate(session: Session, photo: Photo) -> str | None:
    """An earlier photo of the same county whose dHash is within NEAR_DUPLICATE_BITS (other bytes), from
    someone else or from another day: a cadre's own burst of shots at one meeting is not suspicious."""
    assert photo.phash is not None
    rows = session.execute(
        select(Photo.id, Photo.phash)
        .where(
            Photo.county_id == photo.county_id,
            Photo.id != photo.id,
            Photo.sha256 != photo.sha256,
            Photo.phash.is_not(None),
            Photo.received_at >= photo.received_at - NEAR_DUPLICATE_WINDOW,
            Photo.received_at <= photo.received_at,
            or_(Photo.uploader_id != photo.uploader_id, Photo.received_at < photo.received_at - SAME_OCCASION),
        )
        .order_by(Photo.received_at)
    )
    for other_id, other_hash in rows:
        if hamming(photo.phash, other_hash) <= NEAR_DUPLICATE_BITS:
            return other_id
    return None


# --- claiming -------------------------------------------------------------------------------------


def attach_photos(
    session: Session,
    *,
    actor: Scope,
    photo_ids: Sequence[str | int],
    owner_type: str,
    owner_id: int,
    min_count: int = 0,
    max_count: int = 9,
    village_id: int | None = None,
    household_id: int | None = None,
) -> list[Photo]:
    """Let `owner_type`/`owner_id` claim photos the actor uploaded; returns them in the given order.

    Only the actor's own photos, unclaimed or already claimed by this same owner (so a retried
    request is harmless). Counts include photos the owner already has. `village_id` /
    `household_id` say where the owner lives and so who may view the photos (default: the
    uploader's village when they had exactly one). Flags a photo whose bytes another owner already
    uses (`flag="duplicate"`, `duplicate_of_id`).

    Raises photo_not_found (unknown, or someone else's), photo_already_used (another owner has it,
    also under a concurrent claim), photo_unusable (its decoding failed), too_many_photos,
    photo_required (fewer than `min_count`). Flushes; the caller's boundary commits.
    """
    if owner_type not in OWNER_TYPES:
        raise ValueError(f"unknown photo owner type {owner_type!r}; add it to OWNER_TYPES")
    wanted = list(dict.fromkeys(str(pid).strip() for pid in photo_ids))
    existing = {p.id for p in photos_of(session, owner_type, [owner_id]).get(owner_id, [])}
    total = len(existing | set(wanted))
    if total > max_count:
        raise TooManyPhotos(f"每条记录最多 {max_count} 张照片", errors={"photo_ids": [f"最多 {max_count} 张"]})
    if total < min_count:
        raise PhotoRequired(f"请至少上传 {min_count} 张照片", errors={"photo_ids": [f"至少 {min_count} 张"]})
    if not wanted:
        return []
    photos = {p.id: p for p in session.scalars(select(Photo).where(Photo.id.in_(wanted)))}
    missing = [pid for pid in wanted if pid not in photos or photos[pid].uploader_id != actor.user_id]
    if missing:
        raise PhotoNotFound(errors={"photo_ids": [f"照片 {pid[:32]} 不存在或不是您上传的" for pid in missing]})
    for pid in wanted:
        photo = photos[pid]
        if photo.status == PhotoStatus.failed:
            raise PhotoUnusable(errors={"photo_ids": [f"照片 {pid} 已损坏"]})
        if photo.owner_type is not None and (photo.owner_type, photo.owner_id) != (owner_type, owner_id):
            raise PhotoAlreadyUsed(errors={"photo_ids": [f"照片 {pid} 已用于其他记录"]})
    claimed = now_utc()
    next_position = len(existing)
    for pid in wanted:
        if pid in existing:
            continue
        values: dict = {
            "owner_type": owner_type,
            "owner_id": owner_id,
            "claimed_at": claimed,
            "position": next_position,
        }
        if village_id is not None:
            values["village_id"] = village_id
        if household_id is not None:
            values["household_id"] = household_id
        # Guarded: of two concurrent claims (or a claim racing the purge) exactly one wins.
        result = session.execute(
            update(Photo)
            .where(Photo.id == pid, Photo.owner_type.is_(None))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            raise PhotoAlreadyUsed(errors={"photo_ids": [f"照片 {pid} 已用于其他记录"]})
        next_position += 1
    for photo in photos.values():
        session.refresh(photo)
    _flag_reuse(session, [photos[pid] for pid in wanted if pid not in existing])
    return [photos[pid] for pid in wanted]


def _flag_reuse(session: Session, photos: list[Photo]) -> None:
    """The same bytes claimed by another owner earlier: flag the later claim for the admins."""
    if not photos:
        return
    by_hash: dict[str, list[tuple[str, str | None, int | None]]] = defaultdict(list)
    rows = session.execute(
        select(Photo.sha256, Photo.id, Photo.owner_type, Photo.owner_id)
        .where(Photo.sha256.in_({p.sha256 for p in photos}), Photo.owner_type.is_not(None))
        .order_by(Photo.claimed_at, Photo.received_at)
    )
    for sha, pid, otype, oid in rows:
        by_hash[sha].append((pid, otype, oid))
    for photo in photos:
        for other_id, otype, oid in by_hash[photo.sha256]:
            if other_id != photo.id and (otype, oid) != (photo.owner_type, photo.owner_id):
                photo.flag, photo.duplicate_of_id = PhotoFlag.duplicate, other_id
                break
    session.flush()


def photos_of(session: Session, owner_type: str, owner_ids: Iterable[int]) -> dict[int, list[Photo]]:
    """Photos of many owners in one query: {owner_id: [photos in their order]} (owners without any absent)."""
    ids = list(set(owner_ids))
    grouped: dict[int, list[Photo]] = defaultdict(list)
    if not ids:
        return grouped
    rows = session.scalars(
        select(Photo)
        .where(Photo.owner_type == owner_type, Photo.owner_id.in_(ids))
        .order_by(Photo.owner_id, Photo.position, Photo.id)
    )
    for photo in rows:
        assert photo.owner_id is not None
        grouped[photo.owner_id].append(photo)
    return grouped


# --- who may see, signed URLs ---------------------------------------------------------------------


def may_view(scope: Scope, photo: Photo) -> bool:
    """The uploader always; a villager only photos of their own household, and of their village those that
    are public to it (a shop product); everyone else the villages of their scope."""
    if scope.user_id == photo.uploader_id:
        return True
    if photo.village_id is None:
        return False
    if scope.role == Role.villager:
        if photo.household_id is not None:
            return photo.household_id == scope.household_id
        return photo.owner_type in VILLAGE_PUBLIC_OWNER_TYPES and scope.covers_village(photo.village_id)
    return scope.covers_village(photo.village_id)


def load_photo(session: Session, scope: Scope, photo_id: str) -> Photo:
    """A photo the viewer may see, or not_found / not_in_scope."""
    photo = session.get(Photo, photo_id)
    if photo is None:
        raise NotFound("照片不存在")
    if not may_view(scope, photo):
        raise NotInScope("无权查看该照片")
    return photo


class _WindowSigner(TimestampSigner):
    """Timestamps floored to a window: the same photo gets the same URL for a while, so a cheap phone's
    image cache (and the browser's) keeps working across page loads."""

    def get_timestamp(self) -> int:
        now = int(time.time())
        return now - now % current_app.config["PHOTO_URL_WINDOW"]


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="xz.photo.v1", signer=_WindowSigner)


def photo_urls(photo: Photo, viewer: Scope) -> dict[str, str | None]:
    """Signed, expiring URLs of the display copy and the thumbnail, for a viewer who may see the photo.

    Both are None until the photo is processed (or when processing failed). Raises not_in_scope
    otherwise: URLs are the only way to the bytes, so they are never minted for an outsider. Paths
    under the app's root (script_root), like url_for's; tokens are URL-safe, so nothing is quoted.
    """
    if not may_view(viewer, photo):
        raise NotInScope("无权查看该照片")
    if photo.status != PhotoStatus.ready:
        return {"thumb_url": None, "display_url": None}
    serializer = _serializer()
    return {
        f"{variant}_url": f"{request.script_root}{MEDIA_PATH}/{serializer.dumps([photo.id, variant])}"
        for variant in ("thumb", "display")
    }


def resolve_token(token: str) -> tuple[str, str, int]:
    """(photo id, variant, seconds left) of a valid signed token; not_found for anything else."""
    ttl = current_app.config["PHOTO_URL_TTL"]
    serializer = _serializer()
    try:
        (photo_id, variant), signed_at = serializer.loads(token, max_age=ttl, return_timestamp=True)
    except (SignatureExpired, BadSignature, ValueError, TypeError) as exc:
        raise NotFound("链接无效或已过期") from exc
    # The signer's own age check uses the floored clock too; the real clock decides here.
    left = ttl - (int(time.time()) - int(signed_at.timestamp()))
    if variant not in VARIANTS or not isinstance(photo_id, str) or left <= 0:
        raise NotFound("链接无效或已过期")
    return photo_id, variant, left


def served_copy(session: Session, token: str) -> tuple[Photo, str, int]:
    """The photo and storage key a signed URL points to, with how long it may be cached."""
    photo_id, variant, left = resolve_token(token)
    photo = session.get(Photo, photo_id)
    if photo is None or photo.status != PhotoStatus.ready:
        raise NotFound("照片不存在")
    return photo, storage_key(photo.id, variant), left


def rounded_gps(photo: Photo, places: int = 2) -> str | None:
    """For admins only: ~1 km precision (2 decimals), enough to tell "in the village" from "elsewhere"."""
    gps = photo.gps
    if gps is None:
        return None
    return f"{gps[0]:.{places}f}, {gps[1]:.{places}f}"


# --- housekeeping ---------------------------------------------------------------------------------


def purge_unclaimed(session: Session, older_than: timedelta = UNCLAIMED_TTL, now: datetime | None = None) -> int:
    """Delete photos no record claimed within `older_than` (default 24 h), rows and files; returns how many.

    The DELETE is guarded on `owner_type IS NULL`, so a claim committed meanwhile keeps its photo.
    """
    cutoff = (now or now_utc()) - older_than
    ids = list(
        session.scalars(
            delete(Photo)
            .where(Photo.owner_type.is_(None), Photo.received_at < cutoff)
            .returning(Photo.id)
            .execution_options(synchronize_session=False)
        )
    )
    store = photo_storage()
    for photo_id in ids:
        for variant in ("original", *VARIANTS):
            store.delete(storage_key(photo_id, variant))
    return len(ids)


def requeue_stuck(session: Session, now: datetime | None = None) -> tuple[int, int]:
    """Queue again the photos whose processing job was lost; give up on those lost for a day.

    Returns (requeued, given up). Processing is idempotent, so a job that was only slow does no harm.
    """
    now = now or now_utc()
    stuck = select(Photo.id).where(Photo.status == PhotoStatus.processing, Photo.received_at < now - STUCK_AFTER)
    given_up = session.execute(
        update(Photo)
        .where(Photo.id.in_(stuck.where(Photo.received_at < now - PROCESSING_GIVE_UP).scalar_subquery()))
        .values(status=PhotoStatus.failed, error_code="processing_timeout", processed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    ids = list(session.scalars(stuck))
    for photo_id in ids:
        enqueue(session, PROCESS_TASK, job_id=f"photo-{photo_id}-{int(now.timestamp())}", photo_id=photo_id)
    return len(ids), given_up


# --- per-county settings --------------------------------------------------------------------------


def label_enabled(session: Session, county_id: int) -> bool:
    settings = session.get(PhotoSettings, county_id)
    return bool(settings and settings.label_enabled)


def set_label_enabled(session: Session, county_id: int, enabled: bool) -> PhotoSettings:
    settings = session.get(PhotoSettings, county_id)
    if settings is None:
        settings = PhotoSettings(county_id=county_id, label_enabled=enabled)
        session.add(settings)
    settings.label_enabled = enabled
    session.flush()
    return settings


# --- admin review of flagged photos ---------------------------------------------------------------

OWNER_LABELS = {
    "checkin": "到岗打卡",
    "daily_record": "日纪实",
    "visit": "入户走访",
    "problem": "问题台账",
    "problem_closing": "问题销号",
    "claim": "积分申报",
    "product": "积分超市商品",
}


@dataclass(frozen=True)
class FlaggedPhotoRow:
    photo: Photo
    original: Photo | None
    flag_label: str
    uploader: str  # masked name for cadres, else the username
    village_name: str
    used_for: str
    place: str | None  # GPS rounded to ~1 km, never the exact point


def flagged_photos_query(scope: Scope) -> Select[tuple[Photo]]:
    return filter_villages(select(Photo).where(Photo.flag.is_not(None)), scope, Photo.village_id)


def flagged_photo_page(
    session: Session, scope: Scope, *, page: int = 1, per_page: int = PER_PAGE
) -> Page[FlaggedPhotoRow]:
    """Photos flagged as (near-)duplicates in the admin's villages, newest first; five queries a page."""
    base = flagged_photos_query(scope)
    total, page = page_bounds(session, base, page, per_page)
    found = list(
        session.scalars(base.order_by(Photo.received_at.desc(), Photo.id).limit(per_page).offset((page - 1) * per_page))
    )
    originals = {
        p.id: p for p in session.scalars(select(Photo).where(Photo.id.in_({p.duplicate_of_id for p in found})))
    }
    uploaders = {
        user_id: mask_name(cadre_name) if cadre_name else username
        for user_id, username, cadre_name in session.execute(
            select(User.id, User.username, Cadre.name)
            .outerjoin(Cadre, Cadre.id == User.cadre_id)
            .where(User.id.in_({p.uploader_id for p in found}))
        )
    }
    villages = dict(
        session.execute(select(Village.id, Village.name).where(Village.id.in_({p.village_id for p in found}))).all()
    )
    rows = [
        FlaggedPhotoRow(
            photo=p,
            original=originals.get(p.duplicate_of_id or ""),
            flag_label=PHOTO_FLAG_LABELS[p.flag] if p.flag else "",
            uploader=uploaders[p.uploader_id],
            village_name=villages.get(p.village_id, "") if p.village_id else "",
            used_for=OWNER_LABELS.get(p.owner_type or "", "未使用"),
            place=rounded_gps(p),
        )
        for p in found
    ]
    return Page(rows, page, per_page, total)
