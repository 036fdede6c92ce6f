"""The business month: what points, cadre work and ratings are counted in.

On the wire and in the database a month is its key, "2026-05"; which month "now" falls in is decided in
Beijing time (backend.timeutil), so a UTC evening on the last day already counts in the next month.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from backend.errors import InvalidRequest
from backend.timeutil import today_local

# This century only: a month beyond it is a typo or a probe (9999-12 has no next month to count up to).
_KEY = re.compile(r"^(20\d\d)-(0[1-9]|1[0-2])$")
_FORMAT_ERROR = "月份应写成 2026-05 这样的年-月"


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month in Asia/Shanghai, the days [first, next_first); str() gives its key "2026-05"."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str | None, *, default: Month | None = None) -> Month:
        """The month a "YYYY-MM" key names; an empty one is `default` if given. Anything else is a bad request,
        never a silently different month."""
        if not text and default is not None:
            return default
        match = _KEY.match(text or "")
        if not match:
            raise InvalidRequest(_FORMAT_ERROR, errors={"month": [_FORMAT_ERROR]})
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(day.year, day.month)

    @classmethod
    def current(cls) -> Month:
        """The month it is now in Beijing."""
        return cls.of(today_local())

    @property
    def first(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def next_first(self) -> date:
        return date(self.year + (self.month == 12), self.month % 12 + 1, 1)

    @property
    def last(self) -> date:
        return self.next_first - timedelta(days=1)

    @property
    def days(self) -> int:
        return (self.next_first - self.first).days

    def shift(self, months: int) -> Month:
        """The month `months` later (earlier if negative), across year ends."""
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    def through(self, last: Month) -> list[Month]:
        """This month and every one after it up to `last`, oldest first (none if `last` is earlier)."""
        count = (last.year - self.year) * 12 + last.month - self.month + 1
        return [self.shift(i) for i in range(count)]

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"
