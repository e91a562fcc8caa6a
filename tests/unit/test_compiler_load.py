"""Safe loading: line numbers, YAML 1.2 scalars, $ref confinement and the hostile-input caps."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hotmesh_core.compiler import Limits, load_manifest
from hotmesh_core.compiler.yaml_safe import LineDict
from hotmesh_core.errors import ManifestError

MANIFESTS = Path(__file__).parent / "manifests"
REFAPP = MANIFESTS / "refapp" / "hotmesh.yaml"


def line_of(text: str, marker: str) -> int:
    """1-based line of the only line of ``text`` containing ``marker``."""
    hits = [n for n, line in enumerate(text.splitlines(), 1) if marker in line]
    assert len(hits) == 1, (marker, hits)
    return hits[0]


@contextmanager
def quickly(seconds: float = 2.0) -> Iterator[None]:
    started = time.monotonic()
    yield
    assert time.monotonic() - started < seconds


def fails(load: Callable[[], object]) -> ManifestError:
    """Run ``load`` and return its ManifestError (any other exception type fails the test)."""
    with quickly(), pytest.raises(ManifestError) as caught:
        load()
    return caught.value


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


APP = "app:\n  id: demo\n  version: '1'\n  graphs:\n"


# -- loading and line numbers ------------------------------------------------------------------
def test_path_manifest_dereferences_graphs_schemas_and_maps() -> None:
    manifest = load_manifest(REFAPP)
    graphs = manifest.document["app"]["graphs"]
    assert [g["subscribes"] for g in graphs] == ["order.placed", "nap.take"]
    order = graphs[0]
    assert order["input"]["schema"]["properties"]["region"] == {"type": "string"}
    assert order["activities"]["place"]["job"]["maps"] == {
        "id": "{$self.output.data.id}", "color": "{$self.output.data.color}"}
    assert manifest.file == str(REFAPP)
    assert manifest.base_dir == REFAPP.parent.resolve()
    assert manifest.files == (
        str(REFAPP),
        str(MANIFESTS / "refapp/graphs/order.yaml"),
        str(MANIFESTS / "refapp/schemas/order.yaml"),
        str(MANIFESTS / "refapp/maps/order.yaml"),
        str(MANIFESTS / "refapp/graphs/nap.yaml"),
    )
    assert manifest.text == REFAPP.read_text()
    inside = ["hotmesh.yaml", "graphs/order.yaml", "schemas/order.yaml", "maps/order.yaml", "graphs/nap.yaml"]
    assert manifest.paths == dict(zip(manifest.files, inside, strict=True))


def test_nodes_remember_their_file_and_lines() -> None:
    manifest = load_manifest(REFAPP)
    order = manifest.document["app"]["graphs"][0]
    graph_file = MANIFESTS / "refapp/graphs/order.yaml"
    text = graph_file.read_text()
    assert order.file == str(graph_file)
    activities = order["activities"]
    assert activities.line_of("route") == line_of(text, "title: Wait for routing") - 1
    assert activities.line_of("ship") == line_of(text, "  ship:")
    assert activities["ship"].line_of("topic") == line_of(text, "topic: order.ship")
    maps = activities["route"]["job"]["maps"]
    assert maps.file == str(MANIFESTS / "refapp/maps/order.yaml")
    assert maps.line_of("destination") == 5
    top = manifest.document["app"]
    assert top.file == str(REFAPP) and top.line_of("graphs") == line_of(REFAPP.read_text(), "graphs:")


def test_text_is_yaml_when_it_has_a_newline_or_starts_with_app() -> None:
    one_line = load_manifest("app: {id: x, version: '1', graphs: []}")
    assert one_line.file is None and one_line.document["app"]["id"] == "x"
    assert one_line.document.line == 1
    error = fails(lambda: load_manifest("no/such/manifest.yaml"))
    assert error.reason == "manifest file not found"
    assert error.file == "no/such/manifest.yaml"


def test_scalars_follow_yaml_1_2_core_and_keys_are_strings() -> None:
    doc = load_manifest(
        "app:\n"
        "  version: 2026-11-27\n"
        "  a: yes\n  b: on\n  c: 1:30\n  d: 0x1F\n  e: 0o17\n  f: 1.5e3\n  g: ~\n  h: True\n  i: 017\n"
        "  422: code\n  true: flag\n  1.0: one\n"
    ).document["app"]
    assert doc["version"] == "2026-11-27"
    assert (doc["a"], doc["b"], doc["c"]) == ("yes", "on", "1:30")
    assert (doc["d"], doc["e"], doc["f"], doc["g"], doc["h"], doc["i"]) == (31, 15, 1500.0, None, True, 17)
    assert list(doc)[-3:] == ["422", "true", "1"]


def test_duplicate_keys_are_errors() -> None:
    text = APP + "    - subscribes: a\n      activities:\n        t1: {type: trigger}\n        t1: {type: hook}\n"
    error = fails(lambda: load_manifest(text))
    assert error.reason == "duplicate key 't1'"
    assert (error.file, error.line, error.column) == (None, 8, 9)


def test_syntax_errors_are_located(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", "app:\n  id: x\n  graphs: [a, b\n  version: 1\n")
    error = fails(lambda: load_manifest(path))
    assert error.reason.startswith("invalid YAML: ")
    assert error.file == str(path)
    assert error.line == 4 and error.column is not None


def test_non_mapping_documents_and_multiple_documents(tmp_path: Path) -> None:
    error = fails(lambda: load_manifest("- app\n- b\n"))
    assert error.reason == "a manifest must be a mapping with an 'app' key" and error.line == 1
    error = fails(lambda: load_manifest("app: 1\n---\napp: 2\n"))
    assert "expected a single document" in error.reason and error.line == 2
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"app:\n  id: caf\xe9\n")
    error = fails(lambda: load_manifest(path))
    assert error.reason.startswith("manifest is not UTF-8 text") and error.file == str(path)


# -- hostile input -----------------------------------------------------------------------------
def test_billion_laughs_is_refused_at_the_first_anchor() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    error = fails(lambda: load_manifest("\n".join(lines) + "\n"))
    assert error.reason == "YAML anchors and aliases are not allowed"
    assert (error.line, error.column) == (1, 4)


def test_a_lone_alias_is_refused_too() -> None:
    error = fails(lambda: load_manifest("app:\n  x: 1\n  y: *x\n"))
    assert error.reason == "YAML anchors and aliases are not allowed" and error.line == 3


@pytest.mark.parametrize("tag", ["!!python/object/apply:os.system", "!!python/name:os.system",
                                 "!!binary", "!!set", "!!timestamp", "!local"])
def test_non_json_tags_are_refused(tag: str) -> None:
    text = f"app:\n  id: x\n  boom: {tag} ['echo pwned']\n"
    error = fails(lambda: load_manifest(text))
    assert error.reason == f"YAML tag '{tag}' is not allowed"
    assert error.line == 3


def test_os_system_payload_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = write(tmp_path, "evil.yaml", f"app: !!python/object/apply:os.system ['touch {marker}']\n")
    error = fails(lambda: load_manifest(path))
    assert error.file == str(path) and error.line == 1
    assert not marker.exists()


@pytest.mark.parametrize("style", ["flow", "block"])
def test_deep_nesting_is_refused(style: str) -> None:
    if style == "flow":
        text = "app: " + "[" * 10_000 + "]" * 10_000 + "\n"
    else:
        text = "app:\n  " + "- " * 10_000 + "x\n"
    error = fails(lambda: load_manifest(text))
    assert error.reason == "manifest nesting is deeper than 64 levels"
    assert error.line == (1 if style == "flow" else 2)


def test_two_mebibyte_documents_are_refused(tmp_path: Path) -> None:
    text = "app:\n  blob: '" + "x" * (2 << 20) + "'\n"
    error = fails(lambda: load_manifest(text))
    assert error.reason == "manifest is larger than 1048576 bytes" and error.file is None
    path = write(tmp_path, "big.yaml", text)
    error = fails(lambda: load_manifest(path))
    assert error.reason == "manifest is larger than 1048576 bytes" and error.file == str(path)


def test_node_count_is_capped() -> None:
    text = "app: [" + ",".join(["1"] * 500) + "]\n"
    error = fails(lambda: load_manifest(text, limits=Limits(max_nodes=100)))
    assert error.reason == "manifest has more than 100 nodes"


# -- $ref ----------------------------------------------------------------------------------------
def app_with_ref(tmp_path: Path, ref: str, name: str = "app/hotmesh.yaml") -> Path:
    return write(tmp_path, name, APP + f"    - $ref: {ref}\n")


@pytest.mark.parametrize(("ref", "reason"), [
    ("/etc/passwd", "$ref '/etc/passwd' must be a relative path inside the app folder"),
    ("../x.yaml", "$ref '../x.yaml' points outside the app folder"),
    ("./graphs/../../x.yaml", "$ref './graphs/../../x.yaml' points outside the app folder"),
    ("http://example.com/x.yaml", "$ref 'http://example.com/x.yaml' must be a relative file path, not a URL"),
    ("file:///etc/passwd", "$ref 'file:///etc/passwd' must be a relative file path, not a URL"),
    ("~/x.yaml", "$ref '~/x.yaml' must be a relative path inside the app folder"),
    ("graphs\\x.yaml", "$ref 'graphs\\x.yaml' must be a relative path inside the app folder"),
    ("./missing.yaml", "$ref './missing.yaml': file not found"),
])
def test_refs_are_confined_to_the_app_folder(tmp_path: Path, ref: str, reason: str) -> None:
    write(tmp_path, "x.yaml", "subscribes: outside\n")
    path = app_with_ref(tmp_path, ref if "\\" not in ref else f"'{ref}'")
    error = fails(lambda: load_manifest(path))
    assert error.reason == reason
    assert (error.file, error.line) == (str(path), 5)


def test_refs_may_climb_within_the_app_folder_but_not_out_of_it(tmp_path: Path) -> None:
    write(tmp_path, "app/schemas/s.yaml", "order: {type: object}\n")
    write(tmp_path, "secret.yaml", "x: 1\n")
    write(tmp_path, "app/graphs/g.yaml", "subscribes: g\ninput:\n  schema: {$ref: '../schemas/s.yaml#/order'}\n"
                                         "output:\n  schema: {$ref: '../../secret.yaml'}\n")
    error = fails(lambda: load_manifest(app_with_ref(tmp_path, "./graphs/g.yaml")))
    assert error.reason == "$ref '../../secret.yaml' points outside the app folder"
    assert (error.file, error.line) == (str(tmp_path / "app/graphs/g.yaml"), 5)


def test_symlinks_out_of_the_app_folder_are_refused(tmp_path: Path) -> None:
    secret = write(tmp_path, "secret.yaml", "subscribes: stolen\n")
    (tmp_path / "app").mkdir()
    os.symlink(secret, tmp_path / "app" / "link.yaml")
    error = fails(lambda: load_manifest(app_with_ref(tmp_path, "./link.yaml")))
    assert error.reason == "$ref './link.yaml' resolves (through a symlink) outside the app folder"
    assert error.line == 5


def test_text_manifests_need_base_dir_for_file_refs(tmp_path: Path) -> None:
    text = APP + "    - $ref: ./g.yaml\n"
    error = fails(lambda: load_manifest(text))
    assert error.reason == "$ref './g.yaml' needs base_dir when the manifest is given as YAML text"
    assert (error.file, error.line) == (None, 5)
    write(tmp_path, "g.yaml", "subscribes: g\n")
    manifest = load_manifest(text, base_dir=tmp_path)
    graph = manifest.document["app"]["graphs"][0]
    assert graph == {"subscribes": "g"} and graph.file == str(tmp_path / "g.yaml")


def test_pointer_fragments_internal_refs_and_siblings(tmp_path: Path) -> None:
    write(tmp_path, "defs.yaml", "a:\n  b~c:\n    list: [zero, {deep: 1}]\n")
    text = ("app:\n  one: {$ref: 'defs.yaml#/a/b~0c/list/1'}\n  two: {$ref: '#/app/one', extra: 2}\n"
            "  three: {$ref: 'defs.yaml#/a/nope'}\n")
    error = fails(lambda: load_manifest(text, base_dir=tmp_path))
    assert error.reason == "$ref 'defs.yaml#/a/nope': nothing at '/a/nope'" and error.line == 4
    doc = load_manifest(text.rsplit("  three", 1)[0], base_dir=tmp_path).document["app"]
    assert doc["one"] == {"deep": 1}
    assert doc["two"] == {"deep": 1, "extra": 2}
    assert doc["one"] is not doc["two"]


def test_circular_refs_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "app/a.yaml", "next: {$ref: ./b.yaml}\n")
    write(tmp_path, "app/b.yaml", "next: {$ref: ./a.yaml}\n")
    error = fails(lambda: load_manifest(app_with_ref(tmp_path, "./a.yaml")))
    assert error.reason == "$ref './a.yaml' is circular"
    assert (error.file, error.line) == (str(tmp_path / "app/b.yaml"), 1)
    error = fails(lambda: load_manifest("app:\n  x: {$ref: '#/app/x'}\n"))
    assert error.reason == "$ref '#/app/x' is circular"


def test_ref_expansion_bombs_are_capped(tmp_path: Path) -> None:
    for level in range(6):
        refs = ", ".join([f"{{$ref: ./l{level + 1}.yaml}}"] * 10) if level < 5 else "1"
        write(tmp_path, f"app/l{level}.yaml", f"v: [{refs}]\n")
    error = fails(lambda: load_manifest(app_with_ref(tmp_path, "./l0.yaml")))
    assert error.reason.startswith("manifest expands to more than 250000 nodes")


def test_ref_depth_counts_across_files(tmp_path: Path) -> None:
    nested = "v:\n" + "".join("  " * n + f"k{n}:\n" for n in range(1, 60)) + "  " * 60 + "end: 1\n"
    write(tmp_path, "app/deep.yaml", nested)
    error = fails(lambda: load_manifest(app_with_ref(tmp_path, "./deep.yaml")))
    assert error.reason == "manifest nesting is deeper than 64 levels (through $ref './deep.yaml')"
    assert error.line == 5


def test_ref_must_be_a_string(tmp_path: Path) -> None:
    error = fails(lambda: load_manifest("app:\n  x: {$ref: [a]}\n", base_dir=tmp_path))
    assert error.reason == "$ref must be a non-empty string" and error.line == 2


def test_document_is_a_line_dict() -> None:
    assert isinstance(load_manifest(REFAPP).document, LineDict)


def test_control_characters_are_located_errors() -> None:
    error = fails(lambda: load_manifest("app:\n  ok: 1\n  x: \x00\n"))
    assert (error.reason, error.line) == ("invalid YAML: special characters are not allowed", 3)
    error = fails(lambda: load_manifest("app:\n  x: \ud800\n"))
    assert (error.reason, error.line) == ("invalid YAML: special characters are not allowed", 2)


def test_keys_merged_from_a_ref_point_at_the_ref(tmp_path: Path) -> None:
    write(tmp_path, "defs.yaml", "base:\n  a: 1\n")
    doc = load_manifest("app:\n  x:\n    $ref: 'defs.yaml#/base'\n    b: 2\n", base_dir=tmp_path).document
    merged = doc["app"]["x"]
    assert merged == {"a": 1, "b": 2}
    assert (merged.file, merged.line_of("a"), merged.line_of("b")) == (None, 3, 4)


def test_total_size_of_referenced_files_is_capped(tmp_path: Path) -> None:
    for n in range(3):
        write(tmp_path, f"app/g{n}.yaml", f"subscribes: g{n}\nblob: '{'x' * 400}'\n")
    text = APP + "".join(f"    - $ref: ./g{n}.yaml\n" for n in range(3))
    path = write(tmp_path, "app/hotmesh.yaml", text)
    assert len(load_manifest(path).document["app"]["graphs"]) == 3
    error = fails(lambda: load_manifest(path, limits=Limits(max_total_bytes=1000)))
    assert error.reason == "manifest files total more than 1000 bytes"
    assert (error.file, error.line) == (str(path), 7)
