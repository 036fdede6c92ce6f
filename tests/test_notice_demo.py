"""The demo county shows the monthly notice at work: past months locked after objections, last month open."""

from __future__ import annotations

from sqlalchemy import func, select

from backend.inbox.models import Notification
from backend.points.honors import previous_period, village_ranking
from backend.points.ledger import balance_mismatches
from backend.points.models import MonthlyNotice, NoticeStatus, Objection, ObjectionStatus
from backend.timeutil import today_local


def test_demo_county_has_published_notices_objections_rankings_and_inbox_messages(session, demo_county) -> None:  # type: ignore[no-untyped-def]

    notices = session.scalars(select(MonthlyNotice).order_by(MonthlyNotice.village_id, MonthlyNotice.month)).all()
    assert [n.status for n in notices] == [NoticeStatus.locked, NoticeStatus.locked, NoticeStatus.published] * 2
    statuses = sorted(o.status for o in session.scalars(select(Objection)))
    assert statuses == [ObjectionStatus.dismissed] * 2 + [ObjectionStatus.upheld] * 2
    assert all(o.correction_entry_id for o in session.scalars(select(Objection)) if o.status == ObjectionStatus.upheld)
    kinds = dict(session.execute(select(Notification.kind, func.count()).group_by(Notification.kind)).all())
    assert kinds.get("claim_approved", 0) > 10 and kinds["objection_answered"] == 4
    ranking = village_ranking(session, notices[0].village_id, previous_period("quarter", today_local()))
    assert ranking[0].rank == 1 and ranking[0].score > 0
    assert balance_mismatches(session) == []
    session.rollback()
