"""Offset pagination for the admin lists: fine for a county's villages, households, claims or surveys.

A list counts its plain filtered statement with page_bounds, then fetches the page from the statement with
its joins, extra columns and order added (`.limit(per_page).offset((page - 1) * per_page)`), so the count never
pays for what only the shown rows need. The phone API pages by cursor instead (miniprogram_api.schemas.page).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil
from typing import Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

PER_PAGE = 20

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def first(self) -> int:
        """1-based position of the first item on this page (0 when empty)."""
        return (self.page - 1) * self.per_page + 1 if self.items else 0

    @property
    def last(self) -> int:
        return self.first + len(self.items) - 1 if self.items else 0

    def window(self, radius: int = 2) -> list[int | None]:
        """Page numbers to link: first, last and `radius` around the current one; None marks a gap."""
        keep = {1, self.pages, *range(self.page - radius, self.page + radius + 1)}
        numbers = sorted(n for n in keep if 1 <= n <= self.pages)
        out: list[int | None] = []
        for n in numbers:
            previous = out[-1] if out else None
            if previous is not None and n - previous == 2:
                out.append(previous + 1)  # a gap of one page shows the page, not "…"
            elif previous is not None and n - previous > 2:
                out.append(None)
            out.append(n)
        return out


def page_bounds(session: Session, stmt: Select, page: int, per_page: int) -> tuple[int, int]:
    """Total rows of `stmt` and the requested page clamped to 1..last: a page past the end shows the last one."""
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    last = max(1, ceil(total / per_page))
    return total, min(max(page, 1), last)
