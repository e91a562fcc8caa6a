"""Graph model and layout: nodes, edge kinds and labels, dot and networkx layouts, re-layout rules."""

from __future__ import annotations

import pytest

from hotmesh_core.compiler import compile_app, load_manifest
from studio.graph import GraphView
from studio.layout import dot_available, layout
from studio.model import SIGNAL_KIND, graph_models

from .apps import ROOT

CYCLE = """
app:
  id: loops
  version: '1'
  graphs:
    - subscribes: loop.go
      activities:
        t: { type: trigger }
        pivot: { type: hook, cycle: true }
        work: { type: worker, topic: loop.work }
        again: { type: cycle, ancestor: pivot }
        fin: { type: hook }
      transitions:
        t: [ { to: pivot } ]
        pivot: [ { to: work } ]
        work:
          - to: again
            conditions: { code: [500] }
          - to: fin
      hooks:
        loop.poke:
          - to: fin
            conditions:
              match:
                - expected: '{$job.metadata.jid}'
                  actual: '{$self.hook.data.id}'
"""


def demo_model():
    return graph_models(compile_app(load_manifest(ROOT / "assets/apps/demo/app.yaml")))[0]


def test_demo_nodes_edges_and_condition_label() -> None:
    model = demo_model()
    assert [n.id for n in model.nodes] == ["start", "compose", "shout", "done"]
    assert [n.kind for n in model.nodes] == ["trigger", "worker", "worker", "hook"]
    edges = {(e.source, e.target): e for e in model.edges}
    assert edges[("compose", "shout")].label == "start.shout = true"
    assert edges[("compose", "done")].label == "code 200"
    assert edges[("compose", "done")].detail == "code 200"
    assert edges[("start", "compose")].label == ""
    assert edges[("start", "compose")].detail == "always"
    assert model.node("compose").subtitle == "worker · demo.compose"


def test_cycle_and_hook_edges_are_distinct() -> None:
    model = graph_models(compile_app(load_manifest(CYCLE)))[0]
    kinds = {(e.source, e.target): e.kind for e in model.edges}
    assert kinds[("again", "pivot")] == "cycle"
    assert kinds[("hook:loop.poke", "fin")] == "hook"
    assert kinds[("work", "again")] == "transition"
    labels = {(e.source, e.target): e.label for e in model.edges}
    assert labels[("work", "again")] == "code 500"
    assert labels[("work", "fin")] == ""          # no conditions: taken on every outcome
    assert model.node("hook:loop.poke").kind == SIGNAL_KIND


@pytest.mark.parametrize("engine", ["networkx", pytest.param("dot", marks=pytest.mark.skipif(
    not dot_available(), reason="graphviz 'dot' is not installed"))])
@pytest.mark.parametrize("direction", ["LR", "TB"])
def test_layout_ranks_follow_the_transitions(engine: str, direction: str) -> None:
    model = graph_models(compile_app(load_manifest(CYCLE)))[0]
    placed = layout(model, direction, engine)
    assert placed.engine == engine
    assert set(placed.boxes) == {n.id for n in model.nodes}
    axis = (lambda b: b.x) if direction == "LR" else (lambda b: -b.y)
    for a, b in [("t", "pivot"), ("pivot", "work"), ("work", "fin")]:
        assert axis(placed.boxes[a]) < axis(placed.boxes[b]), (a, b)
    assert len(placed.edges) == len(model.edges)
    for path in placed.edges:
        assert len(path.xs) == len(path.ys) >= 2
    labelled = [p for p in placed.edges if p.label]
    assert labelled and all(p.label_at is not None for p in labelled)


def test_dot_in_ci() -> None:
    import os

    if os.environ.get("CI") == "true":
        assert dot_available(), "CI installs graphviz (.ci/run): the dot layout must be tested there"


def test_graph_view_relayouts_only_when_structure_changes() -> None:
    view = GraphView(engine="networkx")
    model = demo_model()
    assert view.show(model) is True
    first = dict(view.nodes.data)
    assert view.show(model) is False            # same structure: nothing to lay out
    retitled = type(model)(model.topic, tuple(
        type(n)(n.id, n.kind, n.title, n.subtitle + "!", n.detail, n.line) for n in model.nodes), model.edges)
    assert view.show(retitled) is False          # titles change, layout does not
    assert view.nodes.data["x"] == first["x"]
    assert view.nodes.data["subtitle"][1].endswith("!")
    assert view.show(model, "TB") is True        # direction changes the layout


def test_status_colours_patch_only_changed_rows() -> None:
    view = GraphView(engine="networkx")
    view.show(demo_model())
    changed = view.set_statuses({"start": ("done", 1), "compose": ("running", 1)})
    assert changed == 4                          # first colouring touches every node
    assert view.set_statuses({"start": ("done", 1), "compose": ("running", 1)}) == 0
    assert view.set_statuses({"start": ("done", 1), "compose": ("done", 3)}) == 1
    row = view.nodes.data["id"].index("compose")
    assert view.nodes.data["status"][row] == "done" and view.nodes.data["badge"][row] == "×3"
    selected: list[str | None] = []
    view.on_select(selected.append)
    view.select("shout")
    assert selected == ["shout"] and view.selected == "shout"
