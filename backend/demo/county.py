"""Deterministic demo county 秦岭县 for laptops, demos and screenshots (`flask seed-demo`).

The county's people and logins come first (`seed_org`), then each domain's seeder over them. Each draws
from its own fixed random seed, but the order matters: the shop's redemptions spend the base score of the
rule book seeded before them, the ratings compile the records and surveys, and database ids follow it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from backend.demo.org import (
    DEMO_COUNTY_CODE,
    DEMO_COUNTY_NAME,
    OrgDemoSummary,
    demo_county_exists,
    seed_org,
)
from backend.demo.photos import seed_photo_label
from backend.demo.points import seed_notices, seed_review_queue, seed_rule_book
from backend.demo.ratings import seed_ratings
from backend.demo.records import seed_records
from backend.demo.shop import seed_shop
from backend.demo.surveys import seed_surveys
from backend.org.models import County

ACCOUNTS_FILE = "demo_accounts.json"


@dataclass
class DemoSummary(OrgDemoSummary):
    """What one run created (all zero and already_present=True when the county was there before)."""

    already_present: bool = False
    surveys: int = 0
    survey_alerts: int = 0
    accounts_file: Path | None = None


def seed_demo_county(session: Session, instance_path: Path | str) -> DemoSummary:
    """Create the demo county once and write the demo logins to <instance>/demo_accounts.json.

    Flushes only (the caller's unit of work commits). A second call finds the county and changes
    nothing, so `make run` can call it on every start.
    """
    if demo_county_exists(session):
        return DemoSummary(already_present=True)
    summary = DemoSummary(counties=1)

    county = County(name=DEMO_COUNTY_NAME, code=DEMO_COUNTY_CODE)
    session.add(county)
    session.flush()
    accounts, codes = seed_org(session, county, summary)
    seed_rule_book(session, county)
    surveys = seed_surveys(session, county)
    summary.surveys, summary.survey_alerts = surveys.closed + surveys.open, surveys.alerts
    seed_photo_label(session, county)
    seed_records(session, county)
    seed_shop(session, county)
    seed_notices(session, county)
    seed_review_queue(session, county)
    seed_ratings(session, county)

    path = Path(instance_path) / ACCOUNTS_FILE
    _write_accounts_file(path, county, accounts, codes)
    summary.accounts_file = path
    return summary


def _write_accounts_file(
    path: Path, county: County, accounts: Sequence[dict[str, Any]], codes: Sequence[dict[str, Any]]
) -> None:
    """Atomic replace, so a half-written file never lists logins that do not exist."""
    payload = {
        "county": f"{county.name} ({county.code})",
        "note": (
            "演示数据，人物均为虚构。管理员用密码登录 /admin；驻村干部和村民在小程序开发模式用 dev:<username> 登录。"
        ),
        "accounts": list(accounts),
        "binding_codes": list(codes),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
