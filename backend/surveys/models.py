"""Masses' satisfaction surveys (群众满意度测评): templates, surveys, the sample, anonymous answers, results, alerts.

Anonymity is a property of the schema, not of the views:
- `survey_invitation` names households (who was asked) and nothing about answers; it has no
  surrogate id and no timestamp, so it carries no invitation order either;
- `survey_receipt` holds one HMAC (the app's data key) of survey + household per phone response:
  who answered, for one-per-household (its primary key) and the response rate; no timestamp,
  and nothing in it points at an answer;
- `survey_response` / `survey_answer` hold the answers with a random id (never an insertion-ordered
  sequence), no household, no user, no timestamp; a multiple-choice answer is stored in option
  order, not in the order tapped;
- the phone's 201 carries no response id, and the answer route has no idempotency record (that
  would keep user, time and a guessable hash of the answers side by side);
- free texts are listed sorted, distributions are counts; provisional figures of an open survey
  need ≥ 5 responses and show no free text, so comparing two compiles is less revealing;
- the closing job re-keys every response in random order (results.freeze_responses),
  so PostgreSQL row versions (xmin) and heap order no longer line answers up with receipts.

Left over, and said plainly: until the close, someone with direct database access could match a
receipt and its answers by PostgreSQL transaction id (they are written in one transaction so the
database can enforce one response per household); old row versions stay until VACUUM; and a
final result with very few responses is as revealing as the answers themselves.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import Base, UTCDateTime, str_enum
from backend.timeutil import now_utc

SATISFIED_CHOICES = ("满意", "基本满意")
SATISFACTION_SCALE = ("满意", "基本满意", "不满意")
# A rating counts as satisfied at this value or above (1–5 stars).
SATISFIED_RATING = 4
DEFAULT_THRESHOLD_PCT = 70


class QuestionKind(enum.StrEnum):
    rating = "rating"  # 1–5 分
    single_choice = "single_choice"  # 单选
    multiple_choice = "multiple_choice"  # 多选
    text = "text"  # 简答


QUESTION_KIND_LABELS = {
    QuestionKind.rating: "评分（1–5）",
    QuestionKind.single_choice: "单选",
    QuestionKind.multiple_choice: "多选",
    QuestionKind.text: "简答",
}


class TargetKind(enum.StrEnum):
    cadre = "cadre"  # one cadre, e.g. the first secretary (第一书记)
    village_team = "village_team"  # the village's resident work team (驻村工作队)


TARGET_KIND_LABELS = {TargetKind.cadre: "驻村干部个人", TargetKind.village_team: "驻村工作队"}


class Sampling(enum.StrEnum):
    all = "all"  # 全部农户
    random = "random"  # 随机抽取


class SampleFlag(enum.StrEnum):
    any = "any"
    poor = "poor"  # 脱贫户
    monitored = "monitored"  # 监测户
    assisted = "assisted"  # 脱贫户或监测户


SAMPLE_FLAG_LABELS = {
    SampleFlag.any: "全部农户",
    SampleFlag.poor: "仅脱贫户",
    SampleFlag.monitored: "仅监测户",
    SampleFlag.assisted: "脱贫户和监测户",
}


class Channel(enum.StrEnum):
    phone = "phone"  # 小程序
    paper = "paper"  # 纸质问卷（民主测评会、入户）


class AlertStatus(enum.StrEnum):
    open = "open"  # 待约谈
    interviewed = "interviewed"  # 已约谈
    resolved = "resolved"  # 已整改销号


ALERT_STATUS_LABELS = {AlertStatus.open: "待约谈", AlertStatus.interviewed: "已约谈", AlertStatus.resolved: "已销号"}


class SurveyTemplate(Base):
    """A questionnaire owned by a county. Never edited once created: surveys point at it."""

    __tablename__ = "survey_template"

    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("county.id"), index=True)
    title: Mapped[str] = mapped_column(String(80))
    target_kind: Mapped[TargetKind] = mapped_column(str_enum(TargetKind, "target_kind"))
    # Which preset it was installed from ("first_secretary_quarterly"), so installing twice is a no-op.
    preset: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    questions: Mapped[list[SurveyQuestion]] = relationship(
        back_populates="template", order_by="SurveyQuestion.position"
    )


class SurveyQuestion(Base):
    __tablename__ = "survey_question"
    __table_args__ = (
        UniqueConstraint("template_id", "position"),
        # Only rating and single-choice questions can count towards the satisfaction rate.
        CheckConstraint("NOT scored OR kind IN ('rating', 'single_choice')", name="scored_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("survey_template.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[QuestionKind] = mapped_column(str_enum(QuestionKind, "question_kind"))
    prompt: Mapped[str] = mapped_column(String(200))
    options: Mapped[list[str]] = mapped_column(JSON, default=list)
    required: Mapped[bool] = mapped_column(Boolean, default=True)
    scored: Mapped[bool] = mapped_column(Boolean, default=False)

    template: Mapped[SurveyTemplate] = relationship(back_populates="questions")


class SurveySetting(Base):
    """Per-county settings; a county without a row uses the defaults."""

    __tablename__ = "survey_setting"
    __table_args__ = (CheckConstraint("threshold_pct BETWEEN 1 AND 100", name="threshold_range"),)

    county_id: Mapped[int] = mapped_column(ForeignKey("county.id"), primary_key=True)
    # Satisfaction strictly below this share (percent) raises an alert (Guangyuan: 70%).
    threshold_pct: Mapped[int] = mapped_column(Integer, default=DEFAULT_THRESHOLD_PCT)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))


class Survey(Base):
    """A template applied to a target in one village for a period, open from `opens_at` to `closes_at`."""

    __tablename__ = "survey"
    __table_args__ = (
        CheckConstraint("closes_at > opens_at", name="window_ordered"),
        CheckConstraint("(target_kind = 'cadre') = (target_cadre_id IS NOT NULL)", name="target_matches_kind"),
        CheckConstraint("sampling = 'all' OR sample_size >= 1", name="sample_size_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("county.id"), index=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"), index=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("survey_template.id"))
    target_kind: Mapped[TargetKind] = mapped_column(str_enum(TargetKind, "target_kind"))
    target_cadre_id: Mapped[int | None] = mapped_column(ForeignKey("cadre.id"), index=True)
    title: Mapped[str] = mapped_column(String(120))
    period: Mapped[str] = mapped_column(String(20))  # "2026-Q3"
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    sampling: Mapped[Sampling] = mapped_column(str_enum(Sampling, "sampling"))
    sample_size: Mapped[int | None] = mapped_column(Integer)
    sample_flag: Mapped[SampleFlag] = mapped_column(str_enum(SampleFlag, "sample_flag"))
    # The seed of the draw: with the eligible households (ordered by id) it reproduces the sample.
    seed: Mapped[int] = mapped_column(BigInteger)
    eligible_count: Mapped[int] = mapped_column(Integer)
    invited_count: Mapped[int] = mapped_column(Integer)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    # Set by the closing job: from then on answers, results and the alert never change.
    frozen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    template: Mapped[SurveyTemplate] = relationship()
    village = relationship("Village")
    target_cadre = relationship("Cadre")


class SurveyInvitation(Base):
    """A household drawn into the sample. No surrogate id and no timestamp: nothing orders invitations."""

    __tablename__ = "survey_invitation"

    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id"), primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), primary_key=True, index=True)


class SurveyReceipt(Base):
    """One per answering household: HMAC(data key, survey + household). The primary key is the
    database's guarantee of one response per household; nothing here points at the answers."""

    __tablename__ = "survey_receipt"

    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id"), primary_key=True)
    receipt_hash: Mapped[str] = mapped_column(String(64), primary_key=True)


