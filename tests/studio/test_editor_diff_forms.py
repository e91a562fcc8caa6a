"""Editor checks and gutter annotations, version diffs, job input forms and validation."""

from __future__ import annotations

import pytest

from hotmesh_core.compiler import compile_app, load_manifest
from hotmesh_core.deployment import VersionInfo
from studio.diff import graph_diffs, text_diff, text_diff_html
from studio.editor import annotations_for, check_manifest, error_summary, next_version
from studio.forms import InputForm, check_input, parse_input, schema_fields
from studio.versions import version_rows

from .apps import ROOT

DEMO = (ROOT / "assets/apps/demo/app.yaml").read_text()
ORDERS = ROOT / "assets/apps/orders"


# -- editor ----------------------------------------------------------------------------------------
def test_valid_document() -> None:
    check = check_manifest(DEMO, ROOT / "assets/apps/demo", "demo")
    assert check.ok and check.app is not None and check.app.version == "1"
    assert annotations_for(check.errors) == []


def test_yaml_syntax_error_is_annotated_at_its_line() -> None:
    text = DEMO.replace("      activities:\n", "      activities:\n        broken: : :\n", 1)
    check = check_manifest(text)
    assert not check.ok
    line = text.splitlines().index("        broken: : :") + 1
    assert check.errors[0]["line"] == line
    [note] = annotations_for(check.errors)
    assert note["row"] == line - 1 and note["type"] == "error" and note["text"]


def test_validation_error_names_the_activity_line() -> None:
    text = DEMO.replace("type: worker\n          topic: demo.shout", "type: wrkr\n          topic: demo.shout")
    check = check_manifest(text)
    assert not check.ok
    error = check.errors[0]
    lines = text.splitlines()
    assert error["line"] is not None and "wrkr" in lines[error["line"] - 1] or error["activity"] == "shout"
    assert "shout" in error_summary(check.errors) or "wrkr" in error_summary(check.errors)


def test_wrong_app_id_and_empty_document() -> None:
    check = check_manifest(DEMO, app_id="other")
    assert not check.ok and "this is app 'other'" in check.errors[0]["message"]
    id_line = next(n for n, line in enumerate(DEMO.splitlines(), 1) if line.strip().startswith("id:"))
    assert check.errors[0]["line"] == id_line        # the `id:` line
    assert not check_manifest("   ").ok


def test_refs_are_resolved_from_the_app_folder_and_flattened_for_deploy() -> None:
    text = (ORDERS / "app.yaml").read_text()
    check = check_manifest(text, ORDERS, "orders")
    assert check.ok, check.errors
    assert "$ref" not in (check.flattened or "") and "order.placed" in (check.flattened or "")
    flat = compile_app(load_manifest(check.flattened or ""))
    assert check.app is not None
    for diff in graph_diffs(check.app, flat):      # the same app, only lines and files differ
        assert set(diff.marks.values()) == {"same"}


def test_error_in_a_referenced_file_goes_on_the_first_row() -> None:
    notes = annotations_for([{"message": "bad", "line": 12, "column": 3, "file": "graphs/order.yaml",
                              "activity": "reserve"}])
    assert notes == [{"row": 0, "column": 0, "text": "in graphs/order.yaml:12: activity 'reserve': bad",
                      "type": "error"}]


def test_next_version_label() -> None:
    assert "version: '3'" in next_version(DEMO, ["1", "2"])
    assert "version: '2'" in next_version(DEMO, [])


# -- diff ------------------------------------------------------------------------------------------
def test_graph_diff_marks_added_removed_changed() -> None:
    old = compile_app(load_manifest(DEMO))
    text = DEMO.replace("version: '1'", "version: '2'").replace("title: Shout it", "title: SHOUT")
    text = text.replace("      transitions:\n", "        extra:\n          type: hook\n      transitions:\n", 1)
    text = text.replace("          - to: done\n", "          - to: done\n          - to: extra\n", 1)
    new = compile_app(load_manifest(text))
    [diff] = graph_diffs(old, new)
    assert diff.marks["extra"] == "added"
    assert diff.marks["shout"] == "changed" and "title" in diff.changes["shout"]
    assert diff.marks["start"] == "same"
    back = graph_diffs(new, old)[0]
    assert back.marks["extra"] == "removed"
    assert "extra" in {n.id for n in back.model.nodes}          # removed nodes are still drawn


