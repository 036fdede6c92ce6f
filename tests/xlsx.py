"""Read an Excel download back, so export tests assert on what the county actually opens."""

from __future__ import annotations

from io import BytesIO

from openpyxl import load_workbook
from werkzeug.test import TestResponse


def read_xlsx(response: TestResponse) -> list[list[object]]:
    """Rows of the first sheet (header first); fails unless the response is an .xlsx attachment."""
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response.headers["Content-Disposition"].startswith("attachment")
    sheet = load_workbook(BytesIO(response.data), read_only=True).worksheets[0]
    return [list(row) for row in sheet.iter_rows(values_only=True)]
