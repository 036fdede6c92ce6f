"""The five presets from published county practice (domain.md §4). Data, not code: counties version their own copy."""

from __future__ import annotations

from typing import Any

_STARS: list[tuple[str, str, str | None, list[tuple[str, str | None]]]] = [
    (
        "守岗敬业",
        "驻村工作队员每月在村工作不少于20天，吃住在村，按时打卡",
        "attendance_rate",
        [("无故脱岗、被县级以上通报", None)],
    ),
    ("业务能力", "熟悉村情户情，掌握帮扶政策，能独立开展群众工作", None, [("政策应知应会抽考不合格", None)]),
    ("工作成效", "年度帮扶计划按月推进，产业就业项目落地见效，户积分参与活跃", "points_activity_rate", []),
    (
        "遍访解困",
        "每月走访监测户、脱贫户全覆盖，群众困难登记在册、限期解决",
        "visit_coverage_rate",
        [("发现返贫致贫风险未及时上报", None)],
    ),
    ("政策落实", "教育、医疗、住房、饮水等保障政策落实到户，无漏项", None, [("出现政策落实漏户被查实", None)]),
    ("问题整改", "上级反馈和排查发现的问题按期整改销号", "problem_closure_rate", [("整改问题反弹或虚假销号", None)]),
    ("稳定增收", "脱贫户、监测户人均纯收入稳定增长，无规模性返贫", None, [("发生规模性返贫", None)]),
    (
        "信访维稳",
        "矛盾纠纷就地化解，无越级上访和群体性事件",
        None,
        [("发生群体性事件或越级上访", None), ("当月3户以上触发积分一票否决", "points_vetoed_households")],
    ),
    ("群众满意", "群众对驻村帮扶工作满意率不低于90%", "survey_satisfaction_rate", [("群众实名举报查实", None)]),
    ("创新创优", "工作有创新、有亮点，经验做法被县级以上推广", None, []),
]


def _ten_star() -> dict[str, Any]:
    indicators = []
    for n, (title, content, key, vetoes) in enumerate(_STARS, start=1):
        code = f"S{n:02d}"
        indicators.append(
            {
                "code": code,
                "title": title,
                "content": content,
                "max": 10,
                "input": key,
                "vetoes": [
                    {"code": f"{code}V{m}", "title": v_title, **({"input": v_key, "min": 3} if v_key else {})}
                    for m, (v_title, v_key) in enumerate(vetoes, start=1)
                ],
            }
        )
    return {
        "kind": "ten_star",
        "period": "month",
        "indicators": indicators,
        "star_ratio": 0.8,
        "grades": [
            {"min": 9, "label": "优秀", "tone": "good"},
            {"min": 7, "label": "良好", "tone": "ok"},
            {"min": 0, "label": "差", "tone": "bad"},
        ],
        "alerts": {"low_stars": 6, "high_stars": 9, "streak_months": 2, "satisfaction_below": 0.7, "rectify_days": 30},
    }


_SEVEN_ONES = [
    ("W01", "强一个班子", "帮助村党组织建强班子、规范三会一课", 10, None),
    ("W02", "上一次党课", "每年至少为村党员讲一次党课", 5, None),
    ("W03", "走遍每户", "走访每一户，建立户情台账", 15, "visit_coverage_rate"),
    ("W04", "记一本民情日记", "坚持记录民情日记", 5, None),
    ("W05", "写一篇调研报告", "围绕村情写出有分量的调研报告", 5, None),
    ("W06", "办一批民生实事", "推动解决群众急难愁盼问题", 10, "problem_closure_rate"),
    ("W07", "协调一批帮扶项目", "争取和落实帮扶资金、项目", 10, None),
]


def _hundred_point() -> dict[str, Any]:
    work = [
        {"code": c, "title": t, "group": "工作实绩（七个一）", "content": x, "max": m, "input": k}
        for c, t, x, m, k in _SEVEN_ONES
    ]
    return {
        "kind": "hundred_point",
        "period": "month",
        "indicators": [
            *work,
            {
                "code": "M01",
                "title": "群众评价",
                "group": "群众评价",
                "content": "入户问卷满意率折算",
                "max": 20,
                "input": "survey_satisfaction_rate",
            },
            {
                "code": "D01",
                "title": "工作纪律",
                "group": "工作纪律",
                "content": "在岗考勤折算",
                "max": 10,
                "input": "attendance_rate",
                "vetoes": [{"code": "D01V1", "title": "违反廉洁纪律受到处分"}],
            },
            {"code": "E01", "title": "工作评价", "group": "工作评价", "content": "派出单位和乡镇党委评价", "max": 10},
        ],
        "grades": [
            {"min": 90, "label": "优秀", "tone": "good"},
            {"min": 70, "label": "称职", "tone": "ok"},
            {"min": 60, "label": "基本称职", "tone": "mid"},
            {"min": 0, "label": "不称职", "tone": "bad"},
        ],
        # Ties at the cut line: compare 群众评价, then 工作纪律; a group still tied there is not admitted.
        "quota": {"grade": "优秀", "share": 0.2, "fallback": "称职", "tie_break": ["M01", "D01"]},
    }


