"""Lay out a ``GraphModel``: Graphviz ``dot -Tplain`` when the binary exists, else a layered
networkx layout (``topological_generations``). Units are inches, y grows upwards (as in dot).

Both engines return the same ``Layout``: node centres and sizes, each edge as a polyline ending
on the border of its target, and the point where its label goes. Cycle and hook edges do not
constrain the ranks, so the DAG of transitions reads left to right (``LR``) or top to bottom
(``TB``).
"""

from __future__ import annotations

import functools
import shlex
import shutil
from collections import defaultdict
from dataclasses import dataclass

import networkx as nx

from .model import SIGNAL_KIND, GraphModel

NODE_W, NODE_H = 2.1, 0.62
SIGNAL_W, SIGNAL_H = 1.7, 0.42
RANK_GAP, NODE_GAP = 0.9, 0.45


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True)
class EdgePath:
    source: str
    target: str
    kind: str
    label: str
    xs: tuple[float, ...]
    ys: tuple[float, ...]
    label_at: tuple[float, float] | None


@dataclass(frozen=True)
class Layout:
    boxes: dict[str, Box]
    edges: tuple[EdgePath, ...]
    direction: str
    engine: str


def dot_available() -> bool:
    return shutil.which("dot") is not None


def layout(model: GraphModel, direction: str = "LR", engine: str | None = None) -> Layout:
    """Lay out ``model``; ``engine`` forces ``dot`` or ``networkx`` (default: dot when installed)."""
    if direction not in ("LR", "TB"):
        raise ValueError(f"direction must be LR or TB, not {direction!r}")
    engine = engine or ("dot" if dot_available() else "networkx")
    return _cached(model, direction, engine)


@functools.lru_cache(maxsize=256)
def _cached(model: GraphModel, direction: str, engine: str) -> Layout:
    if engine == "dot":
        try:
            return dot_layout(model, direction)
        except Exception:   # noqa: BLE001 - a broken dot must not break the page; networkx still works
            pass
    return layered_layout(model, direction)


def _size(kind: str) -> tuple[float, float]:
    return (SIGNAL_W, SIGNAL_H) if kind == SIGNAL_KIND else (NODE_W, NODE_H)


