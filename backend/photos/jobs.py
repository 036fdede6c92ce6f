"""Photo background work: thin entry points that load by id and call the service."""

from __future__ import annotations

from sqlalchemy.orm import Session

from backend.jobs.schedule import scheduled
from backend.jobs.tasks import task
from backend.photos import service


@task(service.PROCESS_TASK)
def process_photo(session: Session, photo_id: str) -> str | None:
    """Queued by every accepted upload (job id `photo-<id>`)."""
    status = service.process_photo(session, photo_id)
    return None if status is None else status.value


@task(service.HOUSEKEEPING_TASK)
def photo_housekeeping(session: Session) -> dict[str, int]:
    """Hourly: delete uploads no record claimed within 24 h (rows and files), re-queue lost processing jobs."""
    requeued, given_up = service.requeue_stuck(session)
    return {"purged": service.purge_unclaimed(session), "requeued": requeued, "given_up": given_up}


scheduled("photo-housekeeping", service.HOUSEKEEPING_TASK, "7 * * * *")  # hourly, seven past