def _thousand_point() -> dict[str, Any]:
    quantitative = [
        ("Q01", "党建工作", 200, None),
        ("Q02", "产业发展与集体经济", 200, "points_activity_rate"),
        ("Q03", "人居环境整治", 150, None),
        ("Q04", "社会治理与平安建设", 150, "problem_closure_rate"),
        ("Q05", "民生保障", 100, "visit_coverage_rate"),
    ]
    qualitative = [("L01", "群众测评", 100, "survey_satisfaction_rate"), ("L02", "乡镇党委评价", 100, None)]
    return {
        "kind": "thousand_point",
        "period": "half_year",
        "indicators": [
            *({"code": c, "title": t, "group": "定量考核", "max": m, "input": k} for c, t, m, k in quantitative),
            *({"code": c, "title": t, "group": "定性考核", "max": m, "input": k} for c, t, m, k in qualitative),
        ],
        "bonuses": [
            {"code": "B01", "title": "获得县级以上表彰", "points": 20, "max": 60},
            {"code": "B02", "title": "工作经验被县级以上推广", "points": 15, "max": 30},
            {"code": "B03", "title": "争取项目资金超过50万元", "points": 20, "max": 40},
        ],
        "deductions": [
            {"code": "X01", "title": "重点工作被县级通报批评", "points": 30},
            {"code": "X02", "title": "发生越级上访", "points": 20},
            {"code": "X03", "title": "未按期完成整改", "points": 10},
        ],
        "grades": [
            {"min": 900, "label": "优秀", "tone": "good"},
            {"min": 750, "label": "良好", "tone": "ok"},
            {"min": 600, "label": "合格", "tone": "mid"},
            {"min": 0, "label": "不合格", "tone": "bad"},
        ],
    }


def _party_member() -> dict[str, Any]:
    return {
        "kind": "party_member",
        "period": "month",
        "base": 100,
        "categories": {
            "A": "村党组织书记、村委会主任",
            "B": "其他村两委成员",
            "C": "无职党员",
            "D": "流出党员",
            "E": "流入党员",
            "F": "年老体弱党员",
        },
        "bonuses": [
            {"code": "B01", "title": "带头致富、带动他人增收", "points": 5, "max": 10, "categories": list("ABCE")},
            {"code": "B02", "title": "化解矛盾纠纷、维护稳定", "points": 3, "max": 9},
            {"code": "B03", "title": "结对服务群众、办实事", "points": 2, "max": 10},
            {"code": "B04", "title": "参加志愿服务", "points": 1, "max": 4},
        ],
        "deductions": [
            {"code": "X01", "title": "无故不参加组织生活", "points": 5, "categories": list("ABCE")},
            {"code": "X02", "title": "未按时交纳党费", "points": 5},
            {"code": "X03", "title": "未完成包联任务", "points": 3, "categories": list("AB")},
            {"code": "X04", "title": "流出党员未按月联系党组织", "points": 3, "categories": ["D"]},
        ],
        "grades": [
            {"min": 110, "label": "优秀", "tone": "good"},
            {"min": 95, "label": "合格", "tone": "ok"},
            {"min": 80, "label": "基本合格", "tone": "mid"},
            {"min": 0, "label": "不合格", "tone": "bad"},
        ],
    }


def _ranking() -> dict[str, Any]:
    return {
        "kind": "ranking",
        "period": "month",
        "indicators": [
            {"code": "R01", "title": "驻村在岗", "max": 20, "input": "attendance_rate"},
            {"code": "R02", "title": "走访覆盖", "max": 20, "input": "visit_coverage_rate"},
            {"code": "R03", "title": "问题销号", "max": 20, "input": "problem_closure_rate"},
            {"code": "R04", "title": "群众满意", "max": 20, "input": "survey_satisfaction_rate"},
            {"code": "R05", "title": "积分治理", "max": 20, "input": "points_activity_rate"},
        ],
        "grades": [
            {"min": 90, "label": "先进", "tone": "good"},
            {"min": 60, "label": "达标", "tone": "ok"},
            {"min": 0, "label": "落后", "tone": "bad"},
        ],
        "ranking": {
            "red_flag_places": 1,
            "yellow_card_inputs": [{"input": "points_vetoed_households", "min": 3, "title": "当月3户以上一票否决"}],
            "annual_bottom_share": 0.1,
        },
    }


PRESETS: dict[str, dict[str, Any]] = {
    "ziyang_ten_star": {"title": "紫阳县驻村工作队十星级评定", "definition": _ten_star()},
    "baoji_first_secretary": {"title": "宝鸡市第一书记百分制考核", "definition": _hundred_point()},
    "gaoyang_thousand_point": {"title": "高阳县村两委千分制考核", "definition": _thousand_point()},
    "gaoyang_party_member": {"title": "高阳县党员积分管理（A–F类）", "definition": _party_member()},
    "guangyuan_ranking": {"title": "广元市驻村工作月度排名", "definition": _ranking()},
}
