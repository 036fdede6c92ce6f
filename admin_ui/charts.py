"""ECharts options built on the server, drawn by static/charts.js through the `chart` macro in _macros.html.

Any admin page can show a chart: build an option here (or a dict of your own), pass it to the
template, and write `{{ chart(option) }}` once `{{ chart_scripts() }}` is on the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

PALETTE = ["#b71c1c", "#e57373", "#9e9e9e", "#1a4fa0", "#1d6b47", "#9a5b00", "#6b21a8"]


def bar_option(
    labels: Sequence[str], values: Sequence[int | float], *, title: str = "", unit: str = "", horizontal: bool = False
) -> dict[str, Any]:
    """A one-series bar chart (counts per option, scores per village...)."""
    category = {"type": "category", "data": list(labels), "axisLabel": {"interval": 0}}
    value = {"type": "value", "minInterval": 1, "name": unit}
    return {
        "title": {"text": title, "left": "center", "textStyle": {"fontSize": 14}},
        "color": PALETTE,
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 8, "right": 24, "top": 40 if title else 16, "bottom": 8, "containLabel": True},
        "xAxis": value if horizontal else category,
        "yAxis": category if horizontal else value,
        "series": [
            {"type": "bar", "data": list(values), "label": {"show": True, "position": "right" if horizontal else "top"}}
        ],
    }


def stacked_bar_option(
    labels: Sequence[str], series: Sequence[tuple[str, Sequence[int | float], str]], *, unit: str = ""
) -> dict[str, Any]:
    """Bars split into parts per label (villages per grade, month by month); series = (name, values, colour)."""
    return {
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "legend": {"top": 0},
        "grid": {"left": 8, "right": 16, "top": 32, "bottom": 8, "containLabel": True},
        "xAxis": {"type": "category", "data": list(labels)},
        "yAxis": {"type": "value", "minInterval": 1, "name": unit},
        "series": [
            {"type": "bar", "stack": "total", "name": name, "data": list(values), "itemStyle": {"color": color}}
            for name, values, color in series
        ],
    }


def pie_option(labels: Sequence[str], values: Sequence[int | float], *, title: str = "") -> dict[str, Any]:
    """Shares of a whole (满意 / 基本满意 / 不满意)."""
    return {
        "title": {"text": title, "left": "center", "textStyle": {"fontSize": 14}},
        "color": PALETTE,
        "tooltip": {"trigger": "item", "formatter": "{b}：{c}（{d}%）"},
        "series": [
            {
                "type": "pie",
                "radius": ["35%", "65%"],
                "top": 24 if title else 0,
                "data": [{"name": n, "value": v} for n, v in zip(labels, values, strict=True)],
                "label": {"formatter": "{b}\n{d}%"},
            }
        ],
    }


def gauge_option(percent: float, *, title: str = "", threshold_pct: int | None = None) -> dict[str, Any]:
    """One percentage against a line (satisfaction against the county's threshold)."""
    line = (threshold_pct or 0) / 100
    return {
        "series": [
            {
                "type": "gauge",
                "min": 0,
                "max": 100,
                "progress": {"show": True, "width": 14},
                "axisLine": {"lineStyle": {"width": 14, "color": [[line, "#f3c5c5"], [1, "#d6eadf"]]}},
                "detail": {
                    "valueAnimation": False,
                    "formatter": "{value}%",
                    "fontSize": 22,
                    "offsetCenter": [0, "60%"],
                },
                "title": {"offsetCenter": [0, "90%"]},
                "data": [{"value": round(percent, 1), "name": title}],
            }
        ]
    }
