"""The import workbook's sheets and columns: one description shared by the downloadable templates and the
parser, so a template always reads back as it was written."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from backend.org.identity import make_id_number
from backend.org.models import POST_LABELS

YES, NO = "是", "否"

# Household flag column → Household column. The headers are the words the county's lists use.
FLAG_COLUMNS = {
    "脱贫户": "is_poor",
    "监测户": "is_monitored",
    "低保": "is_low_income",
    "易地搬迁": "is_relocated",
    "残疾": "has_disabled",
    "大病": "has_serious_illness",
}

HEAD = "户主"
RELATIONS = (HEAD, "配偶", "子女", "父母", "孙子女", "兄弟姐妹", "其他")
POSTS_BY_LABEL = {label: post for post, label in POST_LABELS.items()}


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    required: bool
    note: str
    is_date: bool = False


@dataclass(frozen=True)
class SheetSpec:
    name: str
    columns: tuple[Column, ...]
    example: tuple[object, ...]
    note: str

    def header(self, key: str) -> str:
        return next(c.header for c in self.columns if c.key == key)


_EXAMPLE_ID = make_id_number("610000", date(1980, 1, 1), 1)
_EXAMPLE_HELPER_ID = make_id_number("610000", date(1985, 6, 1), 2)
_EXAMPLE_VILLAGE = "610000001001"

VILLAGES = SheetSpec(
    "行政村",
    (
        Column("town_code", "乡镇代码", True, "9位统计用区划代码"),
        Column("town_name", "乡镇名称", True, "新乡镇按此名称建立"),
        Column("code", "村代码", True, "12位统计用区划代码，前9位为乡镇代码"),
        Column("name", "村名称", True, "最长40字"),
        Column("lat", "中心纬度", True, "村委会位置，如 33.15"),
        Column("lng", "中心经度", True, "村委会位置，如 107.33"),
        Column("radius", "打卡半径（米）", False, "驻村打卡的范围，不填为1500"),
    ),
    ("610000001", "示例镇", _EXAMPLE_VILLAGE, "示例村", "33.15", "107.33", "1500"),
    "每行一个行政村。村代码是村的唯一标识：再次导入同一村代码会更新该村。",
)

GRIDS = SheetSpec(
    "网格",
    (
        Column("village_code", "村代码", True, "所属行政村的12位代码"),
        Column("name", "网格名称", True, "同一村内不重复，如 第一网格"),
    ),
    (_EXAMPLE_VILLAGE, "第一网格"),
    "每行一个网格。网格员请在“干部任职”表中以职务“网格员”填写。",
)

HOUSEHOLDS = SheetSpec(
    "农户成员",
    (
        Column("village_code", "村代码", True, "户所在行政村的12位代码"),
        Column("number", "户号", True, "村内唯一的户编号"),
        Column("grid", "网格", True, "户所属网格的名称（须已存在或在“网格”表中）"),
        Column("address", "家庭住址", True, "最长120字"),
        Column("name", "姓名", True, "成员姓名"),
        Column("id_number", "身份证号", True, "18位居民身份证号码（请设为文本格式）"),
        Column("phone", "手机号", False, "11位手机号码，可不填"),
        Column("relation", "与户主关系", True, "、".join(RELATIONS) + "；每户有且只有一名户主"),
        *(Column(key, header, False, "是/否，以户主所在行为准，不填为否") for header, key in FLAG_COLUMNS.items()),
    ),
    (_EXAMPLE_VILLAGE, "001", "第一网格", "示例村一组1号", "张三", _EXAMPLE_ID, "13900000000", HEAD, YES, *[NO] * 5),
    "每行一名家庭成员；村代码+户号确定一户，身份证号确定一个人。性别和出生年份从身份证号读出。",
)

CADRES = SheetSpec(
    "干部任职",
    (
        Column("name", "姓名", True, "干部姓名"),
        Column("id_number", "身份证号", True, "18位居民身份证号码（请设为文本格式）"),
        Column("phone", "手机号", False, "11位手机号码"),
        Column("work_unit", "工作单位", True, "派出单位，最长60字"),
        Column("post", "职务", True, "、".join(POST_LABELS.values())),
        Column("village_code", "村代码", True, "任职行政村的12位代码"),
        Column("start_on", "开始日期", True, "如 2026-01-01", is_date=True),
        Column("end_on", "结束日期", False, "仍在任不填", is_date=True),
    ),
    ("李四", _EXAMPLE_HELPER_ID, "13800000000", "县农业农村局", "第一书记", _EXAMPLE_VILLAGE, "2026-01-01", None),
    "每行一段任职：同一干部在多个村或多个职务任职时写多行，姓名、手机号、工作单位须一致。",
)

PAIRINGS = SheetSpec(
    "结对帮扶",
    (
        Column("helper_id_number", "帮扶人身份证号", True, "帮扶责任人的身份证号（须已是本县干部或在“干部任职”表中）"),
        Column("village_code", "村代码", True, "被帮扶户所在行政村的12位代码"),
        Column("number", "户号", True, "被帮扶户的户号"),
        Column("start_on", "开始日期", True, "如 2026-01-01", is_date=True),
        Column("end_on", "结束日期", False, "仍在帮扶不填", is_date=True),
    ),
    (_EXAMPLE_HELPER_ID, _EXAMPLE_VILLAGE, "001", "2026-01-01", None),
    "每行一对帮扶关系。每户同时只有一名帮扶责任人：新的结对会结束该户原有的结对。",
)

# In the order they are applied: a later sheet may name what an earlier one creates.
SHEETS = (VILLAGES, GRIDS, HOUSEHOLDS, CADRES, PAIRINGS)
SHEETS_BY_NAME = {sheet.name: sheet for sheet in SHEETS}


@dataclass(frozen=True)
class Template:
    key: str
    title: str
    sheets: tuple[SheetSpec, ...]


TEMPLATES = {
    t.key: t
    for t in (
        Template("villages", "行政村和网格", (VILLAGES, GRIDS)),
        Template("households", "农户和家庭成员", (HOUSEHOLDS,)),
        Template("cadres", "干部和任职", (CADRES,)),
        Template("pairings", "帮扶结对", (PAIRINGS,)),
    )
}
