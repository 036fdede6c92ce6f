"""The downloadable .xlsx templates: Chinese headers, one example row (skipped on import if left as it is),
every column formatted as text (an 18-digit ID number typed into a number cell loses its last digits), and a
填写说明 sheet that explains each column."""

from __future__ import annotations

from io import BytesIO

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from backend.org.imports.sheets import TEMPLATES, SheetSpec

NOTES_SHEET = "填写说明"
_EXAMPLE_FILL = PatternFill("solid", fgColor="FFF2CC")


def template_workbook(key: str) -> bytes:
    template = TEMPLATES[key]
    workbook = Workbook()
    workbook.remove(workbook.active)
    for spec in template.sheets:
        _data_sheet(workbook, spec)
    notes = workbook.create_sheet(NOTES_SHEET)
    notes.append(["工作表", "列", "是否必填", "说明"])
    for cell in notes[1]:
        cell.font = Font(bold=True)
    for spec in template.sheets:
        notes.append([spec.name, "", "", spec.note])
        for column in spec.columns:
            notes.append([spec.name, column.header, "必填" if column.required else "选填", column.note])
    notes.append(["", "", "", "第2行（黄色）是示例，原样保留时导入会跳过它；也可以删除。"])
    notes.append(
        ["", "", "", "上传后先检查，列出将新增、修改、不变的行和每个问题；确认后才写入，全部成功或全部不写入。"]
    )
    for letter, width in zip("ABCD", (12, 16, 10, 70), strict=True):
        notes.column_dimensions[letter].width = width
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _data_sheet(workbook: Workbook, spec: SheetSpec) -> None:
    sheet = workbook.create_sheet(spec.name)
    sheet.append([column.header for column in spec.columns])
    sheet.append(list(spec.example))
    sheet.freeze_panes = "A2"
    for index, column in enumerate(spec.columns, start=1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = max(10, len(column.header) * 2 + 4)
        sheet.column_dimensions[letter].number_format = "@"
        header = sheet.cell(row=1, column=index)
        header.font = Font(bold=True, color="C00000" if column.required else None)
        example = sheet.cell(row=2, column=index)
        example.fill = _EXAMPLE_FILL
        example.number_format = "@"
