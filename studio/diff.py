"""Diff two versions of an app: the YAML text, and the graphs (added, removed, changed activities)."""

from __future__ import annotations

import difflib
import html
from dataclasses import asdict, dataclass

from hotmesh_core.compiler.model import CompiledApp, Graph

from .model import GraphModel, graph_model

IGNORED = {"line", "file"}      # moving an activity in the file does not change it


@dataclass(frozen=True)
class GraphDiff:
    topic: str
    model: GraphModel            # the union of both graphs (removed activities come from the old one)
    marks: dict[str, str]        # aid -> added | removed | changed | same
    changes: dict[str, list[str]]   # aid -> the fields that differ


def activity_changes(old: CompiledApp, new: CompiledApp, aid: str) -> list[str]:
    before = {k: v for k, v in asdict(old.activities[aid]).items() if k not in IGNORED}
    after = {k: v for k, v in asdict(new.activities[aid]).items() if k not in IGNORED}
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


def graph_diffs(old: CompiledApp, new: CompiledApp) -> list[GraphDiff]:
    topics = list(dict.fromkeys([g.subscribes for g in new.graphs] + [g.subscribes for g in old.graphs]))
    diffs = []
    for topic in topics:
        old_graph = _graph(old, topic)
        new_graph = _graph(new, topic)
        old_model = graph_model(old, old_graph) if old_graph else None
        new_model = graph_model(new, new_graph) if new_graph else None
        diffs.append(_diff(topic, old, new, old_model, new_model))
    return diffs


def _diff(topic: str, old: CompiledApp, new: CompiledApp, old_model: GraphModel | None,
          new_model: GraphModel | None) -> GraphDiff:
    old_ids = {n.id for n in old_model.nodes} if old_model else set()
    new_ids = {n.id for n in new_model.nodes} if new_model else set()
    marks: dict[str, str] = {}
    changes: dict[str, list[str]] = {}
    for node_id in new_ids | old_ids:
        if node_id not in old_ids:
            marks[node_id] = "added"
        elif node_id not in new_ids:
            marks[node_id] = "removed"
        elif node_id in new.activities and node_id in old.activities:
            changes[node_id] = activity_changes(old, new, node_id)
            marks[node_id] = "changed" if changes[node_id] else "same"
        else:
            marks[node_id] = "same"
    nodes = list(new_model.nodes if new_model else ())
    edges = list(new_model.edges if new_model else ())
    if old_model:
        nodes += [n for n in old_model.nodes if n.id not in new_ids]
        seen = {(e.source, e.target, e.kind) for e in edges}
        edges += [e for e in old_model.edges if (e.source, e.target, e.kind) not in seen
                  and (e.source not in new_ids or e.target not in new_ids)]
    return GraphDiff(topic, GraphModel(topic, tuple(nodes), tuple(edges)), marks, changes)


def _graph(app: CompiledApp, topic: str) -> Graph | None:
    return next((g for g in app.graphs if g.subscribes == topic), None)


def text_diff(old: str, new: str, old_name: str = "old", new_name: str = "new") -> list[tuple[str, str]]:
    """Unified diff lines as ``(kind, text)``: kind is ``+``, ``-``, ``@`` or `` ``."""
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), old_name, new_name, lineterm="", n=3)
    out = []
    for line in lines:
        if line.startswith(("+++", "---")):
            out.append(("@", line))
        else:
            out.append((line[:1] if line[:1] in "+-@" else " ", line))
    return out


def text_diff_html(old: str, new: str, old_name: str = "old", new_name: str = "new") -> str:
    rows = text_diff(old, new, old_name, new_name)
    if not rows:
        return "<div class='hm-muted'>The two versions have the same source.</div>"
    css = {"+": "hm-add", "-": "hm-del", "@": "hm-hunk", " ": ""}
    body = "".join(f"<div class='{css[kind]}'>{html.escape(text) or '&nbsp;'}</div>" for kind, text in rows)
    return f"<pre class='hm-diff'>{body}</pre>"
