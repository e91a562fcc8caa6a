"""Mapping values and @pipe evaluation (spec 2.8, 2.9, S24), plus check() and scan() for the compiler."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hotmesh_core.errors import PipeError
from hotmesh_core.pipe import (
    MAX_PIPE_DEPTH,
    UNDEFINED,
    Scan,
    check,
    limits,
    map_rules,
    resolve,
    scan,
    strict_equals,
)

NAMES = [{"full_name": "Luke Birdeau"}, {"full_name": "John Doe"}]

CONTEXT: dict[str, Any] = {
    "a": {
        "output": {
            "data": {
                "x": 5,
                "full_name": "Luke Birdeau",
                "workflowDimension": ",0,0,1",
                "index": 13,
                "duration": 1000,
                "items": [{"name": "first"}, {"name": "second"}],
                "nothing": None,
                "flag": False,
                "names": NAMES,
            },
            "metadata": {"aid": "a", "err": None},
        },
    },
    "b": {"output": {"data": {"age": 30}}},
    "t1": {"input": {"data": {"id": "job-1"}}, "output": {"data": {"a": "hello"}}},
    "$job": {"metadata": {"jid": "job-1", "app": "demo"}, "data": {"total": 7}},
    "$self": {"output": {"data": {"n": 21}}, "hook": {"data": {"signal": "go"}}},
    "$app": {"settings": {"greeting": "hi"}},
}


def pipe(*rows: Any) -> dict[str, Any]:
    return {"@pipe": list(rows)}


def reduce(*rows: Any) -> dict[str, Any]:
    return {"@reduce": list(rows)}


def run(*rows: Any, context: dict[str, Any] | None = None) -> Any:
    return resolve(pipe(*rows), CONTEXT if context is None else context)


# The rule of S24's @reduce row: split each full name into an object and push it into the accumulator.
SPLIT_NAMES = [
    ["{a.output.data.names}", []],
    reduce(
        pipe(["{$output}"]),
        pipe(
            pipe(["first"]),
            pipe(["{$item.full_name}", " "], ["{@string.split}", 0], ["{@array.get}"]),
            pipe(["last"]),
            pipe(["{$item.full_name}", " "], ["{@string.split}", 1], ["{@array.get}"]),
            ["{@object.create}"],
        ),
        ["{@array.push}"],
    ),
]


class TestS24:
    """Each row of spec S24 (the two transition rows check the `actual` side; code matching is the mapper's)."""

    def test_reference_keeps_its_type(self) -> None:
        assert resolve("{a.output.data.x}", CONTEXT) == 5
        assert isinstance(resolve("{a.output.data.x}", CONTEXT), int)

    def test_no_interpolation_inside_a_larger_string(self) -> None:
        assert resolve("hello {a.output.data.x}", CONTEXT) == "hello {a.output.data.x}"

    def test_split_then_get_gives_the_first_name(self) -> None:
        assert run(["{a.output.data.full_name}", " "], ["{@string.split}", 0], ["{@array.get}"]) == "Luke"

    def test_json_parse_then_join(self) -> None:
        assert run(['["ke","bab","case"]'], ["{@json.parse}", "-"], ["{@array.join}"]) == "ke-bab-case"

    def test_gte_then_ternary(self) -> None:
        rows = (["{b.output.data.age}", 40], ["{@number.gte}", "Senior", "Junior"], ["{@conditional.ternary}"])
        assert run(*rows) == "Junior"
        older = {"b": {"output": {"data": {"age": 41}}}}
        assert run(*rows, context=older) == "Senior"

    def test_nested_pipes_fan_in_to_object_create(self) -> None:
        result = run(
            pipe(
                ["-sleep", "{a.output.data.workflowDimension}", "-", "{a.output.data.index}", "-"],
                ["{@string.concat}"],
            ),
            pipe(["{a.output.data.duration}"]),
            ["{@object.create}"],
        )
        assert result == {"-sleep,0,0,1-13-": 1000}

    def test_reduce_builds_first_last_objects(self) -> None:
        assert run(*SPLIT_NAMES) == [{"first": "Luke", "last": "Birdeau"}, {"first": "John", "last": "Doe"}]

    def test_date_now_to_locale_string(self) -> None:
        result = run(["{@date.now}", "en-US"], ["{@date.toLocaleString}"])
        assert re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}, \d{1,2}:\d{2}:\d{2} [AP]M", result)

    def test_cron_next_delay_to_utc_midnight(self) -> None:
        now = datetime.now(UTC)
        midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        delay = run(["0 0 * * *"], ["{@cron.nextDelay}"])
        assert delay >= 5
        assert abs(delay - max(5, round((midnight - now).total_seconds()))) <= 2

    def test_cron_invalid_expression_is_minus_one(self) -> None:
        assert run(["0 0 * *"], ["{@cron.nextDelay}"]) == -1

    def test_transition_match_actual_resolves_for_strict_comparison(self) -> None:
        actual = pipe(["{t1.output.data.a}", "goodbye"], ["{@conditional.equality}"])
        assert strict_equals(resolve(actual, CONTEXT), False)
        assert strict_equals(resolve(pipe(["{t1.output.data.a}", "hello"], ["{@conditional.equality}"]), CONTEXT),
                             True)

    def test_transition_match_on_a_reference(self) -> None:
        assert strict_equals(resolve("{a.output.data.index}", CONTEXT), 13)
        assert not strict_equals(resolve("{a.output.data.index}", CONTEXT), "13")


