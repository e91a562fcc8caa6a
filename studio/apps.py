"""Apps and graphs: the DAG of every graph of the active (or chosen) version, LR/TB, click to inspect."""

from __future__ import annotations

import functools
import html
from pathlib import Path
from typing import Any

import panel as pn

from hotmesh_core.compiler import CompiledApp

from .graph import GraphView, bokeh_write
from .inspector import activity_yaml
from .model import graph_model
from .theme import legend_html


def graph_header(graph: Any) -> str:
    schema = graph.input_schema if isinstance(graph.input_schema, dict) else {}
    fields = ", ".join(schema.get("properties", {})) if schema else ""
    parts = [f"<span class='hm-title'>{html.escape(graph.subscribes)}</span>"]
    if graph.publishes:
        parts.append(f"<span class='hm-muted'> → publishes {html.escape(graph.publishes)}</span>")
    parts.append(f"<span class='hm-muted'> · {len(graph.activities)} activities</span>")
    if fields:
        parts.append(f"<span class='hm-muted'> · input: {html.escape(fields)}</span>")
    if graph.hooks:
        parts.append(f"<span class='hm-muted'> · hooks: {html.escape(', '.join(graph.hooks))}</span>")
    return "<div class='hm-graph-header'>" + "".join(parts) + "</div>"


class AppsView:
    """Every graph of ``app`` as a DAG; clicking a node shows its definition beside the graphs."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder
        self.app: CompiledApp | None = None
        self.source: str | None = None
        self.views: list[GraphView] = []
        self.direction = pn.widgets.RadioButtonGroup(options=["LR", "TB"], value="LR", color="light",
                                                     width=110, css_classes=["hm-direction"])
        self.summary = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["hm-app-summary"])
        self.graphs = pn.Column(sizing_mode="stretch_width")
        self.inspector = pn.pane.HTML("<div class='hm-muted'>Click an activity to see its definition.</div>",
                                      sizing_mode="stretch_width", css_classes=["hm-definition"])
        self.direction.param.watch(lambda _e: self._relayout(), "value")
        self.panel = pn.Column(
            pn.Row(self.summary, pn.pane.HTML("<span class='hm-muted'>layout</span>", align="center"),
                   self.direction, sizing_mode="stretch_width"),
            pn.pane.HTML(legend_html("type")),
            pn.Row(self.graphs, pn.Column(pn.pane.HTML("<div class='hm-card-title'>Definition</div>"),
                                          self.inspector, width=360,
                                          styles={"border-left": "1px solid #e2e8f0", "padding-left": "10px"}),
                   sizing_mode="stretch_width"),
            sizing_mode="stretch_width")

    def show(self, app: CompiledApp | None, source: str | None, note: str = "") -> None:
        self.app, self.source = app, source
        if app is None:
            self.summary.object = f"<div class='hm-muted'>{html.escape(note or 'No version deployed yet.')}</div>"
            self.graphs.objects, self.views = [], []
            return
        self.summary.object = (f"<div class='hm-title'>App {html.escape(app.id)} <span class='hm-badge'>"
                               f"version {html.escape(app.version)}</span></div>"
                               + (f"<div class='hm-muted'>{html.escape(note)}</div>" if note else ""))
        self.views = []
        cards = []
        for index, graph in enumerate(app.graphs):
            view = GraphView(name=f"app-graph-{index}", height=_height(len(graph.activities)))
            view.show(graph_model(app, graph), self.direction.value)
            view.on_select(self._inspect)
            self.views.append(view)
            cards.append(pn.Column(pn.pane.HTML(graph_header(graph)),
                                   pn.pane.Bokeh(view.figure, sizing_mode="stretch_width"),
                                   sizing_mode="stretch_width", css_classes=["hm-graph-card"]))
        self.graphs.objects = cards

    def _relayout(self) -> None:
        tall = self.direction.value == "TB"
        for view in self.views:
            if view.model is not None:
                bokeh_write(functools.partial(setattr, view.figure, "height", _height(len(view.model.nodes), tall)),
                            view.figure)
                view.show(view.model, self.direction.value)

    def _inspect(self, aid: str | None) -> None:
        if aid is None or self.app is None or aid not in self.app.activities:
            return
        activity = self.app.activities[aid]
        rows = [("type", activity.type), ("title", activity.title), ("topic", activity.topic),
                ("graph", activity.graph), ("parent", activity.parent),
                ("next", ", ".join(activity.children) or "—"), ("line", activity.line)]
        table = "".join(f"<tr><td>{k}</td><td>{html.escape(str(v))}</td></tr>" for k, v in rows if v is not None)
        yaml_text = activity_yaml(activity, self.source, self.folder)
        self.inspector.object = (f"<div class='hm-title'>{html.escape(aid)}</div><table class='hm-kv'>{table}"
                                 f"</table><div class='hm-card-title'>YAML</div><pre class='hm-pre'>"
                                 f"{html.escape(yaml_text)}</pre>")


def _height(count: int, tall: bool = False) -> int:
    if tall:
        return max(360, min(900, 120 + 70 * count))
    return max(260, min(560, 140 + 18 * count))
