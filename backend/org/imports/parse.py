"""Read an uploaded workbook into plain rows per known sheet. python-calamine (Rust) reads a county's 350,000
member rows in seconds where openpyxl's read-only mode took minutes (bench/import_county.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from io import BytesIO
from operator import itemgetter
from typing import Any, NamedTuple

from python_calamine import CalamineError, CalamineWorkbook

from backend.org.imports.sheets import SHEETS_BY_NAME, SheetSpec

MAX_ROWS = 1_000_000


class Problem(NamedTuple):
    sheet: str
    row: int  # as Excel numbers it (the header is row 1); 0 for the whole file
    column: str
    message: str


@dataclass
class ParsedSheet:
    spec: SheetSpec
    # (Excel row number, values in the spec's column order): text stripped, "" as None, dates as date.
    rows: list[tuple[int, tuple[Any, ...]]] = field(default_factory=list)


@dataclass
class ParsedFile:
    sheets: dict[str, ParsedSheet]
    problems: list[Problem]

    @property
    def row_count(self) -> int:
        return sum(len(sheet.rows) for sheet in self.sheets.values())


def parse_workbook(data: bytes) -> ParsedFile:
    try:
        workbook = CalamineWorkbook.from_filelike(BytesIO(data))
    except (CalamineError, ValueError, OSError):
        return ParsedFile({}, [Problem("", 0, "", "文件无法读取：请上传用模板填写的 .xlsx 文件")])
    sheets, problems = {}, []
    for name in workbook.sheet_names:
        spec = SHEETS_BY_NAME.get(name.strip())
        if spec is None:
            continue
        sheet = _read_sheet(spec, workbook.get_sheet_by_name(name).to_python(skip_empty_area=False), problems)
        if sheet is not None:
            sheets[spec.name] = sheet
    if not sheets and not problems:
        known = "、".join(SHEETS_BY_NAME)
        problems.append(Problem("", 0, "", f"文件中没有可导入的工作表（应为：{known}）"))
    if sum(len(s.rows) for s in sheets.values()) > MAX_ROWS:
        problems.append(Problem("", 0, "", f"文件超过 {MAX_ROWS} 行，请分成几个文件导入"))
    return ParsedFile(sheets, problems)


def _read_sheet(spec: SheetSpec, grid: list[list[Any]], problems: list[Problem]) -> ParsedSheet | None:
    if not grid:
        return None
    headers = [_text(value) for value in grid[0]]
    positions = []
    for column in spec.columns:
        if column.header in headers:
            positions.append(headers.index(column.header))
        elif column.required:
            problems.append(Problem(spec.name, 1, column.header, "缺少此列：请使用下载的模板"))
            positions.append(None)
        else:
            positions.append(None)
    if any(p is None and c.required for p, c in zip(positions, spec.columns, strict=True)):
        return None
    # Each row through C-level itemgetter and map: 4.9 million cells in a county's file.
    getter = itemgetter(*(p for p in positions if p is not None))
    missing = [i for i, p in enumerate(positions) if p is None]
    columns = list(zip(positions, spec.columns, strict=True))
    dates = [(i, p) for i, (p, c) in enumerate(columns) if c.is_date and p is not None]
    example = tuple(_date(v) if c.is_date else _text(v) for c, v in zip(spec.columns, spec.example, strict=True))
    sheet = ParsedSheet(spec)
    width = len(headers)
    for offset, raw in enumerate(grid[1:], start=2):
        if len(raw) < width:
            raw = [*raw, *([""] * (width - len(raw)))]
        values = list(map(_text, getter(raw)))
        for i in missing:
            values.insert(i, None)
        for i, p in dates:
            values[i] = _date(raw[p])
        if not any(values) or (offset == 2 and tuple(values) == example):
            continue
        sheet.rows.append((offset, tuple(values)))
    return sheet


def _text(value: Any) -> str | None:
    """A cell as text: whole numbers without ".0" (a village code typed as a number), blanks as None."""
    if type(value) is str:  # nearly every cell of a filled-in template: the short way
        return value.strip() or None
    if value is None:
        return None
    if isinstance(value, float):
        value = int(value) if value.is_integer() else value
    elif isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    return text or None


def _date(value: Any) -> date | str | None:
    """A date cell, or text such as 2026-01-01 / 2026/1/1 / 2026.1.1; anything else stays text (a problem later)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    if text is None:
        return None
    parts = text.replace("/", "-").replace(".", "-").split("-")
    if len(parts) == 3 and all(p.isascii() and p.isdigit() for p in parts):
        try:
            return date(int(parts[0]), int(parts[1]), int(parts[2]))
        except ValueError:
            return text
    return text
