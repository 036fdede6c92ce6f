from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, or_
from sqlalchemy.orm import Session

from backend.auth.models import ApiToken, SigninTicket
from backend.jobs.schedule import scheduled
from backend.jobs.tasks import task
from backend.timeutil import now_utc

# Keep revoked/expired tokens and sign-in tickets a while for audit, then drop them.
TOKEN_RETENTION = timedelta(days=30)


@task("auth.purge_tokens")
def purge_tokens(session: Session) -> int:
    cutoff = now_utc() - TOKEN_RETENTION
    tokens = session.execute(delete(ApiToken).where(or_(ApiToken.expires_at < cutoff, ApiToken.revoked_at < cutoff)))
    tickets = session.execute(delete(SigninTicket).where(SigninTicket.expires_at < cutoff))
    return tokens.rowcount + tickets.rowcount


scheduled("purge-tokens", "auth.purge_tokens", "15 3 * * *")  # 03:15 every night
