"""Fuzzing manifests (issue 13, item 7): random text and bytes, and structured mutations of the
example apps (keys dropped, renamed or retyped, wrong types, cycles, huge and deep values, bad ids,
odd unicode, YAML tags and anchors, ``$ref`` tricks). ``plan`` and ``deploy`` either succeed or
raise a ``HotMeshError``, never another exception; a refused deploy writes nothing to Redis."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import event, example, given
from hypothesis import strategies as st

from hotmesh_core.compiler import plan
from hotmesh_core.errors import HotMeshError, ManifestError

from .conftest import Quiet
from .strategies import FLOATS, INTS, ODD_TEXT, TEXT, json_values, nested
from .support import hang_guard, snapshot

ROOT = Path(__file__).resolve().parents[2]
# The single-file example apps: the unit suites' manifests and the demo app.
BASES = {path.name: yaml.safe_load(path.read_text()) for path in [
    *sorted((ROOT / "tests/unit/manifests").glob("*.yaml")), ROOT / "assets/apps/demo/app.yaml"]}
REFAPP = ROOT / "tests/unit/manifests/refapp"

# What a mutation may put in place of a value: wrong types, JSON, huge and deep values, odd text,
# expressions, pipes, $ref tricks, ids that are not ids.
VALUES = st.one_of(
    json_values(max_leaves=5), FLOATS, INTS, TEXT, ODD_TEXT,
    st.builds(nested, st.integers(1, 80), lists=st.booleans()),
    st.sampled_from([
        "x" * 70_000, list(range(3000)), {f"k{i}": i for i in range(2000)},
        "{t1.output.data.a}", "{$self.output.data}", "{@string.split}", "{@nope.nope}", "{}",
        {"@pipe": [["{@math.add}", 1]]}, {"@pipe": "rows"}, {"@pipe": [[1], ["{@date.now}"]]},
        {"$ref": "./nope.yaml"}, {"$ref": "/etc/passwd"}, {"$ref": "../../x.yaml"}, {"$ref": "#/app"},
        {"$ref": "http://example.com/x.yaml"}, {"$ref": "#/"}, {"$ref": 3}, {"$ref": ""},
        {"$ref": "./a\x00b.yaml"}, {"$ref": "\ud800.yaml"}, {"$ref": "graphs/../graphs/nap.yaml#/~1x"},
        {"$ref": "graphs/nap.yaml", "extra": 1}, {"$ref": "schemas/order.yaml#/nope"},
        "trigger", "worker", "hook", "await", "cycle", "signal", "interrupt", "emit", "nope",
        "a.b", "a:b", "a b", "x" * 300, "", ".", "{", "$job", "-1", "1e400", 2**70, -1, 0, True,
    ]),
)
# Text that, put inside a YAML document, exercises the parser's dangerous corners.
YAML_HAZARDS = st.sampled_from([
    "&a ", "*a", "<<: *a\n", "!!python/object/apply:os.system ['true']", "!!binary aGk=", "!!set {a}",
    "!!timestamp 2026-01-01", "!custom x", "%YAML 1.1\n---\n", "%TAG ! tag:x,2026:\n", "---\n", "...\n",
    "\t", "? ", "- ", ": ", "{", "}", "[", "]", "|\n", ">-\n", "\ufeff", "\x00", "\x85", "\u2028",
    "'", '"', "#", "\\", "\\u00", "\n  ", "a: &x [*x]\n", "app:\n", "2026-11-27", "0o17", "0x_", "1_000",
    ".inf", ".nan", "~", "null", "yes", "on", "=", "!!int x", "!!float x", "!!str", "!!map []",
])


def _paths(tree: Any) -> list[tuple[Any, ...]]:
    """The paths a mutation may pick (the root excluded): the manifest's own structure, not the inside
    of a huge or deep value an earlier mutation put in (iterative, at most 10 levels, 50 items)."""
    out: list[tuple[Any, ...]] = []
    stack: list[tuple[tuple[Any, ...], Any]] = [((), tree)]
    while stack:
        prefix, node = stack.pop()
        if len(prefix) >= 10 or not isinstance(node, dict | list) or len(node) > 50:
            continue
        for key, value in node.items() if isinstance(node, dict) else enumerate(node):
            out.append((*prefix, key))
            stack.append(((*prefix, key), value))
    return out


def _parent(tree: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        tree = tree[key]
    return tree


def _graphs(tree: dict[str, Any]) -> list[Any]:
    """The manifest's graphs, or [] once a mutation has made them something else."""
    app = tree.get("app")
    graphs = app.get("graphs") if isinstance(app, dict) else None
    return graphs if isinstance(graphs, list) else []


