"""@pipe functions: @array, @bitwise, @conditional, @logical, @unary, @symbol, @string, @object, @json
and the registry itself. Expected values are what the JavaScript built-ins return."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest

from hotmesh_core.errors import PipeError
from hotmesh_core.pipe import FUNCTIONS, UNDEFINED
from hotmesh_core.pipe.functions import call

NAN = float("nan")


def fn(reference: str, *arguments: Any) -> Any:
    """Call a function the way a pipe row does (JavaScript call semantics)."""
    return call(reference, arguments)


def is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


# Every function the spec (2.10) lists, by namespace.
SPEC_CATALOG = {
    "array": "get length concat indexOf join lastIndexOf pop push reverse shift slice sort splice unshift",
    "bitwise": "and or xor leftShift rightShift unsignedRightShift",
    "conditional": "ternary equality strict_equality inequality strict_inequality greater_than less_than "
    "greater_than_or_equal less_than_or_equal nullish",
    "cron": "nextDelay",
    "date": "getDateInstance fromISOString now parse getDate getDay getFullYear getHours getMilliseconds "
    "getMinutes getMonth getSeconds getTime getTimezoneOffset getUTCDate getUTCDay getUTCFullYear getUTCHours "
    "getUTCMilliseconds getUTCMinutes getUTCMonth getUTCSeconds setMilliseconds setMinutes setMonth setSeconds "
    "setTime setUTCDate setUTCFullYear setUTCHours setUTCMilliseconds setUTCMinutes setUTCMonth setUTCSeconds "
    "setDate setFullYear setHours toDateString toISOString toISOXString toJSON toLocaleDateString "
    "toLocaleString toLocaleTimeString toString UTC valueOf",
    "json": "stringify parse",
    "logical": "and or",
    "math": "add subtract multiply divide abs acos acosh asin asinh atan atan2 atanh cbrt ceil clz32 cos cosh "
    "exp expm1 floor fround hypot imul log log10 log1p log2 max min pow random round sign sin sinh sqrt tan "
    "tanh trunc",
    "number": "isFinite isEven isOdd isInteger isNaN parseFloat parseInt toFixed toExponential toPrecision "
    "gte lte gt lt max min pow round",
    "object": "get set create keys values entries fromEntries assign getOwnPropertyNames getOwnPropertySymbols "
    "getOwnPropertyDescriptor defineProperty defineProperties freeze isFrozen seal isSealed preventExtensions "
    "isExtensible hasOwnProperty isPrototypeOf propertyIsEnumerable",
    "string": "split charAt concat includes indexOf lastIndexOf slice toLowerCase toUpperCase trim trimStart "
    "trimEnd padStart padEnd replace search substring startsWith endsWith repeat",
    "symbol": "null undefined whitespace object array posInfinity negInfinity NaN date",
    "unary": "not positive negative bitwise_not",
}


class TestRegistry:
    def test_thirteen_namespaces_with_every_catalogued_function(self) -> None:
        assert sorted(FUNCTIONS) == sorted(SPEC_CATALOG)
        for namespace, names in SPEC_CATALOG.items():
            missing = set(names.split()) - set(FUNCTIONS[namespace])
            assert not missing, f"@{namespace} lacks {missing}"

    def test_math_has_the_39_functions(self) -> None:
        assert len(FUNCTIONS["math"]) == 39

    def test_no_registered_name_is_private(self) -> None:
        for namespace, table in FUNCTIONS.items():
            assert not namespace.startswith("_")
            assert all(not name.startswith("_") for name in table)

    def test_unknown_function_is_named(self) -> None:
        with pytest.raises(PipeError, match=r"unknown function @string\.nope"):
            fn("string.nope")

    def test_unknown_namespace_is_named(self) -> None:
        with pytest.raises(PipeError, match=r"unknown function namespace @regex"):
            fn("regex.test", "a")

    @pytest.mark.parametrize("reference", ["string.__class__", "_private.x", "string._text", "object.__init__"])
    def test_private_names_are_refused(self, reference: str) -> None:
        with pytest.raises(PipeError, match="may not start with '_'"):
            fn(reference)

    @pytest.mark.parametrize("reference", ["string.constructor", "object.toString", "json.loads", "math.e"])
    def test_attributes_of_the_implementation_are_not_reachable(self, reference: str) -> None:
        with pytest.raises(PipeError, match="unknown function"):
            fn(reference)

    @pytest.mark.parametrize("reference", ["string", "string.split.x", ".split", "string."])
    def test_malformed_references(self, reference: str) -> None:
        with pytest.raises(PipeError, match="malformed function reference"):
            fn(reference)

    def test_extra_arguments_are_ignored_and_missing_ones_undefined(self) -> None:
        assert fn("string.toUpperCase", "abc", "ignored", 3) == "ABC"
        assert fn("conditional.ternary", True) is UNDEFINED
        assert fn("conditional.equality") is True  # undefined == undefined

    def test_a_failing_function_raises_pipe_error_not_type_error(self) -> None:
        with pytest.raises(PipeError, match="@array.push"):
            fn("array.push", None, 1)
        with pytest.raises(PipeError, match="@string.split"):
            fn("string.split", UNDEFINED, ",")


class TestArray:
    def test_get(self) -> None:
        assert fn("array.get", ["a", "b"], 1) == "b"
        assert fn("array.get", ["a", "b"]) == "a"
        assert fn("array.get", ["a", "b"], "1") == "b"
        assert fn("array.get", ["a"], 5) is UNDEFINED
        assert fn("array.get", ["a", "b"], -1) is UNDEFINED
        assert fn("array.get", None, 0) is UNDEFINED
        assert fn("array.get", {"k": 1}, "k") == 1

    def test_length(self) -> None:
        assert fn("array.length", [1, 2, 3]) == 3
        assert fn("array.length", "abc") == 3
        assert fn("array.length", None) is UNDEFINED

    def test_concat_spreads_arrays_and_copies(self) -> None:
        first = [1]
        assert fn("array.concat", first, [2, 3], 4) == [1, 2, 3, 4]
        assert first == [1]
        assert fn("array.concat", [1], [[2]]) == [1, [2]]

    def test_index_of_uses_strict_equality(self) -> None:
        assert fn("array.indexOf", [1, "1", 2], "1") == 1
        assert fn("array.indexOf", [1, 2, 1], 1, 1) == 2
        assert fn("array.indexOf", [1, 2, 3], 3, -1) == 2
        assert fn("array.indexOf", [NAN], NAN) == -1
        assert fn("array.indexOf", [1, 2], 3) == -1

    def test_join(self) -> None:
        assert fn("array.join", ["a", None, "b", UNDEFINED, 1.5]) == "a,,b,,1.5"
        assert fn("array.join", [1, 2], "-") == "1-2"
        assert fn("array.join", [[1, 2], [3]], ";") == "1,2;3"
        assert fn("array.join", [True, {}], " ") == "true [object Object]"

    def test_last_index_of(self) -> None:
        assert fn("array.lastIndexOf", [1, 2, 1], 1) == 2
        assert fn("array.lastIndexOf", [1, 2, 1], 1, 1) == 0
        assert fn("array.lastIndexOf", [1, 2, 1], 1, -2) == 0
        assert fn("array.lastIndexOf", [], 1) == -1

    def test_pop_and_shift_change_the_array(self) -> None:
        items = [1, 2, 3]
        assert fn("array.pop", items) == 3
        assert fn("array.shift", items) == 1
        assert items == [2]
        assert fn("array.pop", []) is UNDEFINED
        assert fn("array.shift", []) is UNDEFINED

    def test_push_returns_the_array_itself(self) -> None:
        items = [1]
        result = fn("array.push", items, 2, 3)
        assert result == [1, 2, 3]
        assert result is items

    def test_reverse(self) -> None:
        assert fn("array.reverse", [1, 2, 3]) == [3, 2, 1]

    def test_slice_with_negative_indices(self) -> None:
        items = [1, 2, 3, 4]
        assert fn("array.slice", items, 1, -1) == [2, 3]
        assert fn("array.slice", items, -2) == [3, 4]
        assert fn("array.slice", items, 5) == []
        copy = fn("array.slice", items)
        assert copy == items and copy is not items

    def test_sort_ascending_puts_nulls_first_and_compares_numbers_numerically(self) -> None:
        assert fn("array.sort", [3, None, 10, 1]) == [None, 1, 3, 10]
        assert fn("array.sort", [3, None, 10, 1], "ASCENDING") == [None, 1, 3, 10]

    def test_sort_descending_puts_nulls_last(self) -> None:
        assert fn("array.sort", [3, None, 10, 1], "DESCENDING") == [10, 3, 1, None]

    def test_sort_strings_locale_compared(self) -> None:
        assert fn("array.sort", ["b", "C", "a", "B"]) == ["a", "b", "B", "C"]
        assert fn("array.sort", ["b", "a", "c"], "DESCENDING") == ["c", "b", "a"]
        assert fn("array.sort", ["é", "f", "e"]) == ["e", "é", "f"]

    def test_sort_moves_undefined_last(self) -> None:
        assert fn("array.sort", [2, UNDEFINED, 1]) == [1, 2, UNDEFINED]

    def test_splice(self) -> None:
        items = [1, 2, 3, 4]
        assert fn("array.splice", items, 1, 2) == [2, 3]
        assert items == [1, 4]
        items = [1, 2, 3]
        assert fn("array.splice", items, 1, 0, "x", "y") == []
        assert items == [1, "x", "y", 2, 3]
        items = [1, 2, 3]
        assert fn("array.splice", items, -1) == [3]
        assert items == [1, 2]

    def test_unshift_returns_the_new_length(self) -> None:
        items = [2]
        assert fn("array.unshift", items, 0, 1) == 3
        assert items == [0, 1, 2]

    def test_push_respects_the_size_cap(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr("hotmesh_core.pipe.limits.MAX_OUTPUT_SIZE", 3)
        with pytest.raises(PipeError, match="size cap"):
            fn("array.push", [1, 2], 3, 4)


class TestBitwise:
    def test_operators(self) -> None:
        assert fn("bitwise.and", 5, 3) == 1
        assert fn("bitwise.or", 5, 3) == 7
        assert fn("bitwise.xor", 5, 3) == 6

    def test_32_bit_wrapping(self) -> None:
        assert fn("bitwise.leftShift", 1, 31) == -2147483648
        assert fn("bitwise.leftShift", 1, 32) == 1
        assert fn("bitwise.and", 2**32 + 5, 7) == 5
        assert fn("bitwise.or", 1.9, 0) == 1

    def test_shifts(self) -> None:
        assert fn("bitwise.rightShift", -8, 1) == -4
        assert fn("bitwise.unsignedRightShift", -1, 0) == 4294967295
        assert fn("bitwise.unsignedRightShift", -8, 1) == 2147483644

    def test_operands_are_coerced(self) -> None:
        assert fn("bitwise.and", "6", 3) == 2
        assert fn("bitwise.or", None, True) == 1
        assert fn("bitwise.or", "x", NAN) == 0


class TestConditional:
    def test_ternary_uses_truthiness(self) -> None:
        assert fn("conditional.ternary", 0, "a", "b") == "b"
        assert fn("conditional.ternary", "", "a", "b") == "b"
        assert fn("conditional.ternary", NAN, "a", "b") == "b"
        assert fn("conditional.ternary", "0", "a", "b") == "a"
        assert fn("conditional.ternary", [], "a", "b") == "a"
        assert fn("conditional.ternary", {}, "a", "b") == "a"

    @pytest.mark.parametrize(
        ("left", "right", "expected"),
        [
            (1, "1", True),
            (None, UNDEFINED, True),
            (None, 0, False),
            (UNDEFINED, 0, False),
            (0, "", True),
            (True, 1, True),
            (True, "1", True),
            ("true", True, False),
            (NAN, NAN, False),
            ([1], 1, True),
            ([1, 2], "1,2", True),
            ({}, "[object Object]", True),
            ({}, {}, False),
            ("a", "a", True),
            (" 1 ", 1, True),
        ],
    )
    def test_equality_is_loose(self, left: Any, right: Any, expected: bool) -> None:
        assert fn("conditional.equality", left, right) is expected
        assert fn("conditional.inequality", left, right) is (not expected)

    @pytest.mark.parametrize(
        ("left", "right", "expected"),
        [(1, 1.0, True), (1, "1", False), (None, UNDEFINED, False), (NAN, NAN, False), ("a", "a", True),
         (True, 1, False), (None, None, True)],
    )
    def test_strict_equality(self, left: Any, right: Any, expected: bool) -> None:
        assert fn("conditional.strict_equality", left, right) is expected
        assert fn("conditional.strict_inequality", left, right) is (not expected)

    def test_relational(self) -> None:
        assert fn("conditional.greater_than", 2, 1) is True
        assert fn("conditional.greater_than", "b", "a") is True
        assert fn("conditional.greater_than", "10", "9") is False  # string comparison
        assert fn("conditional.greater_than", 10, "9") is True  # numeric comparison
        assert fn("conditional.greater_than", None, -1) is True  # null is 0
        assert fn("conditional.greater_than", UNDEFINED, 0) is False
        assert fn("conditional.less_than", "a", "b") is True
        assert fn("conditional.less_than", 1, 2) is True
        assert fn("conditional.greater_than_or_equal", None, 0) is True
        assert fn("conditional.greater_than_or_equal", NAN, NAN) is False
        assert fn("conditional.less_than_or_equal", UNDEFINED, UNDEFINED) is False
        assert fn("conditional.less_than_or_equal", 3, 3) is True

    def test_nullish(self) -> None:
        assert fn("conditional.nullish", None, "x") == "x"
        assert fn("conditional.nullish", UNDEFINED, 5) == 5
        assert fn("conditional.nullish", 0, "x") == 0
        assert fn("conditional.nullish", "", "x") == ""
        assert fn("conditional.nullish", False, 1) is False


class TestLogical:
    def test_and_returns_an_operand(self) -> None:
        assert fn("logical.and", 1, "x") == "x"
        assert fn("logical.and", 0, "x") == 0
        assert fn("logical.and", "", "x") == ""
        assert fn("logical.and", [], "x") == "x"
        assert fn("logical.and", True, False) is False

    def test_or_returns_an_operand(self) -> None:
        assert fn("logical.or", 0, "x") == "x"
        assert fn("logical.or", UNDEFINED, None) is None
        assert is_nan(fn("logical.or", NAN, NAN))
        assert fn("logical.or", NAN, 5) == 5
        assert fn("logical.or", {}, 5) == {}
        assert fn("logical.or", "a", "b") == "a"


class TestUnary:
    def test_not(self) -> None:
        assert fn("unary.not", 0) is True
        assert fn("unary.not", "a") is False
        assert fn("unary.not", []) is False
        assert fn("unary.not", UNDEFINED) is True

    def test_positive_is_to_number(self) -> None:
        assert fn("unary.positive", "42") == 42
        assert fn("unary.positive", " 1.5 ") == 1.5
        assert fn("unary.positive", "") == 0
        assert fn("unary.positive", "0x1A") == 26
        assert fn("unary.positive", True) == 1
        assert fn("unary.positive", None) == 0
        assert fn("unary.positive", []) == 0
        assert fn("unary.positive", [7]) == 7
        assert is_nan(fn("unary.positive", "abc"))
        assert is_nan(fn("unary.positive", UNDEFINED))
        assert is_nan(fn("unary.positive", "1_000"))
        assert fn("unary.positive", "-Infinity") == -math.inf

    def test_negative(self) -> None:
        assert fn("unary.negative", 5) == -5
        assert fn("unary.negative", "-3") == 3

    def test_bitwise_not(self) -> None:
        assert fn("unary.bitwise_not", 5) == -6
        assert fn("unary.bitwise_not", -1) == 0
        assert fn("unary.bitwise_not", 2**32) == -1


class TestSymbol:
    def test_constants(self) -> None:
        assert fn("symbol.null") is None
        assert fn("symbol.undefined") is UNDEFINED
        assert fn("symbol.whitespace") == " "
        assert fn("symbol.object") == {}
        assert fn("symbol.array") == []
        assert fn("symbol.posInfinity") == math.inf
        assert fn("symbol.negInfinity") == -math.inf
        assert is_nan(fn("symbol.NaN"))

    def test_containers_are_new_each_time(self) -> None:
        assert fn("symbol.object") is not fn("symbol.object")
        assert fn("symbol.array") is not fn("symbol.array")

    def test_date_is_now(self) -> None:
        before = datetime.now(UTC)
        value = fn("symbol.date")
        assert isinstance(value, datetime)
        assert abs((value - before).total_seconds()) < 2
        assert value.microsecond % 1000 == 0


class TestString:
    def test_split(self) -> None:
        assert fn("string.split", "a,b,,c", ",") == ["a", "b", "", "c"]
        assert fn("string.split", "abc", "") == ["a", "b", "c"]
        assert fn("string.split", "abc") == ["abc"]
        assert fn("string.split", "a b c", " ", 2) == ["a", "b"]
        assert fn("string.split", "a.b", ".") == ["a", "b"]  # plain, not a regex

    def test_char_at(self) -> None:
        assert fn("string.charAt", "Luke", 0) == "L"
        assert fn("string.charAt", "Luke") == "L"
        assert fn("string.charAt", "Luke", 10) == ""
        assert fn("string.charAt", "Luke", -1) == ""

    def test_concat_drops_null_and_undefined(self) -> None:
        assert fn("string.concat", "Luke", "Birdeau") == "LukeBirdeau"
        assert fn("string.concat", "a", 1, None, UNDEFINED, True, 0.5) == "a1true0.5"
        assert fn("string.concat") == ""

    def test_includes(self) -> None:
        assert fn("string.includes", "Luke Birdeau", "Bird") is True
        assert fn("string.includes", "abc", "a", 1) is False
        assert fn("string.includes", [1, 2], 2) is True
        assert fn("string.includes", [NAN], NAN) is True

    def test_index_of(self) -> None:
        assert fn("string.indexOf", "Luke Birdeau", "Birdeau") == 5
        assert fn("string.indexOf", "abc", "z") == -1
        assert fn("string.indexOf", "abc", "", 10) == 3
        assert fn("string.indexOf", "abcabc", "b", 2) == 4

    def test_last_index_of(self) -> None:
        assert fn("string.lastIndexOf", "Luke Birdeau", "Birdeau") == 5
        assert fn("string.lastIndexOf", "canal", "a") == 3
        assert fn("string.lastIndexOf", "canal", "a", 2) == 1
        assert fn("string.lastIndexOf", "canal", "a", 0) == -1
        assert fn("string.lastIndexOf", "canal", "x") == -1

    def test_slice(self) -> None:
        assert fn("string.slice", "Luke Birdeau", 0, 4) == "Luke"
        assert fn("string.slice", "abcdef", -2) == "ef"
        assert fn("string.slice", "abcdef", 2, -1) == "cde"
        assert fn("string.slice", "abc", 5) == ""
        assert fn("string.slice", [1, 2, 3], 1) == [2, 3]

    def test_case(self) -> None:
        assert fn("string.toLowerCase", "LUKE") == "luke"
        assert fn("string.toUpperCase", "luke") == "LUKE"
        assert fn("string.toUpperCase", 5) == "5"

    def test_trim_uses_javascript_whitespace(self) -> None:
        assert fn("string.trim", "  Luke Birdeau  ") == "Luke Birdeau"
        assert fn("string.trimStart", "  Luke  ") == "Luke  "
        assert fn("string.trimEnd", "  Luke  ") == "  Luke"
        assert fn("string.trim", "\u00a0\tx\ufeff\n") == "x"
        assert fn("string.trim", "\x1cx") == "\x1cx"  # not whitespace in JavaScript

    def test_pad_start_and_end(self) -> None:
        assert fn("string.padStart", "Luke", 8, "-") == "----Luke"
        assert fn("string.padEnd", "Luke", 8, "-") == "Luke----"
        assert fn("string.padStart", "5", 3, "0") == "005"
        assert fn("string.padStart", 5, 3, "0") == "005"
        assert fn("string.padStart", "abc", 2) == "abc"
        assert fn("string.padStart", "a", 6, "xy") == "xyxyxa"
        assert fn("string.padStart", "a", 3) == "  a"
        assert fn("string.padStart", "a", 3, "") == "a"
        assert fn("string.padEnd", "a", 4, "xy") == "axyx"

    def test_pad_respects_the_size_cap(self) -> None:
        with pytest.raises(PipeError, match="size cap"):
            fn("string.padStart", "a", 10**7)
        with pytest.raises(PipeError, match="size cap"):
            fn("string.padEnd", "a", math.inf)

    def test_replace_first_occurrence_of_a_plain_string(self) -> None:
        assert fn("string.replace", "a-b-c", "-", "+") == "a+b-c"
        assert fn("string.replace", "a.c", ".", "!") == "a!c"
        assert fn("string.replace", "abc", "x", "y") == "abc"

    def test_replace_expands_dollar_patterns(self) -> None:
        assert fn("string.replace", "abc", "b", "[$&]") == "a[b]c"
        assert fn("string.replace", "abc", "b", "$$") == "a$c"
        assert fn("string.replace", "abc", "b", "$`$'") == "aacc"
        assert fn("string.replace", "abc", "b", "$1") == "a$1c"

    def test_search_is_a_plain_string_search(self) -> None:
        assert fn("string.search", "hello world", "o") == 4
        assert fn("string.search", "a.b", ".") == 1
        assert fn("string.search", "abc", "z") == -1

    def test_substring_clamps_and_swaps(self) -> None:
        assert fn("string.substring", "  Luke Birdeau  ", 2, 6) == "Luke"
        assert fn("string.substring", "abcdef", 4, 1) == "bcd"
        assert fn("string.substring", "abc", -5, 2) == "ab"
        assert fn("string.substring", "abc", NAN, 2) == "ab"
        assert fn("string.substring", "abc", 1) == "bc"

    def test_starts_and_ends_with(self) -> None:
        assert fn("string.startsWith", "Luke Birdeau", "Birdeau") is False
        assert fn("string.startsWith", "Luke", "uk", 1) is True
        assert fn("string.endsWith", "Luke Birdeau", "Birdeau") is True
        assert fn("string.endsWith", "abc", "b", 2) is True

    def test_repeat(self) -> None:
        assert fn("string.repeat", "Luke", 3) == "LukeLukeLuke"
        assert fn("string.repeat", "a", 0) == ""
        assert fn("string.repeat", "", 10**9) == ""

    @pytest.mark.parametrize("count", [-1, math.inf])
    def test_repeat_rejects_invalid_counts(self, count: float) -> None:
        with pytest.raises(PipeError, match="invalid count"):
            fn("string.repeat", "a", count)

    def test_repeat_respects_the_size_cap(self) -> None:
        with pytest.raises(PipeError, match="size cap"):
            fn("string.repeat", "ab", 10**6)

    def test_null_subject_raises(self) -> None:
        with pytest.raises(PipeError, match="expects a string"):
            fn("string.trim", None)


class TestObject:
    def test_get_reads_own_data_only(self) -> None:
        assert fn("object.get", {"a": 1}, "a") == 1
        assert fn("object.get", {"a": 1}, "b") is UNDEFINED
        assert fn("object.get", None, "a") is UNDEFINED
        assert fn("object.get", [1, 2], "length") == 2
        assert fn("object.get", {"constructor": 1}, "constructor") == 1
        assert fn("object.get", {}, "constructor") is UNDEFINED
        assert fn("object.get", {}, "__class__") is UNDEFINED
        assert fn("object.get", "abc", "__len__") is UNDEFINED

    def test_set(self) -> None:
        assert fn("object.set", {"a": 1}, "b", 2) == {"a": 1, "b": 2}
        assert fn("object.set", None, "a", 1) == {"a": 1}
        assert fn("object.set", 0, "a", 1) == {"a": 1}
        assert fn("object.set", [1], 2, "x") == [1, None, "x"]
        with pytest.raises(PipeError, match="cannot create property"):
            fn("object.set", "text", "a", 1)

    def test_create_from_pairs(self) -> None:
        assert fn("object.create", "a", 1, "b", 2) == {"a": 1, "b": 2}
        assert fn("object.create") == {}
        assert fn("object.create", 1, "x") == {"1": "x"}
        assert fn("object.create", "a") == {"a": UNDEFINED}

    def test_keys_values_entries(self) -> None:
        assert fn("object.keys", {"a": 1, "b": 2}) == ["a", "b"]
        assert fn("object.keys", [5, 6]) == ["0", "1"]
        assert fn("object.keys", "ab") == ["0", "1"]
        assert fn("object.keys", None) == []
        assert fn("object.keys", 5) == []
        assert fn("object.values", {"a": 1}) == [1]
        assert fn("object.values", None) == []
        assert fn("object.entries", {"a": 1, "b": [2]}) == [["a", 1], ["b", [2]]]
        assert fn("object.entries", ["x"]) == [["0", "x"]]

    def test_from_entries(self) -> None:
        assert fn("object.fromEntries", [["a", 1], ["b", 2]]) == {"a": 1, "b": 2}
        with pytest.raises(PipeError, match="not iterable"):
            fn("object.fromEntries", None)

    def test_assign(self) -> None:
        target = {"a": 1}
        assert fn("object.assign", target, {"b": 2}, None, {"a": 3}) == {"a": 3, "b": 2}
        assert target == {"a": 3, "b": 2}
        assert fn("object.assign", None, {"x": 1}) == {"x": 1}

    def test_property_names_and_descriptors(self) -> None:
        assert fn("object.getOwnPropertyNames", {"a": 1}) == ["a"]
        assert fn("object.getOwnPropertyNames", [1]) == ["0", "length"]
        assert fn("object.getOwnPropertySymbols", {"a": 1}) == []
        assert fn("object.getOwnPropertyDescriptor", {"a": 1}, "a") == {
            "value": 1, "writable": True, "enumerable": True, "configurable": True}
        assert fn("object.getOwnPropertyDescriptor", {"a": 1}, "b") is UNDEFINED

    def test_define_property(self) -> None:
        assert fn("object.defineProperty", {}, "a", {"value": 1}) == {"a": 1}
        assert fn("object.defineProperties", {}, {"a": {"value": 1}, "b": {"value": 2}}) == {"a": 1, "b": 2}
        with pytest.raises(PipeError, match="non-object"):
            fn("object.defineProperty", 5, "a", {"value": 1})

    def test_integrity_functions(self) -> None:
        target: dict[str, Any] = {"a": 1}
        assert fn("object.freeze", target) is target
        assert fn("object.seal", target) is target
        assert fn("object.preventExtensions", target) is target
        assert fn("object.isFrozen", target) is False
        assert fn("object.isSealed", target) is False
        assert fn("object.isFrozen", 5) is True
        assert fn("object.isSealed", "x") is True
        assert fn("object.isExtensible", target) is True
        assert fn("object.isExtensible", "x") is False

    def test_own_property_checks(self) -> None:
        assert fn("object.hasOwnProperty", {"a": 1}, "a") is True
        assert fn("object.hasOwnProperty", {"a": 1}, "toString") is False
        assert fn("object.hasOwnProperty", [1], 0) is True
        with pytest.raises(PipeError, match="cannot convert"):
            fn("object.hasOwnProperty", None, "a")
        assert fn("object.isPrototypeOf", {}, {}) is False
        assert fn("object.propertyIsEnumerable", {"a": 1}, "a") is True
        assert fn("object.propertyIsEnumerable", [1], "length") is False


class TestJson:
    def test_stringify_compact(self) -> None:
        value = {"a": 1, "b": [1, "x", None, True], "c": UNDEFINED}
        assert fn("json.stringify", value) == '{"a":1,"b":[1,"x",null,true]}'

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (1.0, "1"),
            (NAN, "null"),
            ([UNDEFINED, math.inf], "[null,null]"),
            ('é"', '"é\\""'),
            (1e21, "1e+21"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1.5e-7, "1.5e-7"),
            (datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC), '"2024-01-02T03:04:05.678Z"'),
        ],
    )
    def test_stringify_prints_like_javascript(self, value: Any, expected: str) -> None:
        assert fn("json.stringify", value) == expected

    def test_stringify_undefined_is_undefined(self) -> None:
        assert fn("json.stringify", UNDEFINED) is UNDEFINED

    def test_stringify_with_space(self) -> None:
        assert fn("json.stringify", {"a": [1, 2], "b": {}}, None, 2) == (
            '{\n  "a": [\n    1,\n    2\n  ],\n  "b": {}\n}'
        )
        assert fn("json.stringify", {"a": 1}, None, "--") == '{\n--"a": 1\n}'

    def test_stringify_with_key_list_replacer(self) -> None:
        assert fn("json.stringify", {"a": 1, "b": 2, "c": 3}, ["c", "a"]) == '{"c":3,"a":1}'

    def test_stringify_refuses_circular_structures(self) -> None:
        circular: list[Any] = []
        circular.append(circular)
        with pytest.raises(PipeError, match="circular"):
            fn("json.stringify", circular)

    def test_parse(self) -> None:
        assert fn("json.parse", '{"a":[1,2.5,"x",null,true]}') == {"a": [1, 2.5, "x", None, True]}
        assert fn("json.parse", '["ke","bab","case"]') == ["ke", "bab", "case"]

    def test_parse_gives_javascript_numbers(self) -> None:
        one = fn("json.parse", "1.0")
        assert one == 1 and isinstance(one, int)
        assert fn("json.parse", "1e2") == 100

    @pytest.mark.parametrize("text", ["NaN", "{bad", "", UNDEFINED, "[1,]"])
    def test_parse_errors(self, text: Any) -> None:
        with pytest.raises(PipeError, match="@json.parse"):
            fn("json.parse", text)
