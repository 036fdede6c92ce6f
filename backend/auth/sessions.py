"""Sign-ins the server can end: admin sessions (a row per browser) and, for `end_all_sessions`, the phone's
bearer tokens and unspent sign-in tickets too. Services flush; the boundary commits."""

from __future__ import annotations

import logging
import secrets

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.auth.models import AdminSession, ApiToken, SigninTicket, User
from backend.crypto import lookup_hash
from backend.timeutil import now_utc

log = logging.getLogger(__name__)


def start_admin_session(session: Session, user: User) -> str:
    """The token for the browser's signed cookie; only its keyed hash is stored. Hex: lookup_hash folds case."""
    raw = secrets.token_hex(32)
    session.add(AdminSession(user_id=user.id, token_hash=lookup_hash(raw)))
    session.flush()
    return raw


def admin_for_session(session: Session, user_id: int, raw: str | None) -> User | None:
    """The active user whose live session this cookie holds, or None (signed out). One query a request."""
    if not raw:
        return None
    return session.scalar(
        select(User)
        .join(AdminSession, AdminSession.user_id == User.id)
        .where(
            AdminSession.token_hash == lookup_hash(raw),
            AdminSession.ended_at.is_(None),
            User.id == user_id,
            User.is_active.is_(True),
        )
    )


def end_admin_session(session: Session, user: User, raw: str | None, *, address: str) -> None:
    """Sign-out: this browser's session only; the same admin elsewhere stays signed in."""
    if raw:
        session.execute(
            update(AdminSession)
            .where(
                AdminSession.token_hash == lookup_hash(raw),
                AdminSession.user_id == user.id,
                AdminSession.ended_at.is_(None),
            )
            .values(ended_at=now_utc())
        )
    log.info("admin sign-out: user %s from %s", user.id, address)


def end_all_sessions(session: Session, user: User, reason: str) -> None:
    """Sign the user out everywhere at once: every admin session, every bearer token, every unspent sign-in
    ticket (one could still buy a fresh token). For a disabled account, a new password, a new role or scope."""
    now = now_utc()
    admin_sessions = session.execute(
        update(AdminSession)
        .where(AdminSession.user_id == user.id, AdminSession.ended_at.is_(None))
        .values(ended_at=now)
    ).rowcount
    tokens = session.execute(
        update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)).values(revoked_at=now)
    ).rowcount
    session.execute(
        update(SigninTicket).where(SigninTicket.user_id == user.id, SigninTicket.used_at.is_(None)).values(used_at=now)
    )
    log.info(
        "sessions ended for user %s (%s): %d admin session(s), %d API token(s)", user.id, reason, admin_sessions, tokens
    )