class TestReferences:
    @pytest.mark.parametrize(
        ("expression", "expected"),
        [
            ("{a.output.data.items.1.name}", "second"),
            ("{a.output.data.items.length}", 2),
            ("{a.output.metadata.aid}", "a"),
            ("{t1.input.data.id}", "job-1"),
            ("{$job.data.total}", 7),
            ("{$job.metadata.jid}", "job-1"),
            ("{$self.output.data.n}", 21),
            ("{$self.hook.data.signal}", "go"),
            ("{$hook.data.signal}", "go"),
            ("{$app.settings.greeting}", "hi"),
            ("{a.output.data.nothing}", None),
            ("{a.output.data.flag}", False),
        ],
    )
    def test_paths(self, expression: str, expected: Any) -> None:
        assert resolve(expression, CONTEXT) == expected

    @pytest.mark.parametrize(
        "expression",
        ["{a.output.data.missing}", "{zz.output.data.x}", "{a.output.data.items.5.name}", "{a.output.data.items.-1}",
         "{a.output.data.items.01}", "{a.output.data.full_name.0}", "{a.output.data.x.real}", "{$item}",
         "{$output.x}", "{a.output.data.nothing.x}", "{}"],
    )
    def test_missing_paths_are_undefined(self, expression: str) -> None:
        assert resolve(expression, CONTEXT) is UNDEFINED

    def test_no_attribute_access(self) -> None:
        class Secret:
            token = "s3cret"

        context = {"a": {"obj": Secret(), "text": "abc"}}
        assert resolve("{a.obj.token}", context) is UNDEFINED
        assert resolve("{a.text.upper}", context) is UNDEFINED
        assert resolve("{a.text.__class__}", context) is UNDEFINED

    def test_a_plain_function_cell_is_called_with_no_arguments(self) -> None:
        assert isinstance(resolve("{@date.now}", {}), int)
        assert resolve("{@symbol.null}", {}) is None
        assert resolve("{@symbol.undefined}", {}) is UNDEFINED
        assert resolve("{@symbol.whitespace}", {}) == " "

    def test_dates_come_out_as_iso_strings(self) -> None:
        result = resolve(pipe([1704164645678], ["{@date.getDateInstance}"]), {})
        assert result == "2024-01-02T03:04:05.678Z"

    def test_scalars_pass_through(self) -> None:
        for value in (5, 1.5, True, None, "text", ""):
            assert resolve(value, CONTEXT) == value


class TestMapping:
    def test_objects_are_mapped_and_undefined_members_dropped(self) -> None:
        rules = {"x": "{a.output.data.x}", "gone": "{a.output.data.missing}", "deep": {"n": "{$job.data.total}"}}
        assert resolve(rules, CONTEXT) == {"x": 5, "deep": {"n": 7}}

    def test_lists_are_mapped_item_by_item(self) -> None:
        assert resolve(["{a.output.data.x}", "lit", "{a.output.data.missing}"], CONTEXT) == [5, "lit", None]

    def test_map_rules_drops_undefined_but_keeps_null(self) -> None:
        rules = {"x": "{a.output.data.x}", "none": "{a.output.data.nothing}", "gone": "{nope.x}",
                 "sum": pipe(["{a.output.data.x}", 2], ["{@math.add}"])}
        assert map_rules(rules, CONTEXT) == {"x": 5, "none": None, "sum": 7}

    def test_map_rules_without_rules(self) -> None:
        assert map_rules(None, CONTEXT) == {}
        assert map_rules({}, CONTEXT) == {}

    def test_undefined_inside_pipe_results_is_cleaned(self) -> None:
        assert run(["a"], ["{@object.create}"]) == {}
        assert run(["{@symbol.array}", "{nope}"], ["{@array.push}"]) == [None]


