"""The review before activation and the graph diff's colours: the pure model, the chart's data,
and the editor's deploy -> review -> confirm -> activate against a real Redis."""

from __future__ import annotations

from typing import Any

from hotmesh_core import HotMesh
from hotmesh_core.compiler import compile_app, load_manifest
from hotmesh_core.deployment import Plan
from studio.diff import graph_diffs
from studio.editor import CHANGES, TYPES, EditorView
from studio.graph import GraphView, split_edges
from studio.review import Gate, build_review, review_html
from studio.theme import DIFF_COLORS, DIFF_LINES, GHOST_ALPHA
from studio.versions import VersionsView

from .apps import ROOT, demo_v2

DEMO = (ROOT / "assets/apps/demo/app.yaml").read_text()
V1 = compile_app(load_manifest(DEMO))
V2 = compile_app(load_manifest(demo_v2(DEMO)))
BREAKING = ["transition compose -> shout was removed", "activity 'shout' (graph 'demo.greet') was removed"]


# -- the review model -------------------------------------------------------------------------------
def test_review_lists_added_removed_changed_and_the_breaking_changes() -> None:
    review = build_review(Plan(V2, [], BREAKING, "1"), V1)
    assert [(c.aid, c.mark) for c in review.changes] == [("audit", "added"), ("shout", "removed"),
                                                         ("compose", "changed")]
    assert review.marked("changed")[0].fields == ("children", "transitions")
    assert review.marked("removed")[0].graph == "demo.greet"
    assert review.breaking == tuple(BREAKING) and review.needs_confirmation
    assert review.active == "1" and review.version == "2" and review.in_flight is None
    assert not review.graphs_added and not review.graphs_removed and not review.unchanged


def test_first_version_and_a_same_shape_version() -> None:
    first = build_review(Plan(V1, ["a warning"], [], None), None)
    assert first.changes == () and not first.needs_confirmation
    page = review_html(first)
    assert "first active version" in page and "a warning" in page and "breaking" not in page
    retitled = compile_app(load_manifest(DEMO.replace("version: '1'", "version: '3'")))
    same = build_review(Plan(retitled, [], [], "1"), V1)
    assert same.unchanged and "No activity changes" in review_html(same)


def test_review_html_puts_breaking_changes_first_and_escapes() -> None:
    review = build_review(Plan(V2, ["<b>loud</b>"], BREAKING + ["hook topic '<x>' was removed"], "1"), V1)
    page = review_html(review)
    assert page.index("hm-review-breaking") < page.index("hm-review-changes")
    assert "3 breaking change(s)" in page and "&lt;x&gt;" in page and "<b>loud</b>" not in page
    for mark in ("added", "removed", "changed"):
        assert f"data-mark='{mark}'" in page
    assert "children, transitions" in page


def test_jobs_in_flight_are_shown_when_the_plan_counts_them() -> None:
    class CountingPlan(Plan):
        in_flight = 7

    review = build_review(CountingPlan(V2, [], BREAKING, "1"), V1)
    assert review.in_flight == 7 and "7 job(s) are running on version 1" in review_html(review)


def test_gate_opens_only_after_review_deploy_and_confirmation() -> None:
    gate = Gate()
    assert gate.blocked() == "review the changes first"
    gate = Gate(build_review(Plan(V2, [], BREAKING, "1"), V1))
    assert gate.blocked() == "deploy this version first"
    gate.deployed = True
    assert gate.blocked() == "confirm the breaking changes first"
    gate.confirmed = True
    assert gate.blocked() is None
    gate.activated = True
    assert gate.blocked() == "version 2 is active"
    safe = Gate(build_review(Plan(V1, [], [], None), None), deployed=True)
    assert safe.blocked() is None              # nothing breaks: no confirmation needed


# -- the graph diff on the chart --------------------------------------------------------------------
def test_graph_diff_between_active_and_candidate() -> None:
    [diff] = graph_diffs(V1, V2)
    assert {k: v for k, v in diff.marks.items() if v != "same"} == {
        "audit": "added", "shout": "removed", "compose": "changed"}
    assert "shout" in {n.id for n in diff.model.nodes}                 # drawn from the old version
    assert ("compose", "shout") in {(e.source, e.target) for e in diff.model.edges}