def test_text_diff() -> None:
    rows = text_diff("a\nb\n", "a\nc\n")
    assert ("-", "-b") in rows and ("+", "+c") in rows
    assert "hm-add" in text_diff_html("a", "b") and "same source" in text_diff_html("x", "x")


def test_version_rows_from_the_registry() -> None:
    rows = version_rows([VersionInfo("1", "deployed", "20250101120000.000", False),
                         VersionInfo("2", "activated", "20250102120000.000", True),
                         VersionInfo("10", "deployed", "20250103120000.000", False)])
    assert [(r["version"], r["state"]) for r in rows] == [("10", "deployed"), ("2", "active"), ("1", "deployed")]
    assert rows[1]["at"] == "2025-01-02 12:00:00 UTC"


# -- forms -----------------------------------------------------------------------------------------
SCHEMA = {"type": "object", "properties": {"name": {"type": "string", "description": "who"},
                                           "shout": {"type": "boolean", "default": False},
                                           "count": {"type": "integer"}, "size": {"enum": ["s", "m"]}},
          "required": ["name"]}


def test_schema_fields() -> None:
    fields = schema_fields(SCHEMA)
    assert [(f.name, f.type, f.required) for f in fields] == [
        ("name", "string", True), ("shout", "boolean", False), ("count", "integer", False), ("size", "string", False)]
    assert schema_fields(None) == [] and schema_fields({"type": "string"}) == []


def test_check_input() -> None:
    assert check_input({"name": "x"}, SCHEMA) == []
    assert check_input({}, SCHEMA) == ["'name' is required"]
    assert check_input({"name": 3, "count": True, "size": "xl"}, SCHEMA) == [
        "'name' must be a string, not 3", "'count' must be an integer, not true", "'size' must be one of \"s\", \"m\""]
    assert check_input({"anything": 1}, None) == []


def test_parse_input_messages() -> None:
    assert parse_input('{"a": 1}') == {"a": 1}
    assert parse_input("") == {}
    with pytest.raises(ValueError, match="line 1, column 2"):
        parse_input("{oops}")
    with pytest.raises(ValueError, match="JSON object"):
        parse_input("[1, 2]")


def test_input_form_round_trip() -> None:
    form = InputForm(SCHEMA, {"name": "world"})
    assert form.data() == {"name": "world", "shout": False, "size": "s"}
    form.widgets["count"].value = 4
    form.fill({"shout": True})
    assert form.data() == {"name": "world", "shout": True, "count": 4, "size": "s"}


def test_editor_view_flags_errors_and_breaking_changes() -> None:
    from studio.editor import EditorView

    view = EditorView(app_id="demo")
    view.active_app = compile_app(load_manifest(DEMO))
    view.load("app:\n  id: demo\n  version: : x\n")
    assert view.status.alert_type == "danger" and view.code.annotations[0]["row"] == 2
    assert view.deploy_button.disabled
    without_shout = DEMO.replace("version: '1'", "version: '2'").replace(
        "          - to: shout\n            conditions:\n              match:\n                - expected: true\n"
        "                  actual: '{start.output.data.shout}'\n", "")
    start = without_shout.index("        shout:\n")
    without_shout = without_shout[:start] + without_shout[without_shout.index("        done:\n"):]
    view.load(without_shout)
    assert view.check.ok and view.status.alert_type == "warning"
    assert "activity 'shout' (graph 'demo.greet') was removed" in view.status.object
    shape_change = DEMO.replace("version: '1'", "version: '3'").replace("title: Shout it", "title: SHOUT")
    view.load(shape_change)
    assert view.status.alert_type == "success" and view.code.annotations == []
    relayouts = view.relayouts
    view.load(shape_change.replace("title: SHOUT", "title: Shout!"))     # same structure: no re-layout
    assert view.relayouts == relayouts