class TestPipes:
    def test_a_single_row_pipe_returns_its_first_cell(self) -> None:
        assert run(["{a.output.data.x}", 99]) == 5

    def test_later_rows_receive_the_whole_previous_row(self) -> None:
        assert run([1, 2, 3], ["{@math.add}", 10], ["{@math.multiply}"]) == 60

    def test_row_zero_nullary_function(self) -> None:
        assert run(["{@symbol.whitespace}", "x"], ["{@string.concat}"]) == " x"

    def test_an_empty_first_row_is_undefined(self) -> None:
        assert run([]) is UNDEFINED

    def test_trailing_nested_pipes_echo_the_previous_row(self) -> None:
        assert run(["kept"], pipe(["ignored"])) == "kept"

    def test_nested_pipes_can_feed_a_reduce(self) -> None:
        rows = (pipe(["{a.output.data.names}"]), pipe([0]), reduce(["{$output}", 1], ["{@math.add}"]))
        assert run(*rows) == 2

    def test_reduce_over_object_keys_with_key_and_index(self) -> None:
        context = {"a": {"output": {
            "workflowDimension": ",0,0,1",
            "index": 5,
            "data": {"0": {"type": "wait", "data": {"first": "Luke"}}, "1": {"type": "sleep", "data": {"first": "J"}}},
        }}}
        rows = (
            ["{a.output.data}", {}],
            reduce(
                pipe(["{$output}"]),
                pipe(
                    pipe(["-"]),
                    pipe(["{$item}", "type"], ["{@object.get}"]),
                    pipe(["{a.output.workflowDimension}"]),
                    pipe(["-"]),
                    pipe(pipe(["{a.output.index}"]), pipe(["{$index}"]), ["{@math.add}"]),
                    pipe(["-"]),
                    ["{@string.concat}"],
                ),
                pipe(["{$item}", "data"], ["{@object.get}"]),
                ["{@object.set}"],
            ),
        )
        assert run(*rows, context=context) == {
            "-wait,0,0,1-5-": {"first": "Luke"},
            "-sleep,0,0,1-6-": {"first": "J"},
        }

    def test_reduce_variables(self) -> None:
        rows = (["{a.output.data.items}", ""],
                reduce(["{@string.concat}", "{$key}", ":", "{$item.name}", "/", "{$index}", ";"],
                       ["{@string.concat}"]))
        assert run(*rows) == "0:first/0;1:second/1;"

    def test_reduce_input_variable_and_function_position_variable(self) -> None:
        rows = (["{a.output.data.items}", 0], reduce(["{$input}"], ["{@array.length}"]))
        assert run(*rows) == 2

    def test_extra_cells_of_a_reduce_body_row_follow_the_call(self) -> None:
        # The body's value is cell 0 of its last row: a one-row body returns the accumulator unchanged.
        assert run([[1, 2], 0], reduce(["{@math.add}", "{$item}"])) == 0
        assert run([[1, 2], 0], reduce(["{@math.add}", "{$item}"], ["{@math.add}"])) == 3

    def test_reduce_over_nothing_keeps_the_initial_value(self) -> None:
        assert run(["{a.output.data.missing}", {"k": 1}], reduce(["{$item}"])) == {"k": 1}
        assert run([[]], reduce(["{$item}"])) is None

    def test_reduce_starts_from_a_copy_of_the_initial_value(self) -> None:
        rules = pipe(["{a.output.data.names}", []], reduce(["{@array.push}", "{$index}"], ["{@array.push}"]))
        pristine = copy.deepcopy(rules)
        assert resolve(rules, CONTEXT) == [0, 1]
        assert resolve(rules, CONTEXT) == [0, 1]
        assert rules == pristine

    def test_functions_never_change_the_context(self) -> None:
        context = copy.deepcopy(CONTEXT)
        run(["{a.output.data.items}", {"name": "third"}], ["{@array.push}"], context=context)
        run(["{a.output.data.names}"], ["{@array.pop}"], context=context)
        run(["{a.output.data}", "x", 0], ["{@object.set}"], context=context)
        assert context == CONTEXT

    def test_literal_cells_are_not_shared_between_evaluations(self) -> None:
        rules = pipe([[1], 2], ["{@array.push}"])
        assert resolve(rules, {}) == [1, 2]
        assert resolve(rules, {}) == [1, 2]

    def test_pipe_inside_a_mapped_object(self) -> None:
        rules = {"id": pipe(["{t1.input.data.id}", "-child"], ["{@string.concat}"]), "n": 7}
        assert resolve(rules, CONTEXT) == {"id": "job-1-child", "n": 7}

    def test_multiply_self_data(self) -> None:
        assert run(["{$self.output.data.n}", 2], ["{@math.multiply}"]) == 42


