"""The Gantt timeline of a job: one bar per activity execution, coloured by status."""

from __future__ import annotations

from typing import Any

from bokeh.models import ColumnDataSource, FactorRange, HoverTool
from bokeh.plotting import figure

from .graph import bokeh_write
from .theme import STATUS_COLORS

ROW_PX = 24


class Timeline:
    def __init__(self, name: str = "gantt") -> None:
        self.source = ColumnDataSource({"row": [], "start": [], "end": [], "color": [], "status": [],
                                        "ms": [], "aid": []}, name=f"{name}-bars")
        self.rows_range = FactorRange()
        self.figure = figure(name=f"{name}-plot", y_range=self.rows_range, height=140,
                             x_axis_label="seconds since the job started",
                             sizing_mode="stretch_width", tools="xpan,xwheel_zoom,reset",
                             toolbar_location="right", outline_line_color=None, min_border_left=10,
                             background_fill_color="#fbfcfe")
        self.figure.toolbar.logo = None
        self.figure.hbar(y="row", left="start", right="end", height=0.62, source=self.source,
                         fill_color="color", line_color="#334155", line_alpha=0.35)
        self.figure.add_tools(HoverTool(tooltips=[("activity", "@row"), ("status", "@status"),
                                                  ("duration", "@ms{0,0} ms")]))
        self.figure.ygrid.visible = False
        self.figure.xaxis.axis_label_text_font_size = "11px"
        self.figure.xaxis.axis_label_text_font_style = "normal"
        self.figure.yaxis.major_label_text_font_size = "11px"
        self._rows: list[str] = []

    def update(self, rows: list[dict[str, Any]]) -> None:
        """``rows`` from ``JobState.timeline()``; rows keep their order as the job grows."""
        labels = [_label(r, rows) for r in rows]
        origin = min((r["start"] for r in rows), default=0)
        data = {"row": labels, "start": [(r["start"] - origin) / 1000 for r in rows],
                "end": [(r["end"] - origin) / 1000 for r in rows],
                "color": [STATUS_COLORS.get(r["status"], "#e2e8f0") for r in rows],
                "status": [r["status"] for r in rows], "ms": [r["end"] - r["start"] for r in rows],
                "aid": [r["aid"] for r in rows]}
        factors = list(reversed(list(dict.fromkeys(labels))))
        relabel = factors != self._rows
        self._rows = factors

        def write() -> None:
            if relabel:
                self.rows_range.factors = factors
                self.figure.height = max(120, 46 + ROW_PX * len(factors))
            self.source.data = data

        bokeh_write(write, self.figure)


def _label(row: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    repeated = sum(1 for r in rows if r["aid"] == row["aid"]) > 1
    return f"{row['aid']} {row['dad']}" if repeated else row["aid"]