class SurveyResponse(Base):
    """One questionnaire. Random id, no household, no user, no time: see the module docstring."""

    __tablename__ = "survey_response"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id"), index=True)
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, "response_channel"))

    answers: Mapped[list[SurveyAnswer]] = relationship(back_populates="response")


class SurveyAnswer(Base):
    """One answer; a multiple-choice answer is one row per chosen option (`seq` 0, 1, ...)."""

    __tablename__ = "survey_answer"
    __table_args__ = (
        CheckConstraint("number IS NULL OR number BETWEEN 1 AND 5", name="rating_range"),
        CheckConstraint(
            "(CASE WHEN number IS NULL THEN 0 ELSE 1 END) + (CASE WHEN choice IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN text IS NULL THEN 0 ELSE 1 END) = 1",
            name="one_value",
        ),
    )

    response_id: Mapped[str] = mapped_column(ForeignKey("survey_response.id", onupdate="CASCADE"), primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("survey_question.id"), primary_key=True, index=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, default=0)
    number: Mapped[int | None] = mapped_column(Integer)
    choice: Mapped[str | None] = mapped_column(String(60))
    text: Mapped[str | None] = mapped_column(Text)

    response: Mapped[SurveyResponse] = relationship(back_populates="answers")


class SurveyResult(Base):
    """Compiled figures of a survey; provisional while open, final (and never recompiled) once frozen."""

    __tablename__ = "survey_result"

    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id"), primary_key=True)
    invited: Mapped[int] = mapped_column(Integer)
    phone_responses: Mapped[int] = mapped_column(Integer)
    paper_responses: Mapped[int] = mapped_column(Integer)
    # Answers to scored questions, and how many of them were 满意/基本满意 or a rating ≥ 4.
    scored_answers: Mapped[int] = mapped_column(Integer)
    satisfied_answers: Mapped[int] = mapped_column(Integer)
    questions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    compiled_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    is_final: Mapped[bool] = mapped_column(Boolean, default=False)


class SurveyAlert(Base):
    """A target below the county threshold: the town interviews (约谈) the responsible leader and closes it."""

    __tablename__ = "survey_alert"

    id: Mapped[int] = mapped_column(primary_key=True)
    # One alert per survey, whatever re-runs the closing job.
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id"), unique=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id"), index=True)
    scored_answers: Mapped[int] = mapped_column(Integer)
    satisfied_answers: Mapped[int] = mapped_column(Integer)
    threshold_pct: Mapped[int] = mapped_column(Integer)
    status: Mapped[AlertStatus] = mapped_column(str_enum(AlertStatus, "alert_status"), default=AlertStatus.open)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    survey: Mapped[Survey] = relationship()
