"""@pipe numbers: @math, @number and the JavaScript coercions they rest on. Expected values are what
the JavaScript built-ins return (checked against Node where the rule is subtle)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from hotmesh_core.errors import PipeError
from hotmesh_core.pipe import UNDEFINED
from hotmesh_core.pipe.functions import call
from hotmesh_core.pipe.js import js_num, number_to_string, to_int32, to_number, to_string

NAN = float("nan")


def fn(reference: str, *arguments: Any) -> Any:
    return call(reference, arguments)


def is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


class TestCoercions:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [("", 0), ("  12  ", 12), ("1e3", 1000), ("0x10", 16), ("0b101", 5), ("0o17", 15), (".5", 0.5),
         ("5.", 5), (True, 1), (False, 0), (None, 0), ([], 0), (["3"], 3), ("Infinity", math.inf)],
    )
    def test_to_number(self, value: Any, expected: float) -> None:
        assert to_number(value) == expected

    @pytest.mark.parametrize("value", [UNDEFINED, "abc", "1_000", "-0x10", "0x", "1e", {}, [1, 2], "١"])
    def test_to_number_nan(self, value: Any) -> None:
        assert is_nan(to_number(value))

    @pytest.mark.parametrize(
        ("value", "expected"),
        [(1.0, "1"), (0.1, "0.1"), (1e21, "1e+21"), (1e20, "100000000000000000000"), (1.5e-7, "1.5e-7"),
         (0.000001, "0.000001"), (-2.5, "-2.5"), (NAN, "NaN"), (math.inf, "Infinity"), (-0.0, "0"),
         (123456789.125, "123456789.125"), (2**53 + 2, "9007199254740994")],
    )
    def test_number_to_string(self, value: float, expected: str) -> None:
        assert number_to_string(value) == expected

    def test_to_string(self) -> None:
        assert to_string(None) == "null"
        assert to_string(UNDEFINED) == "undefined"
        assert to_string(True) == "true"
        assert to_string([1, [2, None]]) == "1,2,"
        assert to_string({"a": 1}) == "[object Object]"

    def test_to_int32(self) -> None:
        assert to_int32(2**31) == -(2**31)
        assert to_int32(-1.9) == -1
        assert to_int32(NAN) == 0
        assert to_int32(math.inf) == 0

    def test_js_num_keeps_integral_results_as_int(self) -> None:
        assert js_num(3.0) == 3 and isinstance(js_num(3.0), int)
        assert isinstance(js_num(0.5), float)
        assert isinstance(js_num(1e21), float)
        assert js_num(2**60) == float(2**60)
        assert js_num(True) == 1 and not isinstance(js_num(True), bool)


class TestMathArithmetic:
    def test_add(self) -> None:
        result = fn("math.add", 1, 2)
        assert result == 3 and isinstance(result, int)
        assert fn("math.add", 1, [2, 3], [[4]]) == 10
        assert fn("math.add") == 0
        assert fn("math.add", 0.1, 0.2) == 0.30000000000000004
        assert fn("math.add", True, 1) == 2
        assert fn("math.add", None, 1) == 1
        assert fn("math.add", "5", 1) == 6
        assert is_nan(fn("math.add", UNDEFINED, 1))

    def test_subtract(self) -> None:
        assert fn("math.subtract", 10, [1, 2], 3) == 4
        assert fn("math.subtract", 5) == 5
        assert fn("math.subtract", 0.3, 0.1) == 0.19999999999999998
        with pytest.raises(PipeError, match="at least one operand"):
            fn("math.subtract")

    def test_multiply(self) -> None:
        assert fn("math.multiply", 2, [3, 4]) == 24
        result = fn("math.multiply", 0.5, 4)
        assert result == 2 and isinstance(result, int)
        with pytest.raises(PipeError, match="at least one operand"):
            fn("math.multiply", [])

    def test_divide(self) -> None:
        result = fn("math.divide", 6, 3)
        assert result == 2 and isinstance(result, int)
        assert fn("math.divide", 1, 2) == 0.5
        assert fn("math.divide", [12, 2], 3) == 2
        assert fn("math.divide", 0, 5) == 0
        assert is_nan(fn("math.divide", 1, 0))
        assert is_nan(fn("math.divide", 1, [2, 0], 4))

    def test_huge_products_become_doubles(self) -> None:
        assert fn("math.multiply", 2**40, 2**40) == float(2**80)


class TestMathFunctions:
    @pytest.mark.parametrize(
        ("name", "argument", "expected"),
        [
            ("abs", -42, 42), ("acos", 0.5, 1.0471975511965979), ("acosh", 2, 1.3169578969248166),
            ("asin", 1, math.pi / 2), ("asinh", 1, 0.881373587019543), ("atan", 1, math.pi / 4),
            ("atanh", 0.5, 0.5493061443340548), ("atanh", 1, math.inf), ("cbrt", 27, 3), ("cbrt", -8, -2),
            ("ceil", 1.2, 2), ("ceil", -1.5, -1), ("clz32", 1, 31), ("clz32", 0, 32), ("clz32", -1, 0),
            ("cos", 0, 1), ("cosh", 0, 1), ("exp", 0, 1), ("exp", 1000, math.inf), ("expm1", 0, 0),
            ("floor", -1.5, -2), ("floor", "7.9", 7), ("fround", 5.5, 5.5), ("fround", 5.05, 5.050000190734863),
            ("log", 1, 0), ("log", 0, -math.inf), ("log10", 1000, 3), ("log1p", 0, 0), ("log1p", -1, -math.inf),
            ("log2", 8, 3), ("sign", -3, -1), ("sign", 0, 0), ("sign", "5", 1), ("sin", 0, 0), ("sinh", 0, 0),
            ("sinh", -1000, -math.inf), ("cosh", -1000, math.inf), ("sqrt", 16, 4), ("tan", 0, 0),
            ("tanh", 1, 0.7615941559557649), ("trunc", -4.7, -4), ("trunc", 4.7, 4),
        ],
    )
    def test_unary_functions(self, name: str, argument: Any, expected: float) -> None:
        assert fn(f"math.{name}", argument) == pytest.approx(expected)

    @pytest.mark.parametrize(
        ("name", "argument"),
        [("acos", 2), ("acosh", 0.5), ("asin", -2), ("log", -1), ("log10", -1), ("log2", -1), ("sqrt", -1),
         ("sin", math.inf), ("sign", NAN), ("abs", "x"), ("floor", UNDEFINED), ("log1p", -2)],
    )
    def test_domain_errors_are_nan(self, name: str, argument: Any) -> None:
        assert is_nan(fn(f"math.{name}", argument))

    def test_integral_results_are_ints(self) -> None:
        for name, argument in [("sqrt", 16), ("floor", 2.5), ("abs", -3.0), ("cbrt", 8)]:
            assert isinstance(fn(f"math.{name}", argument), int), name

    def test_binary_and_variadic(self) -> None:
        assert fn("math.atan2", 1, 1) == pytest.approx(math.pi / 4)
        assert fn("math.hypot", 3, 4) == 5
        assert fn("math.hypot") == 0
        assert fn("math.hypot", NAN, math.inf) == math.inf
        assert fn("math.imul", 3, 4) == 12
        assert fn("math.imul", 0xFFFFFFFF, 5) == -5
        assert fn("math.max", 1, 3, 2) == 3
        assert fn("math.max", "7", 2) == 7
        assert fn("math.max") == -math.inf
        assert is_nan(fn("math.max", 1, NAN))
        assert fn("math.min", 1, 3) == 1
        assert fn("math.min") == math.inf

    @pytest.mark.parametrize(
        ("base", "exponent", "expected"),
        [(2, 10, 1024), (2, -1, 0.5), (0, -1, math.inf), (-2, 3, -8), (NAN, 0, 1), (4, 0.5, 2),
         (10, 400, math.inf), (-10, 401, -math.inf)],
    )
    def test_pow(self, base: float, exponent: float, expected: float) -> None:
        assert fn("math.pow", base, exponent) == expected

    @pytest.mark.parametrize(("base", "exponent"), [(1, NAN), (-8, 1 / 3), (1, math.inf)])
    def test_pow_nan(self, base: float, exponent: float) -> None:
        assert is_nan(fn("math.pow", base, exponent))

    @pytest.mark.parametrize(
        ("value", "expected"),
        [(2.5, 3), (-2.5, -2), (-2.6, -3), (1.4, 1), (0.49999999999999994, 0), ("2.5", 3), (-0.5, 0), (7, 7)],
    )
    def test_round_halves_go_up(self, value: Any, expected: int) -> None:
        assert fn("math.round", value) == expected
        assert fn("number.round", value) == expected

    def test_random(self) -> None:
        values = {fn("math.random") for _ in range(20)}
        assert all(0 <= value < 1 for value in values)
        assert len(values) > 1


class TestNumberPredicates:
    def test_is_finite_does_not_coerce(self) -> None:
        assert fn("number.isFinite", 1) is True
        assert fn("number.isFinite", "1") is False
        assert fn("number.isFinite", math.inf) is False
        assert fn("number.isFinite", True) is False

    def test_is_even_and_odd(self) -> None:
        assert fn("number.isEven", 42) is True
        assert fn("number.isEven", 55) is False
        assert fn("number.isEven", "4") is True
        assert fn("number.isEven", -4) is True
        assert fn("number.isEven", UNDEFINED) is False
        assert fn("number.isEven", math.inf) is False
        assert fn("number.isOdd", 55) is True
        assert fn("number.isOdd", 42) is False
        assert fn("number.isOdd", None) is False
        assert fn("number.isOdd", UNDEFINED) is False
        assert fn("number.isOdd", math.inf) is True  # NaN !== 0, as in the reference

    def test_is_integer_and_nan(self) -> None:
        assert fn("number.isInteger", 5) is True
        assert fn("number.isInteger", 5.0) is True
        assert fn("number.isInteger", 5.5) is False
        assert fn("number.isInteger", "5") is False
        assert fn("number.isNaN", NAN) is True
        assert fn("number.isNaN", "abc") is False
        assert fn("number.isNaN", UNDEFINED) is False

    def test_comparisons(self) -> None:
        assert fn("number.gte", 30, 40) is False
        assert fn("number.gte", 40, 40) is True
        assert fn("number.lte", 1, 2) is True
        assert fn("number.gt", "b", "a") is True
        assert fn("number.lt", 1, "2") is True
        assert fn("number.lt", NAN, 1) is False

    def test_shared_math(self) -> None:
        assert fn("number.max", 1, 9) == 9
        assert fn("number.min", 1, 9) == 1
        assert fn("number.pow", 3, 2) == 9


class TestNumberParsing:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [("3.14abc", 3.14), ("  -.5e1x", -5), ("Infinityx", math.inf), ("1e", 1), (" 42 ", 42), ("-0", 0)],
    )
    def test_parse_float(self, text: str, expected: float) -> None:
        assert fn("number.parseFloat", text) == expected

    def test_parse_float_nan(self) -> None:
        assert is_nan(fn("number.parseFloat", "abc"))
        assert is_nan(fn("number.parseFloat", UNDEFINED))

    @pytest.mark.parametrize(
        ("arguments", "expected"),
        [
            (("42px",), 42), (("  -0x1F",), -31), (("ff", 16), 255), (("0x10", 16), 16), (("0x10", 10), 0),
            (("101", 2), 5), ((15.99,), 15), (("1e3",), 1), (("08",), 8), (("null", 36), 1112745),
            (("9007199254740993",), 9007199254740992), (("Z", 36), 35), (("12", 0), 12),
        ],
    )
    def test_parse_int(self, arguments: tuple[Any, ...], expected: int) -> None:
        assert fn("number.parseInt", *arguments) == expected

    @pytest.mark.parametrize("arguments", [("abc",), ("",), ("12", 1), ("z", 37), (None,), ("-",), ("0x",)])
    def test_parse_int_nan(self, arguments: tuple[Any, ...]) -> None:
        assert is_nan(fn("number.parseInt", *arguments))

    def test_parse_int_of_a_huge_number_is_infinity(self) -> None:
        assert fn("number.parseInt", "9" * 2000) == math.inf


class TestNumberFormatting:
    @pytest.mark.parametrize(
        ("value", "digits", "expected"),
        [(1.005, 2, "1.00"), (2.5, 0, "3"), (-2.5, 0, "-3"), (1.45, 1, "1.4"), (1.55, 1, "1.6"),
         (123.456, 2, "123.46"), (0, 2, "0.00"), (-0.0001, 2, "-0.00"), (1e21, 2, "1e+21"), (NAN, 2, "NaN"),
         ("3.14159", 2, "3.14"), (10, UNDEFINED, "10"), (0.000001, 7, "0.0000010")],
    )
    def test_to_fixed(self, value: Any, digits: Any, expected: str) -> None:
        assert fn("number.toFixed", value, digits) == expected

    def test_to_fixed_range(self) -> None:
        with pytest.raises(PipeError, match="between 0 and 100"):
            fn("number.toFixed", 5, 101)

    @pytest.mark.parametrize(
        ("value", "digits", "expected"),
        [(123456, 2, "1.23e+5"), (0.00015, UNDEFINED, "1.5e-4"), (0, 2, "0.00e+0"), (-1.5, UNDEFINED, "-1.5e+0"),
         (9.99, 1, "1.0e+1"), (1.25, 1, "1.3e+0"), (math.inf, 2, "Infinity")],
    )
    def test_to_exponential(self, value: Any, digits: Any, expected: str) -> None:
        assert fn("number.toExponential", value, digits) == expected

    @pytest.mark.parametrize(
        ("value", "precision", "expected"),
        [(123.456, 4, "123.5"), (0.000123, 2, "0.00012"), (123456, 2, "1.2e+5"), (1e-7, 1, "1e-7"),
         (1.5, UNDEFINED, "1.5"), (0, 3, "0.00"), (99.99, 3, "100"), (99.99, 2, "1.0e+2"), (5, 1, "5")],
    )
    def test_to_precision(self, value: Any, precision: Any, expected: str) -> None:
        assert fn("number.toPrecision", value, precision) == expected

    def test_to_precision_range(self) -> None:
        with pytest.raises(PipeError, match="between 1 and 100"):
            fn("number.toPrecision", 5, 0)
