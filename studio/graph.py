"""The DAG as a Bokeh figure: boxes coloured by type, status or diff mark; edges with labels.

``GraphView`` owns one figure and its ``ColumnDataSource``s. ``show`` re-lays out only when the
graph's structure or the direction changed; ``set_statuses`` and ``set_marks`` patch the changed
rows only (``ColumnDataSource.patch``), so a live job costs a few bytes per update. Clicking a
node calls ``on_select(node_id)``. No server runtime needed: it works in a notebook too.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from bokeh.models import ColumnDataSource, CustomJS, DataRange1d, HoverTool, TapTool
from bokeh.models.annotations import Legend, LegendItem
from bokeh.plotting import figure

from .layout import Layout, layout
from .model import SIGNAL_KIND, GraphModel
from .theme import (
    DIFF_COLORS,
    DIFF_LABELS,
    DIFF_LINES,
    EDGE_STYLE,
    GHOST_ALPHA,
    STATUS_COLORS,
    TYPE_STYLE,
    tint,
)


def bokeh_write(change: Callable[[], None], model: Any = None) -> None:
    """Apply ``change`` (it sets properties of ``model`` or of models in its document) now, or on
    that document's next tick.

    Bokeh only accepts model changes under the document lock. Panel runs async callbacks without
    it, so from there the change is queued with ``add_next_tick_callback``, which takes the lock.
    The document is the model's own when it is in one: ``pn.state.curdoc`` in a task that Panel
    scheduled (a watcher's ``pn.state.execute``) can be another session's, whose lock does not cover
    these models (the change never reaches this browser) and which may be gone (the change never
    runs). A model in no document yet (being built), and code outside a server session (tests,
    notebooks), change at once.
    """
    import panel as pn

    doc = getattr(model, "document", None) if model is not None else None
    if doc is None:
        if model is not None:
            change()               # not shown yet: its state goes to the browser when it is
            return
        doc = pn.state.curdoc
    session = getattr(getattr(doc, "session_context", None), "_session", None)
    if doc is None or session is None or getattr(session, "_pending_writes", None) is not None:
        change()
    else:
        doc.add_next_tick_callback(change)


# Text and markers have screen sizes while boxes have data sizes: scale them with the zoom, so a
# small preview and a zoomed-in graph both stay legible (px = pixels per layout inch).
SCALE_JS = """
let width = 0;
try { width = plot.inner_width; } catch (e) { return; }   // not laid out yet (hidden tab)
const span = plot.x_range.end - plot.x_range.start;
if (!(span > 0) || !(width > 0)) { return; }
const px = width / span;
const size = (k, lo, hi) => Math.max(lo, Math.min(hi, px * k));
title.text_font_size = {value: size(0.135, 4, 13).toFixed(1) + 'px'};
title.text_alpha = {value: px * 0.135 < 4.5 ? 0 : 1};    // a large graph zoomed out: colours, not smudges
sub.text_font_size = {value: size(0.112, 4, 11).toFixed(1) + 'px'};
sub.text_alpha = {value: px * 0.112 < 5.5 ? 0 : 1};
label.text_font_size = {value: size(0.1, 4, 10.5).toFixed(1) + 'px'};
label.text_alpha = {value: px * 0.1 < 5 ? 0 : 1};
marker.size = {value: size(0.14, 4, 13)};
const shown = px * 0.14 < 5 ? 0 : 1;                       // type markers hide when zoomed out
marker.fill_alpha = {value: shown};
marker.line_alpha = {value: shown};
arrow.size = {value: size(0.09, 3, 9)};                   // arrowheads would hide small boxes
badge.size = {value: size(0.24, 9, 22)};
badge_text.text_font_size = {value: size(0.12, 6, 11).toFixed(1) + 'px'};
"""

COMPACT = 60           # more nodes than this: no subtitles, thin borders, the border shows the status
STATUS_EDGES = {"pending": "#94a3b8", "running": "#d97706", "done": "#16a34a", "failed": "#dc2626",
                "interrupted": "#7c3aed"}
NODE_FIELDS = ("id", "x", "y", "w", "h", "fill", "line", "width", "marker", "mx", "title", "subtitle",
               "tx", "ty", "sy", "kind", "detail", "status", "count", "badge", "bx", "by", "balpha", "outline",
               "alpha")
EDGE_FIELDS = ("xs", "ys", "detail", "source", "target")
GHOST_EDGE = "#dc2626"
EdgeFrames = dict[str, dict[str, list[Any]]]


def split_edges(frames: EdgeFrames, removed: set[str]) -> tuple[EdgeFrames, dict[str, list[Any]]]:
    """The edges that touch a ``removed`` node move out of their kind's frame into one 'ghost' frame
    (drawn dashed): a diff shows what the old version had and the new one drops."""
    kept: EdgeFrames = {kind: {k: [] for k in EDGE_FIELDS} for kind in frames}
    ghost: dict[str, list[Any]] = {k: [] for k in EDGE_FIELDS}
    for kind, frame in frames.items():
        for i, (source, target) in enumerate(zip(frame["source"], frame["target"], strict=True)):
            into = ghost if source in removed or target in removed else kept[kind]
            for key in EDGE_FIELDS:
                into[key].append(frame[key][i])
    return kept, ghost


class GraphView:
    """One DAG figure. ``mode``: ``type`` (definition), ``status`` (a job) or ``diff``."""

    def __init__(self, name: str = "graph", height: int = 380, direction: str = "LR",
                 engine: str | None = None) -> None:
        self.name = name
        self.direction = direction
        self.engine = engine
        self.model: GraphModel | None = None
        self.layout: Layout | None = None
        self.mode = "type"
        self._drawn = False
        self._structure: Any = None
        self._select_callbacks: list[Callable[[str | None], None]] = []
        self.data: dict[str, list[Any]] = {k: [] for k in NODE_FIELDS}   # what the page shows
        self.nodes = ColumnDataSource({k: [] for k in NODE_FIELDS}, name=f"{name}-nodes")
        self.edges = {kind: ColumnDataSource({k: [] for k in EDGE_FIELDS}, name=f"{name}-edges-{kind}")
                      for kind in EDGE_STYLE}
        self.ghost_edges = ColumnDataSource({k: [] for k in EDGE_FIELDS}, name=f"{name}-edges-removed")
        self._edge_frames: EdgeFrames = {kind: {k: [] for k in EDGE_FIELDS} for kind in EDGE_STYLE}
        self._ghosted: frozenset[str] = frozenset()
        self._legend_shown = False
        self.arrows = ColumnDataSource({"x": [], "y": [], "angle": [], "color": []}, name=f"{name}-arrows")
        self.labels = ColumnDataSource({"x": [], "y": [], "text": []}, name=f"{name}-labels")
        self.figure = self._figure(height)
        self.nodes.selected.on_change("indices", self._on_indices)

    # -- figure --------------------------------------------------------------------------------
    def _figure(self, height: int) -> Any:
        fig = figure(name=f"{self.name}-plot", height=height, sizing_mode="stretch_width", match_aspect=True,
                     x_range=DataRange1d(range_padding=0.06), y_range=DataRange1d(range_padding=0.12),
                     tools="pan,wheel_zoom,reset,save", active_scroll="wheel_zoom", toolbar_location="right",
                     background_fill_color="#fbfcfe", border_fill_color="#ffffff", outline_line_color=None,
                     min_border=8)
        fig.toolbar.logo = None
        fig.axis.visible = False
        fig.grid.visible = False
        for kind, (color, dash, width) in EDGE_STYLE.items():
            fig.multi_line("xs", "ys", source=self.edges[kind], line_color=color, line_dash=dash,
                           line_width=width, line_alpha=0.9)
        fig.multi_line("xs", "ys", source=self.ghost_edges, line_color=GHOST_EDGE, line_dash="dashed",
                       line_width=1.6, line_alpha=GHOST_ALPHA + 0.1)
        arrow = fig.scatter("x", "y", source=self.arrows, marker="triangle", size=9, angle="angle",
                            fill_color="color", line_color="color")
        # bokeh's stubs: GlyphAPI.text omits the Text glyph's background_fill_* properties, and
        # BorderRadius is typed as Property[int] where bokeh takes an int
        label = fig.text("x", "y", text="text", source=self.labels, text_font_size="9px",  # type: ignore[call-arg]
                         text_color="#475569", text_align="center", text_baseline="middle",
                         background_fill_color="#fbfcfe", background_fill_alpha=0.9)
        boxes = fig.rect("x", "y", "w", "h", source=self.nodes, fill_color="fill", line_color="line",
                         line_width="width", line_dash="outline", fill_alpha="alpha",
                         border_radius=6, name=f"{self.name}-boxes",  # type: ignore[arg-type]
                         selection_fill_color="fill", selection_line_color="#0f172a",
                         nonselection_fill_alpha="alpha", nonselection_line_alpha=1.0)
        marker = fig.scatter("mx", "y", source=self.nodes, marker="marker", size=11, fill_color="line",
                             line_color="line", nonselection_alpha=1.0)
        title = fig.text("tx", "ty", text="title", source=self.nodes, text_font_size="11.5px",
                         text_font_style="bold", text_color="#0f172a", text_baseline="middle",
                         text_alpha="alpha", nonselection_text_alpha="alpha")
        sub = fig.text("tx", "sy", text="subtitle", source=self.nodes, text_font_size="9.5px",
                       text_color="#475569", text_baseline="middle", nonselection_alpha=1.0)
        badge = fig.scatter("bx", "by", source=self.nodes, marker="circle", size=19, fill_color="#0f172a",
                            line_color="#ffffff", fill_alpha="balpha", line_alpha="balpha",
                            nonselection_fill_alpha="balpha", nonselection_line_alpha="balpha",
                            selection_fill_alpha="balpha", selection_line_alpha="balpha")
        badge_text = fig.text("bx", "by", text="badge", source=self.nodes, text_font_size="9.5px",
                              text_color="#ffffff", text_align="center", text_baseline="middle",
                              text_font_style="bold", nonselection_alpha=1.0)
        fig.add_tools(TapTool(renderers=[boxes]), HoverTool(renderers=[boxes], tooltips=[
            ("", "@detail"), ("status", "@status")]))
        self._scale = CustomJS(args={"plot": fig, "title": title.glyph, "sub": sub.glyph, "label": label.glyph,
                                     "marker": marker.glyph, "badge": badge.glyph,
                                     "badge_text": badge_text.glyph, "arrow": arrow.glyph}, code=SCALE_JS)
        fig.js_on_change("inner_width", self._scale)
        self._watch_ranges(fig)
        self.legend = self._diff_legend(fig)
        return fig

    def _diff_legend(self, fig: Any) -> Legend:
        """The diff's legend, on the chart (hidden unless the graph shows a diff): one sample glyph
        per mark, at a point that is not a number, so that only the legend draws it."""
        items = []
        for mark, label in DIFF_LABELS.items():
            sample = fig.rect(x=[math.nan], y=[math.nan], width=1, height=1, fill_color=DIFF_COLORS[mark],
                              line_color=DIFF_LINES.get(mark, "#94a3b8"), line_width=1.6,
                              line_dash="dashed" if mark == "removed" else "solid",
                              fill_alpha=GHOST_ALPHA if mark == "removed" else 1.0)
            items.append(LegendItem(label=label, renderers=[sample]))
        legend = Legend(items=items, name=f"{self.name}-legend", location="top_left", orientation="horizontal",
                        visible=False, background_fill_alpha=0.85, label_text_font_size="11px",
                        glyph_width=22, glyph_height=13, spacing=10, margin=4)
        fig.add_layout(legend, "center")
        return legend

    def _watch_ranges(self, fig: Any) -> None:
        for axis_range in (fig.x_range, fig.y_range):
            axis_range.js_on_change("start", self._scale)
            axis_range.js_on_change("end", self._scale)

    # -- content -------------------------------------------------------------------------------
    def show(self, model: GraphModel, direction: str | None = None) -> bool:
        """Draw ``model``; returns True when it had to lay the graph out again."""
        direction = direction or self.direction
        structure = (model.structure, direction)
        self.model = model
        if structure == self._structure:
            self._patch_titles(model)
            return False
        self.direction = direction
        self._structure = structure
        self.layout = layout(model, direction, self.engine)
        nodes, edges, arrows, labels = self._frames()
        self.data = nodes
        self._edge_frames, self._ghosted, self._legend_shown = edges, frozenset(), False
        self.mode = "type"

        def draw() -> None:
            self.nodes.selected.indices = []
            self.nodes.data = {k: list(v) for k, v in nodes.items()}
            for kind, source in self.edges.items():
                source.data = edges[kind]
            self.ghost_edges.data = {k: [] for k in EDGE_FIELDS}
            self.legend.visible = False
            self.arrows.data = arrows
            self.labels.data = labels
            if refit:      # fresh ranges fit the new layout even after the user panned or zoomed
                self.figure.x_range = DataRange1d(range_padding=0.06)
                self.figure.y_range = DataRange1d(range_padding=0.12)
                self._watch_ranges(self.figure)

        refit, self._drawn = self._drawn, True
        bokeh_write(draw, self.figure)
        return True

    def clear(self) -> None:
        self.model, self.layout, self._structure = None, None, None
        self.data = {k: [] for k in NODE_FIELDS}
        self._edge_frames = {kind: {k: [] for k in EDGE_FIELDS} for kind in EDGE_STYLE}
        self._ghosted, self._legend_shown = frozenset(), False

        def wipe() -> None:
            self.nodes.data = {k: [] for k in NODE_FIELDS}
            for source in (*self.edges.values(), self.ghost_edges):
                source.data = {k: [] for k in EDGE_FIELDS}
            self.arrows.data = {"x": [], "y": [], "angle": [], "color": []}
            self.labels.data = {"x": [], "y": [], "text": []}
            self.legend.visible = False

        bokeh_write(wipe, self.figure)

    def _frames(self) -> tuple[dict[str, list[Any]], EdgeFrames, dict[str, list[Any]], dict[str, list[Any]]]:
        """The columns of every source for the current model and layout (pure)."""
        assert self.model is not None and self.layout is not None
        boxes = self.layout.boxes
        compact = len(self.model.nodes) > COMPACT
        data: dict[str, list[Any]] = {k: [] for k in NODE_FIELDS}
        for node in self.model.nodes:
            box = boxes[node.id]
            color, marker = TYPE_STYLE.get(node.kind, TYPE_STYLE["worker"])
            left = box.x - box.w / 2
            row = {"id": node.id, "x": box.x, "y": box.y, "w": box.w, "h": box.h, "fill": tint(color),
                   "line": color, "width": 0.8 if compact else 1.6, "marker": marker, "mx": left + 0.2, "title": node.id,
                   "subtitle": "" if compact else node.subtitle, "tx": left + 0.38,
                   "ty": box.y + (0 if compact or node.kind == SIGNAL_KIND else 0.1),
                   "sy": box.y - 0.13, "kind": node.kind, "detail": node.detail, "status": "",
                   "count": 1, "badge": "", "bx": box.x + box.w / 2 - 0.05, "by": box.y + box.h / 2 - 0.02,
                   "balpha": 0.0, "outline": "solid", "alpha": 1.0}
            if node.kind == SIGNAL_KIND:
                row["title"], row["subtitle"], row["ty"] = node.title, "", box.y
            for key in NODE_FIELDS:
                data[key].append(row[key])
        by_kind: EdgeFrames = {k: {key: [] for key in EDGE_FIELDS} for k in self.edges}
        arrows: dict[str, list[Any]] = {"x": [], "y": [], "angle": [], "color": []}
        labels: dict[str, list[Any]] = {"x": [], "y": [], "text": []}
        model_edges = {(e.source, e.target, e.kind): e for e in self.model.edges}
        for path in self.layout.edges:
            kind = path.kind if path.kind in by_kind else "transition"
            edge = model_edges.get((path.source, path.target, path.kind))
            by_kind[kind]["xs"].append(list(path.xs))
            by_kind[kind]["ys"].append(list(path.ys))
            by_kind[kind]["detail"].append(edge.detail if edge else "")
            by_kind[kind]["source"].append(path.source)
            by_kind[kind]["target"].append(path.target)
            if len(path.xs) >= 2:
                dx, dy = path.xs[-1] - path.xs[-2], path.ys[-1] - path.ys[-2]
                arrows["x"].append(path.xs[-1])
                arrows["y"].append(path.ys[-1])
                arrows["angle"].append(math.atan2(dy, dx) - math.pi / 2)
                arrows["color"].append(EDGE_STYLE[kind][0])
            if path.label and path.label_at:
                labels["x"].append(path.label_at[0])
                labels["y"].append(path.label_at[1])
                labels["text"].append(path.label)
        return data, by_kind, arrows, labels

    def _patch_titles(self, model: GraphModel) -> None:
        subtitles = {n.id: n.subtitle for n in model.nodes}
        details = {n.id: n.detail for n in model.nodes}
        compact = len(model.nodes) > COMPACT
        rows = []
        for i, node_id in enumerate(self.data["id"]):
            sub = "" if compact or self.data["kind"][i] == SIGNAL_KIND else subtitles.get(node_id, "")
            rows.append((i, {"subtitle": sub, "detail": details.get(node_id, "")}))
        self._patch(rows)

    # -- colouring -----------------------------------------------------------------------------
    def colour_by_type(self) -> None:
        self._patch([(i, {"fill": tint(_type_colour(kind)), **_plain(kind), "status": "", "badge": "",
                          "balpha": 0.0}) for i, kind in enumerate(self.data["kind"])])
        self.mode = "type"
        self._ghost(frozenset(), legend=False)

    def set_statuses(self, statuses: dict[str, tuple[str, int]]) -> int:
        """Colour nodes by ``{aid: (status, count)}``; returns how many rows changed."""
        rows = []
        compact = len(self.data["id"]) > COMPACT
        for i, node_id in enumerate(self.data["id"]):
            if self.data["kind"][i] == SIGNAL_KIND:
                continue
            status, count = statuses.get(node_id, ("pending", 0))
            badge = f"×{count}" if count > 1 else ""
            row = {"fill": STATUS_COLORS[status], **_plain(self.data["kind"][i]), "status": status,
                   "badge": badge, "balpha": 1.0 if badge else 0.0}
            if compact:              # a box a few pixels wide: its border shows the status too, not the type
                row["line"] = STATUS_EDGES[status]
            rows.append((i, row))
        self.mode = "status"
        self._ghost(frozenset(), legend=False)
        return self._patch(rows)

    def set_marks(self, marks: dict[str, str]) -> int:
        """Colour nodes by diff mark: added (green), removed (red, faded and dashed, with its edges),
        changed (amber), same; the legend on the chart says which is which."""
        self.mode = "diff"
        rows = []
        for i, node_id in enumerate(self.data["id"]):
            mark = marks.get(node_id, "same")
            row = {"fill": DIFF_COLORS[mark], **_plain(self.data["kind"][i]), "status": mark, "badge": "",
                   "balpha": 0.0}
            if mark in DIFF_LINES:
                row["line"] = DIFF_LINES[mark]
            if mark == "removed":
                row.update(outline="dashed", alpha=GHOST_ALPHA)
            rows.append((i, row))
        self._ghost(frozenset(node_id for node_id, mark in marks.items() if mark == "removed"), legend=True)
        return self._patch(rows)

    def _ghost(self, removed: frozenset[str], legend: bool) -> None:
        """Draw the edges of ``removed`` nodes dashed (the rest as their kind); show or hide the legend."""
        if removed == self._ghosted and legend == self._legend_shown:
            return
        self._ghosted, self._legend_shown = removed, legend
        kept, ghost = split_edges(self._edge_frames, set(removed))

        def draw() -> None:
            for kind, source in self.edges.items():
                source.data = kept[kind]
            self.ghost_edges.data = ghost
            self.legend.visible = legend

        bokeh_write(draw, self.figure)

    def _patch(self, rows: list[tuple[int, dict[str, Any]]]) -> int:
        """Patch the cells that differ from what was last sent (``self.data``)."""
        patch: dict[str, list[tuple[int, Any]]] = {}
        changed = set()
        for i, values in rows:
            for key, value in values.items():
                if self.data[key][i] != value:
                    self.data[key][i] = value
                    patch.setdefault(key, []).append((i, value))
                    changed.add(i)
        if patch:
            bokeh_write(lambda: self.nodes.patch(patch), self.figure)
        return len(changed)

    # -- selection -----------------------------------------------------------------------------
    def on_select(self, callback: Callable[[str | None], None]) -> None:
        self._select_callbacks.append(callback)

    def select(self, node_id: str | None) -> None:
        ids = list(self.data["id"])
        indices = [ids.index(node_id)] if node_id in ids else []

        def pick() -> None:
            self.nodes.selected.indices = indices

        bokeh_write(pick, self.figure)

    @property
    def selected(self) -> str | None:
        indices = self.nodes.selected.indices
        return self.data["id"][indices[0]] if indices and indices[0] < len(self.data["id"]) else None

    def _on_indices(self, _attr: str, _old: Any, new: list[int]) -> None:
        node_id = self.data["id"][new[0]] if new and new[0] < len(self.data["id"]) else None
        if node_id is not None and self.data["kind"][new[0]] == SIGNAL_KIND:
            node_id = None
        for callback in self._select_callbacks:
            callback(node_id)


def _type_colour(kind: str) -> str:
    return TYPE_STYLE.get(kind, TYPE_STYLE["worker"])[0]


def _plain(kind: str) -> dict[str, Any]:
    """A node's outline as its type draws it (what a diff mark changes)."""
    return {"line": _type_colour(kind), "outline": "solid", "alpha": 1.0}