def _activity_ids(tree: dict[str, Any]) -> list[str]:
    return [aid for g in _graphs(tree) if isinstance(g, dict) and isinstance(g.get("activities"), dict)
            for aid in g["activities"]]


def value(draw: st.DrawFn) -> Any:
    """A fresh copy of a drawn value: later mutations change it in place, and the strategy's
    constants (the huge list, the $ref mappings) must stay as they are between examples."""
    return copy.deepcopy(draw(VALUES))


def mutate(draw: st.DrawFn, tree: dict[str, Any]) -> None:
    """Apply one random structural mutation to ``tree`` in place."""
    paths = _paths(tree)
    kind = draw(st.sampled_from(["drop", "rename", "retype", "insert", "duplicate", "cycle", "swap"]))
    if kind == "cycle" or not paths:
        ids = _activity_ids(tree) or ["t1"]
        graphs = _graphs(tree)
        if graphs and isinstance(graphs[0], dict):
            source, target = draw(st.sampled_from(ids)), draw(st.sampled_from(ids))
            transitions = graphs[0].setdefault("transitions", {})
            if isinstance(transitions, dict):
                transitions.setdefault(source, [])
                if isinstance(transitions[source], list):
                    transitions[source].append({"to": target})
        return
    path = draw(st.sampled_from(paths))
    parent, key = _parent(tree, path), path[-1]
    if kind == "drop":
        del parent[key]
    elif kind == "rename" and isinstance(parent, dict):
        parent[draw(st.one_of(TEXT, st.sampled_from(_activity_ids(tree) or ["x"])))] = parent.pop(key)
    elif kind == "insert" and isinstance(parent[key], dict):
        parent[key][draw(TEXT)] = value(draw)
    elif kind == "insert" and isinstance(parent[key], list):
        parent[key].insert(draw(st.integers(0, len(parent[key]))), value(draw))
    elif kind == "duplicate":
        other = _parent(tree, draw(st.sampled_from(paths)))
        if isinstance(other, dict):
            other[draw(st.one_of(st.just(key), TEXT)) if isinstance(key, str) else "dup"] = \
                copy.deepcopy(parent[key])
        elif isinstance(other, list):
            other.append(copy.deepcopy(parent[key]))
    elif kind == "swap":
        parent[key] = copy.deepcopy(_parent(tree, draw(st.sampled_from(paths))))
    else:
        parent[key] = value(draw)


def render(draw: st.DrawFn, tree: Any) -> str:
    """YAML (block or flow) or JSON text of ``tree``, sometimes with a YAML hazard spliced in."""
    style = draw(st.sampled_from(["block", "flow", "json"]))
    try:
        if style == "json":
            text = json.dumps(tree, indent=1, ensure_ascii=draw(st.booleans()))
        else:
            text = yaml.safe_dump(tree, allow_unicode=True, default_flow_style=style == "flow", width=10**6)
    except (ValueError, yaml.YAMLError):   # a value PyYAML cannot write: JSON escapes anything
        text = json.dumps(tree, indent=1)
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(text)))
        hazard = draw(st.one_of(YAML_HAZARDS, st.just("")))
        cut = draw(st.integers(0, 3))
        text = text[:at] + hazard + text[at + cut:]
    return text if "\n" in text else text + "\n"    # text, never read as a path


@st.composite
def mutated_manifests(draw: st.DrawFn, app_id: str = "fuzz", label: str = "1") -> str:
    tree = copy.deepcopy(BASES[draw(st.sampled_from(sorted(BASES)))])
    tree["app"]["id"], tree["app"]["version"] = app_id, label
    for _ in range(draw(st.integers(0, 4))):
        mutate(draw, tree)
    return render(draw, tree)


RANDOM_TEXT = st.one_of(
    st.text(max_size=200).map(lambda t: t + "\n"),
    st.lists(st.one_of(YAML_HAZARDS, st.sampled_from(["app", "id", "version", "graphs", "activities",
                                                      "transitions", "type", "trigger", "  ", "\n", "1"])),
             max_size=40).map(lambda parts: "".join(parts) + "\n"),
)


