"""Questionnaire templates: validation of questions, and presets for the quarterly mass evaluation (季众评)."""

from __future__ import annotations

from typing import TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from backend.auth.models import Role, User
from backend.errors import Forbidden, InvalidRequest, NotFound, NotInScope
from backend.org.models import Town, Village
from backend.surveys.models import SATISFACTION_SCALE, QuestionKind, SurveyQuestion, SurveyTemplate, TargetKind

MAX_QUESTIONS = 30
MAX_OPTIONS = 12


class QuestionSpec(TypedDict, total=False):
    kind: str
    prompt: str
    options: list[str]
    required: bool
    scored: bool


class TemplatePreset(TypedDict):
    title: str
    target_kind: str
    questions: list[QuestionSpec]


def _scale(prompt: str) -> QuestionSpec:
    return {"kind": "single_choice", "prompt": prompt, "options": list(SATISFACTION_SCALE), "scored": True}


_WISHES = ["产业发展", "就业务工", "道路水电", "医疗教育", "人居环境", "政策落实"]

# Guangyuan's 季众评 and Baoji's random visit of poor households ask about the same things:
# overall satisfaction, presence in the village, help with hardship, work style, wishes, remarks.
PRESETS: dict[str, TemplatePreset] = {
    "first_secretary_quarterly": {
        "title": "第一书记季度群众满意度测评",
        "target_kind": "cadre",
        "questions": [
            _scale("您对第一书记本季度驻村工作的总体评价"),
            {
                "kind": "single_choice",
                "prompt": "本季度第一书记到您家走访过吗",
                "options": ["走访过多次", "走访过一次", "没有走访"],
            },
            _scale("您对第一书记帮助群众解决困难的评价"),
            {"kind": "rating", "prompt": "请为第一书记的工作作风打分（1–5分）", "scored": True},
            {
                "kind": "multiple_choice",
                "prompt": "您希望第一书记下季度重点帮助做好哪些事（可多选）",
                "options": _WISHES,
                "required": False,
            },
            {"kind": "text", "prompt": "您对第一书记还有什么意见和建议", "required": False},
        ],
    },
    "village_team_quarterly": {
        "title": "驻村工作队季度群众满意度测评",
        "target_kind": "village_team",
        "questions": [
            _scale("您对驻村工作队本季度工作的总体评价"),
            {
                "kind": "single_choice",
                "prompt": "本季度驻村工作队入户走访到您家了吗",
                "options": ["走访过多次", "走访过一次", "没有走访"],
            },
            _scale("您对工作队落实帮扶政策的评价"),
            {"kind": "rating", "prompt": "请为驻村工作队的工作作风打分（1–5分）", "scored": True},
            {
                "kind": "multiple_choice",
                "prompt": "您希望工作队下季度重点帮助做好哪些事（可多选）",
                "options": _WISHES,
                "required": False,
            },
            {"kind": "text", "prompt": "您对驻村工作队还有什么意见和建议", "required": False},
        ],
    },
}


def _question(position: int, spec: QuestionSpec) -> SurveyQuestion:
    """Check one question; the error names it by its number as the admin sees it (第 n 题)."""
    label = f"第{position + 1}题"
    try:
        kind = QuestionKind(spec.get("kind"))
    except ValueError:
        raise InvalidRequest(errors={label: ["题型无效"]}) from None
    prompt = (spec.get("prompt") or "").strip()
    if not 2 <= len(prompt) <= 200:
        raise InvalidRequest(errors={label: ["题目内容为2–200字"]})
    options = [o.strip() for o in spec.get("options") or [] if o.strip()]
    scored = bool(spec.get("scored"))
    if kind in (QuestionKind.single_choice, QuestionKind.multiple_choice):
        if not 2 <= len(options) <= MAX_OPTIONS or len(set(options)) != len(options):
            raise InvalidRequest(errors={label: [f"选择题需要2–{MAX_OPTIONS}个互不相同的选项"]})
        if any(len(o) > 60 for o in options):
            raise InvalidRequest(errors={label: ["选项不超过60字"]})
    elif options:
        raise InvalidRequest(errors={label: ["只有选择题可以设置选项"]})
    if scored and kind == QuestionKind.single_choice and tuple(options) != SATISFACTION_SCALE:
        raise InvalidRequest(errors={label: ["计入满意度的单选题，选项必须是：满意、基本满意、不满意"]})
    if scored and kind not in (QuestionKind.rating, QuestionKind.single_choice):
        raise InvalidRequest(errors={label: ["只有评分题和满意度单选题可以计入满意度"]})
    return SurveyQuestion(
        position=position,
        kind=kind,
        prompt=prompt,
        options=options,
        required=spec.get("required", True),
        scored=scored,
    )


def create_template(
    session: Session,
    county_id: int,
    *,
    title: str,
    target_kind: TargetKind,
    questions: list[QuestionSpec],
    preset: str | None = None,
    actor_id: int | None = None,
) -> SurveyTemplate:
    if not questions or len(questions) > MAX_QUESTIONS:
        raise InvalidRequest(errors={"questions": [f"问卷需要1–{MAX_QUESTIONS}道题"]})
    built = [_question(position, spec) for position, spec in enumerate(questions)]
    if not any(q.scored for q in built):
        raise InvalidRequest(errors={"questions": ["至少一道题计入满意度（满意度单选题或评分题）"]})
    title = title.strip()
    if not 2 <= len(title) <= 80:
        raise InvalidRequest(errors={"title": ["问卷名称为2–80字"]})
    template = SurveyTemplate(
        county_id=county_id, title=title, target_kind=target_kind, preset=preset, created_by_id=actor_id
    )
    template.questions = built
    session.add(template)
    session.flush()
    return template


def install_preset(session: Session, county_id: int, preset: str, actor_id: int | None = None) -> SurveyTemplate:
    """The county's copy of a preset; installing it again returns the first copy."""
    existing = session.scalar(
        select(SurveyTemplate).where(SurveyTemplate.county_id == county_id, SurveyTemplate.preset == preset)
    )
    if existing is not None:
        return existing
    data = PRESETS[preset]
    return create_template(
        session,
        county_id,
        title=data["title"],
        target_kind=TargetKind(data["target_kind"]),
        questions=data["questions"],
        preset=preset,
        actor_id=actor_id,
    )


def county_of_user(session: Session, user: User) -> int | None:
    """The county an admin works in (templates and settings belong to counties)."""
    if user.county_id is not None:
        return user.county_id
    if user.town_id is not None:
        return session.get_one(Town, user.town_id).county_id
    if user.village_id is not None:
        return session.get_one(Village, user.village_id).town.county_id
    return None


def county_of_scope(session: Session, user: User) -> int:
    """The county of a town or county admin: only they manage templates and surveys."""
    county_id = county_of_user(session, user)
    if user.role not in (Role.town_admin, Role.county_admin) or county_id is None:
        raise Forbidden("只有镇、县管理员可以管理测评")
    return county_id


def templates_for(session: Session, user: User) -> list[SurveyTemplate]:
    county_id = county_of_scope(session, user)
    return list(
        session.scalars(
            select(SurveyTemplate)
            .where(SurveyTemplate.county_id == county_id)
            .options(selectinload(SurveyTemplate.questions))
            .order_by(SurveyTemplate.id)
        )
    )


def load_template(session: Session, user: User, template_id: int) -> SurveyTemplate:
    template = session.get(SurveyTemplate, template_id)
    if template is None:
        raise NotFound("问卷模板不存在")
    if template.county_id != county_of_scope(session, user):
        raise NotInScope()
    return template