def test_split_edges_moves_the_edges_of_removed_nodes() -> None:
    frames = {"transition": {"xs": [[0], [1]], "ys": [[0], [1]], "detail": ["", ""], "source": ["a", "b"],
                             "target": ["b", "c"]}, "hook": {k: [] for k in ("xs", "ys", "detail", "source", "target")}}
    kept, ghost = split_edges(frames, {"c"})
    assert kept["transition"]["source"] == ["a"] and ghost["source"] == ["b"] and ghost["xs"] == [[1]]
    assert split_edges(frames, set())[1]["source"] == []


def test_set_marks_colours_ghosts_and_shows_the_legend_then_types_restore() -> None:
    [diff] = graph_diffs(V1, V2)
    view = GraphView(name="t")
    view.show(diff.model)
    assert not view.legend.visible
    view.set_marks(diff.marks)
    row = {aid: i for i, aid in enumerate(view.data["id"])}
    shout, audit, compose, start = (row[a] for a in ("shout", "audit", "compose", "start"))
    assert view.data["fill"][audit] == DIFF_COLORS["added"] and view.data["line"][audit] == DIFF_LINES["added"]
    assert view.data["fill"][compose] == DIFF_COLORS["changed"] and view.data["outline"][compose] == "solid"
    assert (view.data["fill"][shout], view.data["outline"][shout], view.data["alpha"][shout]) == (
        DIFF_COLORS["removed"], "dashed", GHOST_ALPHA)
    assert view.data["status"][start] == "same" and view.data["alpha"][start] == 1.0
    ghost = view.ghost_edges.data
    assert set(zip(ghost["source"], ghost["target"], strict=True)) == {("compose", "shout")}
    assert ("compose", "shout") not in set(zip(view.edges["transition"].data["source"],
                                               view.edges["transition"].data["target"], strict=True))
    assert view.legend.visible and [i.label.value for i in view.legend.items] == [
        "added", "removed", "changed", "unchanged"]
    view.colour_by_type()
    assert view.data["alpha"][shout] == 1.0 and view.data["outline"][shout] == "solid"
    assert view.ghost_edges.data["source"] == [] and not view.legend.visible
    assert len(view.edges["transition"].data["source"]) == len(diff.model.edges)


# -- the editor, against a real Redis --------------------------------------------------------------
async def test_editor_deploy_shows_the_review_and_activates_only_after_confirmation(mesh: Any) -> None:
    hm: HotMesh = await mesh(DEMO.replace("id: demo", "id: {APP}", 1))
    app_id = hm.app_id
    editor = EditorView(hm, app_id=app_id)
    editor.active_app = await hm.compiled("1")
    editor.load(demo_v2(DEMO.replace("id: demo", f"id: {app_id}", 1)), original=True)
    assert editor.check.ok and not editor.review.panel.visible and editor.colour.value == TYPES
    assert editor.review.activate_button.disabled

    assert await editor._review()                          # reviewed, not deployed
    assert editor.review.panel.visible and editor.review.review is not None
    assert editor.review.review.breaking == tuple(BREAKING)
    assert editor.review.activate_button.disabled and "deploy this version first" in editor.review.hint.object
    assert editor.colour.value == CHANGES and editor.preview.mode == "diff"
    assert dict(zip(editor.preview.data["id"], editor.preview.data["status"], strict=True))["shout"] == "removed"

    await editor._deploy(None)
    assert await hm.active_version() == "1" and {v.version for v in await hm.versions()} == {"1", "2"}
    assert "Deployed version **2** (not active yet)" in editor.outcome.object
    assert editor.review.confirm.visible and editor.review.activate_button.disabled
    assert "confirm the breaking changes" in editor.review.hint.object
    editor.review.confirm.value = True
    assert not editor.review.activate_button.disabled
    await editor.review._activate()
    assert await hm.active_version() == "2"
    assert "Activation: **active on all engines**" in editor.outcome.object
    assert editor.review.activate_button.disabled and "version 2 is active" in editor.review.hint.object