def plan_or_refuse(source: str | Path) -> None:
    """The property of ``plan``: it returns, or raises a HotMeshError (within the hang guard)."""
    with hang_guard():
        try:
            plan(source)
        except HotMeshError as exc:
            event(f"refused: {type(exc).__name__}")
        else:
            event("planned")


@given(RANDOM_TEXT)
@example("app:\n  id: x\n  version: 1\n  graphs: [ { subscribes: a, activities: { t: { type: trigger } } } ]\n")
@example("!!map []\n")                   # AssertionError in the mapping constructor
@example("app: !!seq { a: 1 }\n")         # AssertionError in the sequence constructor
@example("app: !!int [1]\n")
def test_random_text_plans_or_raises_a_hotmesh_error(text: str) -> None:
    plan_or_refuse(text)


@given(st.one_of(TEXT, st.text(max_size=30), st.sampled_from(["a\x00b", "\ud800", "/", ".", "~", "..",
                                                               "/dev/null", "/proc/self/mem", "x" * 5000])))
@example("a\x00b")         # ValueError: embedded null byte, from Path.resolve
@example("\ud800")         # UnicodeEncodeError, from Path.resolve
def test_random_paths_plan_or_raise_a_hotmesh_error(path: str) -> None:
    if "\n" not in path and not path.strip().startswith("app:"):      # read as a path
        plan_or_refuse(path)


@given(st.binary(max_size=300) | st.builds(lambda t: t.encode("utf-8", "surrogatepass"), RANDOM_TEXT))
def test_random_bytes_in_a_file_plan_or_raise_a_hotmesh_error(tmp_path_factory: pytest.TempPathFactory,
                                                             data: bytes) -> None:
    path = tmp_path_factory.mktemp("bytes") / "app.yaml"
    path.write_bytes(data)
    plan_or_refuse(path)


@given(mutated_manifests())
def test_mutated_manifests_plan_or_raise_a_hotmesh_error(text: str) -> None:
    plan_or_refuse(text)


@given(st.data())
def test_mutated_ref_apps_plan_or_raise_a_hotmesh_error(tmp_path_factory: pytest.TempPathFactory,
                                                       data: st.DataObject) -> None:
    """The multi-file app: its top file mutated, the $ref'd files beside it as they are."""
    folder = tmp_path_factory.mktemp("refapp")
    for source in REFAPP.rglob("*.yaml"):
        target = folder / source.relative_to(REFAPP)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source.read_text())
    tree = yaml.safe_load((REFAPP / "hotmesh.yaml").read_text())
    for _ in range(data.draw(st.integers(1, 4))):
        mutate(data.draw, tree)
    # surrogatepass: a lone surrogate becomes bytes that are not UTF-8, as a broken editor would write
    (folder / "hotmesh.yaml").write_bytes(render(data.draw, tree).encode("utf-8", "surrogatepass"))
    plan_or_refuse(folder / "hotmesh.yaml")


@given(st.data())
async def test_a_refused_deploy_writes_nothing(quiet: Quiet, data: st.DataObject) -> None:
    """Deploy mutated manifests (and random text) on a real redis-server: a success stores the
    version, a refusal is a HotMeshError and leaves every key of the database as it was."""
    # Drawn, not counted: the example must replay the same; a clash is only a refusal, also checked.
    label = data.draw(st.integers(0, 10**9).map(lambda n: f"v{n}"), label="version")
    text = data.draw(st.one_of(mutated_manifests(quiet.hm.app_id, label), RANDOM_TEXT))
    before = snapshot(quiet.redis)
    try:
        version = await quiet.hm.deploy(text)
    except HotMeshError as exc:
        event(f"refused: {type(exc).__name__}")
        assert snapshot(quiet.redis) == before
    else:
        event("deployed")
        assert version in {v.version for v in await quiet.hm.versions()}


@pytest.mark.parametrize("ref", [r"./a\0b.yaml", r"\ud800.yaml"])
def test_a_ref_path_the_os_cannot_take_is_a_manifest_error(tmp_path: Path, ref: str) -> None:
    """Found by fuzzing: such a $ref made Path.resolve raise ValueError / UnicodeEncodeError."""
    text = f'app:\n  id: x\n  version: "1"\n  graphs:\n    - $ref: "{ref}"\n'
    with pytest.raises(ManifestError, match="file not found"):
        plan(text, base_dir=tmp_path)
