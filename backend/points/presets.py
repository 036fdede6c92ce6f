"""Rule-book presets from published county practice. Data, not code: counties edit their own copy."""

from __future__ import annotations

from typing import TypedDict


class PresetItem(TypedDict, total=False):
    code: str
    kind: str
    title: str
    points: int
    evidence_required: bool
    cap_count: int
    cap_period: str


def _items(kind: str, prefix: str, rows: list[tuple]) -> list[PresetItem]:
    items: list[PresetItem] = []
    for n, row in enumerate(rows, start=1):
        title, points, evidence, cap = row
        item: PresetItem = {
            "code": f"{prefix}{n:02d}",
            "kind": kind,
            "title": title,
            "points": points,
            "evidence_required": evidence,
        }
        if cap:
            item["cap_count"], item["cap_period"] = cap
        items.append(item)
    return items


# Gaoyang (河北高阳) shape: 25 positive, 19 negative, 4 one-vote-veto items; base score 100.
GAOYANG_POSITIVE = _items(
    "positive",
    "P",
    [
        ("参加村级公益劳动", 2, True, (4, "month")),
        ("参加志愿服务活动", 2, True, (4, "month")),
        ("庭院干净整洁（美丽庭院）", 3, True, (1, "month")),
        ("门前三包落实到位", 1, True, (2, "month")),
        ("主动参与垃圾分类", 1, True, (2, "month")),
        ("参加村民会议、党员大会", 1, False, (2, "month")),
        ("按时缴纳医保、养老保险", 2, False, (1, "year")),
        ("配合人居环境整治", 2, True, (2, "month")),
        ("见义勇为", 10, True, None),
        ("拾金不昧", 5, True, None),
        ("孝老爱亲、照顾孤寡老人", 3, True, (2, "month")),
        ("邻里互助、调解纠纷", 2, True, (2, "month")),
        ("移风易俗、红白事简办", 5, True, (1, "quarter")),
        ("捐款捐物支持村公益事业", 3, True, (2, "quarter")),
        ("参加技能培训并取得证书", 3, True, (2, "year")),
        ("带动他人就业增收", 5, True, (1, "quarter")),
        ("发展庭院经济、特色种养", 3, True, (1, "quarter")),
        ("子女考入大中专院校", 5, True, (1, "year")),
        ("应征入伍", 10, True, None),
        ("获得镇级以上表彰", 5, True, (2, "year")),
        ("参与护林防火、防汛巡查", 2, True, (4, "month")),
        ("积极参加文体活动", 1, True, (2, "month")),
        ("提出合理化建议被采纳", 3, False, (1, "quarter")),
        ("主动举报违法违规线索", 3, False, (2, "quarter")),
        ("无偿献血", 3, True, (2, "year")),
    ],
)
GAOYANG_NEGATIVE = _items(
    "negative",
    "N",
    [
        ("乱堆乱放、私搭乱建", 3, True, None),
        ("乱倒垃圾、污水乱排", 2, True, None),
        ("大操大办红白事、天价彩礼", 10, True, None),
        ("参与封建迷信活动", 5, False, None),
        ("聚众赌博", 10, False, None),
        ("不赡养老人、虐待家庭成员", 10, False, None),
        ("邻里纠纷无理取闹", 3, False, None),
        ("无理上访、缠访闹访", 5, False, None),
        ("焚烧秸秆、垃圾", 5, True, None),
        ("损坏公共设施", 5, True, None),
        ("散养家禽家畜影响环境", 2, True, None),
        ("未按规定缴纳村集体费用", 2, False, None),
        ("拒不配合村级重点工作", 3, False, None),
        ("酒后滋事、打架斗殴", 5, False, None),
        ("私自占用耕地、乱建坟墓", 10, True, None),
        ("在公共场所乱贴乱画", 1, True, None),
        ("不履行门前三包", 1, True, None),
        ("违规用火用电", 3, True, None),
        ("散布谣言、造谣传谣", 5, False, None),
    ],
)
GAOYANG_VETO = _items(
    "veto",
    "V",
    [
        ("违法犯罪被依法处理", 0, False, None),
        ("参与黑恶势力、邪教组织", 0, False, None),
        ("违反计划生育、婚姻法律法规", 0, False, None),
        ("发生重大安全责任事故", 0, False, None),
    ],
)

GAOYANG = {
    "title": "村民积分管理办法（高阳模式）",
    "base_score": 100,
    "items": GAOYANG_POSITIVE + GAOYANG_NEGATIVE + GAOYANG_VETO,
}

PRESETS = {"gaoyang": GAOYANG}