class TestPipeErrors:
    def test_unknown_function_at_evaluation(self) -> None:
        with pytest.raises(PipeError, match=r"unknown function @string\.nope"):
            run(["a"], ["{@string.nope}"])
        with pytest.raises(PipeError, match="unknown function namespace @nope"):
            resolve("{@nope.fn}", {})

    def test_private_names_at_evaluation(self) -> None:
        with pytest.raises(PipeError, match="may not start with '_'"):
            run(["a"], ["{@string._text}"])

    def test_a_failing_function(self) -> None:
        with pytest.raises(PipeError, match="@string.split"):
            run(["{a.output.data.missing}", " "], ["{@string.split}"])
        with pytest.raises(PipeError, match="@array.push"):
            run([None], ["{@array.push}"])

    @pytest.mark.parametrize(
        "rows",
        [[], "rows", [["a"], "not a row"], [["a"], {"@other": []}], [["a"], {"@pipe": [["x"]], "@reduce": []}],
         [["a"], {"@pipe": []}]],
    )
    def test_malformed_pipes(self, rows: Any) -> None:
        with pytest.raises(PipeError, match="pipe"):
            resolve({"@pipe": rows}, CONTEXT)

    @pytest.mark.parametrize("first_cell", ["literal", "{a.output.data.x}", 5, None])
    def test_a_later_row_must_start_with_a_function(self, first_cell: Any) -> None:
        with pytest.raises(PipeError, match=r"must start with a \{@namespace.function\}"):
            run(["a"], [first_cell])

    def test_only_nested_pipes(self) -> None:
        with pytest.raises(PipeError, match="needs a final row"):
            run(pipe(["a"]), pipe(["b"]))

    def test_reduce_needs_a_previous_row(self) -> None:
        with pytest.raises(PipeError, match="no previous row"):
            run(reduce(["{$item}"]))

    def test_row_cap(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(limits, "MAX_PIPE_ROWS", 3)
        assert run([1], ["{@math.abs}"], ["{@math.abs}"]) == 1
        with pytest.raises(PipeError, match="cap is 3"):
            run([1], ["{@math.abs}"], ["{@math.abs}"], ["{@math.abs}"])

    def test_reduce_iteration_cap_is_shared_by_nested_reduces(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(limits, "MAX_REDUCE_ITERATIONS", 5)
        items = {"a": {"list": [1, 2, 3]}}
        assert run(["{a.list}", 0], reduce(["{$output}", "{$item}"], ["{@math.add}"]), context=items) == 6
        nested = reduce(
            pipe(["{$output}"]),
            pipe(["{a.list}", "{$output}"], reduce(["{$output}", 1], ["{@math.add}"])),
            ["{@math.add}"],
        )
        with pytest.raises(PipeError, match="exceeded 5 iterations"):
            run(["{a.list}", 0], nested, context=items)

    def test_nesting_cap(self) -> None:
        rules: Any = ["x"]
        for _ in range(MAX_PIPE_DEPTH + 1):
            rules = {"@pipe": [rules] if isinstance(rules, list) else [rules, ["{@string.concat}"]]}
        with pytest.raises(PipeError, match="nested more than"):
            resolve(rules, {})

    def test_output_cap_stops_exponential_growth(self) -> None:
        doubling = reduce(["{$output}", "{$output}"], ["{@string.concat}"])
        with pytest.raises(PipeError, match="size cap"):
            run([list(range(40)), "ab"], doubling)

    def test_circular_results_are_refused(self) -> None:
        with pytest.raises(PipeError, match="circular"):
            run([[1], []], reduce(pipe(["{$output}"]), pipe(["{$output}"]), ["{@array.push}"]))


class TestCheck:
    def test_valid_values_pass(self) -> None:
        check(pipe(*SPLIT_NAMES))
        check({"a": "{x.y}", "b": [1, "{@date.now}"], "c": pipe(["{$job.data.x}"], ["{@math.abs}"])})
        check("{unknown.reference.is.fine}")
        check(pipe(["a"], pipe(["b"])))
        check(reduce(["not a function row outside a pipe"]))

    def test_unknown_function(self) -> None:
        with pytest.raises(PipeError, match=r"^unknown function @string\.nope$"):
            check(pipe(["a"], ["{@string.nope}"]))
        with pytest.raises(PipeError, match=r"unknown function @math\.nope"):
            check({"deep": [{"x": "{@math.nope}"}]})
        with pytest.raises(PipeError, match="unknown function namespace @regex"):
            check(pipe(["{@regex.test}"]))

    def test_unknown_function_inside_a_reduce_body(self) -> None:
        with pytest.raises(PipeError, match=r"unknown function @array\.map"):
            check(pipe(["{x}", []], reduce(pipe(["{$output}"]), ["{@array.map}"])))

    def test_private_names(self) -> None:
        with pytest.raises(PipeError, match="may not start with '_'"):
            check("{@object._own_keys}")

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            (pipe(["a"], "row"), "must be a list"),
            (pipe(["a"], {"@map": []}), "must be a list"),
            ({"@pipe": "rows"}, "non-empty list"),
            ({"@pipe": []}, "non-empty list"),
            ({"@pipe": [["a"]], "extra": 1}, "no other keys"),
            (pipe(["a"], ["literal"]), "must start with"),
            (pipe(["a"], []), "must start with"),
            (pipe(reduce(["{$item}"])), "no previous row"),
            (pipe(pipe(["a"])), "needs a final row"),
            (pipe(["x", []], reduce(["{a.b}"])), "must start with"),
        ],
    )
    def test_malformed_pipes(self, value: Any, message: str) -> None:
        with pytest.raises(PipeError, match=message):
            check(value)

    def test_reduce_body_rows_are_function_rows(self) -> None:
        check(pipe(["x", []], reduce(["{$output}"], ["{@array.length}"])))
        check(pipe(["x", []], reduce(["{$item.name}", 1], ["{@array.get}"])))

    def test_check_agrees_with_evaluation_on_a_seeded_nested_start(self) -> None:
        rules = pipe(pipe(["{a.output.data.x}"]), pipe([2]), ["{@math.multiply}"])
        check(rules)
        assert resolve(rules, CONTEXT) == 10


