from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, or_
from sqlalchemy.orm import Session

from backend.auth.admin_login import FAILURE_MEMORY
from backend.auth.models import AdminLoginFailure, AdminSession, ApiToken, SigninTicket
from backend.jobs.schedule import scheduled
from backend.jobs.tasks import task
from backend.timeutil import now_utc

# Keep revoked/expired tokens, sign-in tickets and ended admin sessions a while for audit, then drop them.
TOKEN_RETENTION = timedelta(days=30)


@task("auth.purge_tokens")
def purge_tokens(session: Session) -> int:
    now = now_utc()
    cutoff = now - TOKEN_RETENTION
    tokens = session.execute(delete(ApiToken).where(or_(ApiToken.expires_at < cutoff, ApiToken.revoked_at < cutoff)))
    tickets = session.execute(delete(SigninTicket).where(SigninTicket.expires_at < cutoff))
    admin_sessions = session.execute(delete(AdminSession).where(AdminSession.ended_at < cutoff))
    # Failed admin sign-ins older than the back-off remembers count for nothing.
    failures = session.execute(delete(AdminLoginFailure).where(AdminLoginFailure.failed_at < now - FAILURE_MEMORY))
    return tokens.rowcount + tickets.rowcount + admin_sessions.rowcount + failures.rowcount


scheduled("purge-tokens", "auth.purge_tokens", "15 3 * * *")  # 03:15 every night