# -- Graphviz ------------------------------------------------------------------------------------
def dot_source(model: GraphModel, direction: str) -> str:
    def q(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = [f"digraph G {{ rankdir={direction}; nodesep={NODE_GAP}; ranksep={RANK_GAP};",
             " node [shape=box fixedsize=true label=\"\"]; edge [fontsize=9];"]
    for node in model.nodes:
        w, h = _size(node.kind)
        lines.append(f" {q(node.id)} [width={w} height={h}];")
    for edge in model.edges:
        attrs = []
        if edge.label:
            attrs.append(f"label={q(edge.label)}")
        if edge.kind == "cycle":
            attrs.append("constraint=false")
        lines.append(f" {q(edge.source)} -> {q(edge.target)} [{' '.join(attrs)}];")
    lines.append("}")
    return "\n".join(lines)


def run_dot(source: str) -> str:
    import graphviz

    plain: bytes = graphviz.Source(source, engine="dot").pipe(format="plain")
    return plain.decode()


def dot_layout(model: GraphModel, direction: str) -> Layout:
    return parse_plain(run_dot(dot_source(model, direction)), model, direction)


def parse_plain(text: str, model: GraphModel, direction: str) -> Layout:
    boxes: dict[str, Box] = {}
    raw_edges: dict[tuple[str, str], list[tuple[list[tuple[float, float]], tuple[float, float] | None]]] = \
        defaultdict(list)
    for line in text.splitlines():
        parts = shlex.split(line)
        if not parts:
            continue
        if parts[0] == "node":
            boxes[parts[1]] = Box(float(parts[2]), float(parts[3]), float(parts[4]), float(parts[5]))
        elif parts[0] == "edge":
            count = int(parts[3])
            nums = [float(v) for v in parts[4:4 + 2 * count]]
            points = list(zip(nums[0::2], nums[1::2], strict=True))
            rest = parts[4 + 2 * count:]
            label_at = (float(rest[1]), float(rest[2])) if len(rest) >= 5 else None
            raw_edges[(parts[1], parts[2])].append((points, label_at))
    edges = []
    for edge in model.edges:
        queue = raw_edges.get((edge.source, edge.target))
        if not queue:
            continue
        points, label_at = queue.pop(0)
        curve = _bezier(points)
        curve.append(_border_point(curve[-1], boxes[edge.target]))
        xs, ys = zip(*curve, strict=True)
        edges.append(EdgePath(edge.source, edge.target, edge.kind, edge.label, xs, ys, label_at))
    return Layout(boxes, tuple(edges), direction, "dot")


def _bezier(points: list[tuple[float, float]], steps: int = 8) -> list[tuple[float, float]]:
    """Sample dot's cubic B-spline control points (3k+1 of them) as a polyline."""
    if len(points) < 4:
        return list(points)
    out = [points[0]]
    for i in range(0, len(points) - 3, 3):
        (x0, y0), (x1, y1), (x2, y2), (x3, y3) = points[i:i + 4]
        for s in range(1, steps + 1):
            t = s / steps
            a, b, c, d = (1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t * t * (1 - t), t ** 3
            out.append((a * x0 + b * x1 + c * x2 + d * x3, a * y0 + b * y1 + c * y2 + d * y3))
    return out


def _border_point(start: tuple[float, float], box: Box) -> tuple[float, float]:
    """Where the segment from ``start`` to the centre of ``box`` crosses its border."""
    dx, dy = box.x - start[0], box.y - start[1]
    if dx == 0 and dy == 0:
        return start
    scale = min(box.w / 2 / abs(dx) if dx else float("inf"), box.h / 2 / abs(dy) if dy else float("inf"))
    scale = min(scale, 1.0)
    return (box.x - dx * scale, box.y - dy * scale)


# -- networkx fallback ---------------------------------------------------------------------------
def layered_layout(model: GraphModel, direction: str) -> Layout:
    dag = nx.DiGraph()
    dag.add_nodes_from(n.id for n in model.nodes)
    for edge in model.edges:
        if edge.kind == "transition":
            dag.add_edge(edge.source, edge.target)
    if not nx.is_directed_acyclic_graph(dag):   # the compiler forbids this; draw it anyway
        dag = nx.DiGraph(nx.dfs_tree(dag))
        dag.add_nodes_from(n.id for n in model.nodes)
    rank: dict[str, int] = {}
    for generation, ids in enumerate(nx.topological_generations(dag)):
        for node_id in ids:
            rank[node_id] = generation
    for edge in model.edges:   # a signal source sits one rank before the hook it feeds
        if edge.kind == "hook":
            rank[edge.source] = max(0, rank.get(edge.target, 1) - 1)
    layers: dict[int, list[str]] = defaultdict(list)
    order = {n.id: i for i, n in enumerate(model.nodes)}
    position: dict[str, float] = {}
    for level in sorted(set(rank.values())):
        ids = [n for n in rank if rank[n] == level]
        ids.sort(key=lambda n: (_barycentre(dag, n, position), order[n]))
        layers[level] = ids
        for i, node_id in enumerate(ids):
            position[node_id] = i - (len(ids) - 1) / 2
    kinds = {n.id: n.kind for n in model.nodes}
    boxes: dict[str, Box] = {}
    for node_id, level in rank.items():
        w, h = _size(kinds[node_id])
        if direction == "LR":
            boxes[node_id] = Box(level * (NODE_W + RANK_GAP), -position[node_id] * (NODE_H + NODE_GAP), w, h)
        else:
            boxes[node_id] = Box(position[node_id] * (NODE_W + NODE_GAP), -level * (NODE_H + RANK_GAP), w, h)
    edges = tuple(_straight(edge.source, edge.target, edge.kind, edge.label, boxes) for edge in model.edges)
    return Layout(boxes, edges, direction, "networkx")


def _barycentre(dag: nx.DiGraph, node_id: str, position: dict[str, float]) -> float:
    parents = [position[p] for p in dag.predecessors(node_id) if p in position]
    return sum(parents) / len(parents) if parents else 0.0


def _straight(source: str, target: str, kind: str, label: str, boxes: dict[str, Box]) -> EdgePath:
    a, b = boxes[source], boxes[target]
    start = _border_point((b.x, b.y), a)
    end = _border_point((a.x, a.y), b)
    if kind == "cycle":   # bow the back edge so it does not run over the forward ones
        mx, my = (start[0] + end[0]) / 2, (start[1] + end[1]) / 2
        dx, dy = end[0] - start[0], end[1] - start[1]
        bow = (-dy * 0.35, dx * 0.35)
        points = [start, (mx + bow[0], my + bow[1]), end]
        curve = _quadratic(points)
        label_at = (mx + bow[0], my + bow[1])
    else:
        curve = [start, end]
        label_at = ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 0.12)
    xs, ys = zip(*curve, strict=True)
    return EdgePath(source, target, kind, label, xs, ys, label_at if label else None)


def _quadratic(points: list[tuple[float, float]], steps: int = 12) -> list[tuple[float, float]]:
    (x0, y0), (x1, y1), (x2, y2) = points
    return [((1 - t) ** 2 * x0 + 2 * t * (1 - t) * x1 + t * t * x2,
             (1 - t) ** 2 * y0 + 2 * t * (1 - t) * y1 + t * t * y2)
            for t in (s / steps for s in range(steps + 1))]
