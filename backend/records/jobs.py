"""Photo background work: thin entry points that load by id and call the service."""

from __future__ import annotations

from sqlalchemy.orm import Session

from backend.jobs.tasks import task
from backend.records import photos


@task(photos.PROCESS_TASK)
def process_photo(session: Session, photo_id: str) -> str | None:
    """Queued by every accepted upload (job id `photo-<id>`)."""
    status = photos.process_photo(session, photo_id)
    return None if status is None else status.value


@task(photos.PURGE_TASK)
def purge_unclaimed_photos(session: Session) -> int:
    """Periodic (hourly is plenty): uploads no record claimed within 24 h go, rows and files."""
    return photos.purge_unclaimed(session)
