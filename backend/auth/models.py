from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.crypto import EncryptedString
from backend.db import Base, UTCDateTime, str_enum
from backend.timeutil import now_utc


class Role(enum.StrEnum):
    villager = "villager"
    cadre = "cadre"
    reviewer = "reviewer"
    town_admin = "town_admin"
    county_admin = "county_admin"


ROLE_LABELS = {
    Role.villager: "村民",
    Role.cadre: "驻村干部",
    Role.reviewer: "村评议小组",
    Role.town_admin: "镇管理员",
    Role.county_admin: "县管理员",
}

ADMIN_ROLES = frozenset({Role.reviewer, Role.town_admin, Role.county_admin})


class User(Base):
    """A login. Its role decides which anchor column places it in the region tree."""

    __tablename__ = "user_account"
    __table_args__ = (
        CheckConstraint(
            "(role = 'villager') OR (role = 'cadre' AND cadre_id IS NOT NULL)"
            " OR (role = 'reviewer' AND village_id IS NOT NULL)"
            " OR (role = 'town_admin' AND town_id IS NOT NULL)"
            " OR (role = 'county_admin' AND county_id IS NOT NULL)",
            name="role_has_anchor",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[Role] = mapped_column(str_enum(Role, "role"))
    display_name: Mapped[str] = mapped_column(EncryptedString, default="")  # a cadre's real name
    household_id: Mapped[int | None] = mapped_column(ForeignKey("household.id"), index=True)
    # When this phone bound its household: tells the admin which of a family's phones is which.
    bound_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    village_id: Mapped[int | None] = mapped_column(ForeignKey("village.id"), index=True)
    town_id: Mapped[int | None] = mapped_column(ForeignKey("town.id"), index=True)
    county_id: Mapped[int | None] = mapped_column(ForeignKey("county.id"), index=True)
    cadre_id: Mapped[int | None] = mapped_column(ForeignKey("cadre.id"), index=True, unique=True)
    # WeChat identity: openid is per-app pseudonymous; session_key is secret and never leaves the server.
    wechat_openid: Mapped[str | None] = mapped_column(String(64), unique=True)
    wechat_session_key: Mapped[str | None] = mapped_column(EncryptedString())
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    household = relationship("Household")
    cadre = relationship("Cadre")

    # Flask-Login protocol, so the admin UI can use this model directly.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)


class ApiToken(Base):
    """Opaque bearer token for the mini program; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()


class SigninTicket(Base):
    """A one-time sign-in, valid for a minute: the mini-program shell opens the H5 app with it, so a long-lived
    token never appears in a URL. Only its keyed hash is stored; `used_at` marks it spent."""

    __tablename__ = "signin_ticket"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    ticket_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()


class AdminSession(Base):
    """An admin's sign-in in one browser. The signed session cookie carries a random token, this row only its
    keyed hash: ending the row signs that browser out on its next request, wherever the cookie was copied to."""

    __tablename__ = "admin_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()


class CadreInvitation(Base):
    """A one-time code with which a cadre's WeChat becomes that cadre's login. Only its keyed hash is stored; it
    expires, `used_at` marks it spent, and a newer invitation for the same cadre revokes the older unused ones."""

    __tablename__ = "cadre_invitation"

    id: Mapped[int] = mapped_column(primary_key=True)
    cadre_id: Mapped[int] = mapped_column(ForeignKey("cadre.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AdminLoginFailure(Base):
    """A failed admin sign-in, by the keyed hash of the name typed, an account's or not (so the back-off tells
    nobody which accounts exist), and the address it came from. Forgotten after a day."""

    __tablename__ = "admin_login_failure"
    __table_args__ = (Index("ix_admin_login_failure_name_time", "username_hash", "failed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username_hash: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