async def test_activate_reviews_again_when_the_active_version_moved(mesh: Any) -> None:
    hm: HotMesh = await mesh(DEMO.replace("id: demo", "id: {APP}", 1))
    text = demo_v2(DEMO.replace("id: demo", f"id: {hm.app_id}", 1))
    editor = EditorView(hm, app_id=hm.app_id)
    editor.active_app = await hm.compiled("1")
    editor.load(text)
    await editor._deploy(None)
    editor.review.confirm.value = True
    await hm.activate(await hm.deploy(text.replace("version: '2'", "version: '3'")))   # another user
    await editor._activate()
    assert await hm.active_version() == "3"                  # not switched back to 2 unseen
    review = editor.review.review
    assert review is not None and review.active == "3" and review.breaking == ()
    assert "review was made again" in editor.outcome.object
    assert editor.active_app is not None and editor.active_app.version == "3"
    assert not editor.review.confirm.value and not editor.review.activate_button.disabled


async def test_versions_page_roll_back_is_reviewed_and_confirmed(mesh: Any) -> None:
    hm: HotMesh = await mesh(DEMO.replace("id: demo", "id: {APP}", 1))
    await hm.activate(await hm.deploy(demo_v2(DEMO.replace("id: demo", f"id: {hm.app_id}", 1))))
    activated: list[str] = []
    view = VersionsView(hm, on_activated=activated.append)
    await view.load()
    assert view.activate_version.value == "2" and view.review.review is not None
    assert view.activate_button.disabled and "version 2 is active" in view.review.hint.object

    view.activate_version.value = "1"
    await view.review_selected()
    review = view.review.review
    assert review is not None and review.version == "1" and review.active == "2"
    assert review.breaking == ("activity 'audit' (graph 'demo.greet') was removed",
                               "transition compose -> audit was removed")
    assert [(c.aid, c.mark) for c in review.changes][:2] == [("shout", "added"), ("audit", "removed")]
    assert view.activate_button.disabled
    await view._activate()                                   # a crafted click before the confirmation
    assert await hm.active_version() == "2"
    view.review.confirm.value = True
    assert not view.activate_button.disabled
    await view.review._activate()
    assert await hm.active_version() == "1" and activated == ["1"]
    assert "Version **1**: active on all engines" in view.outcome.object


async def test_a_stale_compare_finishing_last_does_not_draw(mesh: Any) -> None:
    """Each change of the versions page's selects schedules a compare, and ``load`` runs its own: they
    overlap while versions are read. A compare whose pair was replaced meanwhile must not draw last
    (in a busy studio the page showed 2 against 2, every node 'same', after an activation)."""
    import asyncio

    hm: HotMesh = await mesh(DEMO.replace("id: demo", "id: {APP}", 1))
    await hm.activate(await hm.deploy(demo_v2(DEMO.replace("id: demo", f"id: {hm.app_id}", 1))))

    class SlowFirstRead:               # when armed, the next read of version 2 is slow
        def __init__(self) -> None:
            self.slow = False

        def __getattr__(self, name: str) -> Any:
            return getattr(hm, name)

        async def compiled(self, version: str) -> Any:
            if version == "2" and self.slow:
                self.slow = False
                await asyncio.sleep(0.3)
            return await hm.compiled(version)

    slow = SlowFirstRead()
    view = VersionsView(slow)      # type: ignore[arg-type]
    for select in (view.old, view.new):
        select.options = ["2", "1"]
    view.old.value = view.new.value = "2"
    await asyncio.sleep(0.2)                               # the compares these changes scheduled
    view.apps.clear()
    slow.slow = True
    stale = asyncio.create_task(view.compare())            # 2 against 2: stuck on the slow read
    await asyncio.sleep(0.05)
    view.old.value = "1"                                   # schedules 1 against 2, drawn at once
    await view.compare()
    await stale
    await asyncio.sleep(0.1)
    marks = dict(zip(view.graph.data["id"], view.graph.data["status"], strict=True))
    assert marks.get("shout") == "removed" and marks.get("audit") == "added", marks
    assert "version 1" in view.text.object and "version 2" in view.text.object
