"""Admin password sign-in with a back-off per account name that an attacker elsewhere cannot turn against
the account's owner. Per address, the login route is rate-limited too (ADMIN_LOGIN_RATE_LIMIT)."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, func, select
from sqlalchemy.orm import Session

from backend.auth.models import ADMIN_ROLES, AdminLoginFailure, User
from backend.auth.passwords import verify_password
from backend.crypto import lookup_hash
from backend.timeutil import now_utc

log = logging.getLogger(__name__)

WRONG = "用户名或密码错误"
FREE_FAILURES = 5
FIRST_WAIT = timedelta(seconds=1)
MAX_WAIT = timedelta(minutes=15)
FAILURE_MEMORY = timedelta(days=1)


@dataclass(frozen=True)
class AdminLogin:
    user: User | None
    error: str | None = None
    # Seconds to wait before the next attempt: set when the attempt was refused without a password check.
    retry_after: int | None = None


def authenticate_admin(session: Session, username: str, password: str, *, address: str) -> AdminLogin:
    """The rule, per name typed (an account's or not: unknown names are answered alike, in wording, status
    and time, since verify_password hashes for them too):

    - the first FREE_FAILURES failures within FAILURE_MEMORY cost nothing;
    - after n ≥ FREE_FAILURES of them, the next attempt must wait FIRST_WAIT · 2^(n − FREE_FAILURES), at most
      MAX_WAIT, after the last one; an attempt inside the wait is answered "尝试过于频繁，请 X 秒后再试"
      without checking the password;
    - but only from an address that has itself failed for this name within FAILURE_MEMORY. From any other
      address the password is checked: an attacker hammering county_admin from elsewhere cannot keep the real
      county_admin out, and each new address buys an attacker one guess (the per-address limit bounds the rest);
    - a success forgets the failures from its address, not the others': an attacker stays throttled.

    Returns instead of raising so the caller commits the failure it records even when sign-in fails.
    """
    name_hash = lookup_hash(username)
    name_log = name_hash[:12]
    now = now_utc()
    wait = _wait(session, name_hash, address, now)
    if wait is not None:
        log.warning("admin sign-in throttled: name %s from %s, %d s to wait", name_log, address, wait)
        return AdminLogin(None, f"尝试过于频繁，请 {wait} 秒后再试", retry_after=wait)
    user = session.scalar(select(User).where(User.username == username))
    if user is None or user.role not in ADMIN_ROLES or not user.is_active:
        verify_password(None, password)
        user = None
    elif not verify_password(user.password_hash, password):
        user = None
    if user is None:
        session.add(AdminLoginFailure(username_hash=name_hash, address=address, failed_at=now))
        session.flush()
        log.warning("admin sign-in failed: name %s from %s", name_log, address)
        return AdminLogin(None, WRONG)
    this_address = (AdminLoginFailure.username_hash == name_hash, AdminLoginFailure.address == address)
    session.execute(delete(AdminLoginFailure).where(*this_address))
    user.last_login_at = now
    session.flush()
    log.info("admin sign-in: user %s from %s", user.id, address)
    return AdminLogin(user)


def _wait(session: Session, name_hash: str, address: str, now: datetime) -> int | None:
    """Whole seconds this address must still wait before trying this name again, or None."""
    failures, last, from_here = session.execute(
        select(
            func.count(),
            func.max(AdminLoginFailure.failed_at),
            func.count(case((AdminLoginFailure.address == address, 1))),
        ).where(AdminLoginFailure.username_hash == name_hash, AdminLoginFailure.failed_at > now - FAILURE_MEMORY)
    ).one()
    if failures < FREE_FAILURES or not from_here:
        return None
    # The exponent is capped before it is used: 2^16 seconds is past any MAX_WAIT, and no timedelta overflows.
    wait = min(FIRST_WAIT * 2 ** min(failures - FREE_FAILURES, 16), MAX_WAIT)
    remaining = (last + wait - now).total_seconds()
    return math.ceil(remaining) if remaining > 0 else None