class TestScan:
    def test_references_and_functions(self) -> None:
        result = scan(pipe(*SPLIT_NAMES))
        assert result == Scan(
            references=("a.output.data.names",),
            functions=("string.split", "array.get", "object.create", "array.push"),
        )

    def test_reduce_variables_are_not_references(self) -> None:
        result = scan(pipe(["{x.list}", 0], reduce(["{@math.add}", "{$item.n}", "{$index}", "{$key}", "{$input}"])))
        assert result.references == ("x.list",)

    def test_nested_values_and_deduplication(self) -> None:
        value = {
            "a": "{t1.output.data.a}",
            "b": ["{$job.data.x}", "{t1.output.data.a}", "literal", "hello {not.a.ref}"],
            "c": pipe(["{$self.output.data.n}", "{@symbol.whitespace}"], ["{@string.concat}", "{$hook.data.s}"]),
            "d": "{@date.now}",
        }
        result = scan(value)
        assert result.references == ("t1.output.data.a", "$job.data.x", "$self.output.data.n", "$hook.data.s")
        assert result.functions == ("symbol.whitespace", "string.concat", "date.now")

    def test_scan_is_best_effort_on_malformed_values(self) -> None:
        assert scan({"@pipe": "nonsense"}) == Scan((), ())
        assert scan(pipe(["{a.b}"], "junk", {"@other": 1})) == Scan(("a.b",), ())
        assert scan(12) == Scan((), ())
