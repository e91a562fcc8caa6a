"""``@number``: Number statics and Number.prototype formatting, plus comparisons.

``isFinite``, ``isInteger`` and ``isNaN`` are the non-coercing ``Number.*`` versions (``isNaN('x')`` is
false). The formatters use exact decimal arithmetic on the double, so ``toFixed`` rounds as
JavaScript does (``(1.005).toFixed(2) == '1.00'``, ``(2.5).toFixed(0) == '3'``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from typing import Any

from ...errors import PipeError
from ..js import (
    JS_WHITESPACE,
    NAN,
    UNDEFINED,
    greater_or_equal,
    greater_than,
    is_number,
    js_num,
    lower_or_equal,
    lower_than,
    number_to_string,
    shortest_digits,
    to_int32,
    to_integer_or_infinity,
    to_number,
    to_string,
)
from . import math as math_functions

_FLOAT_PREFIX = re.compile(r"[+-]?(?:Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)")
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_DECIMAL_CONTEXT = Context(prec=400, rounding=ROUND_HALF_UP)


def is_finite(value: Any) -> bool:
    """``Number.isFinite``: a finite number (no coercion)."""
    return is_number(value) and math.isfinite(value)


def is_even(value: Any) -> bool:
    """Not NaN and ``value % 2 === 0`` (coercing, as the reference's ``isNaN`` does)."""
    number = to_number(value)
    return math.isfinite(number) and math.fmod(number, 2) == 0


def is_odd(value: Any) -> bool:
    """Not NaN and ``value % 2 !== 0`` (so, as in the reference, Infinity counts as odd)."""
    number = to_number(value)
    if math.isnan(number):
        return False
    return math.isinf(number) or math.fmod(number, 2) != 0


def is_integer(value: Any) -> bool:
    """``Number.isInteger``: a finite integral number (no coercion)."""
    return is_number(value) and math.isfinite(value) and float(value).is_integer()


def is_nan(value: Any) -> bool:
    """``Number.isNaN``: only NaN itself (no coercion)."""
    return is_number(value) and math.isnan(value)


def parse_float(value: Any) -> int | float:
    """``parseFloat``: the longest decimal prefix after leading whitespace, else NaN."""
    match = _FLOAT_PREFIX.match(to_string(value).lstrip(JS_WHITESPACE))
    if not match:
        return NAN
    text = match.group()
    if text.lstrip("+-") == "Infinity":
        return -math.inf if text.startswith("-") else math.inf
    return js_num(float(text))


def parse_int(value: Any, radix: Any = UNDEFINED) -> int | float:
    """``parseInt``: leading digits in ``radix`` (2-36; 0x means 16 when radix is 0 or absent), else NaN."""
    text = to_string(value).lstrip(JS_WHITESPACE)
    negative = text.startswith("-")
    if text[:1] in ("+", "-"):
        text = text[1:]
    base = to_int32(radix)
    strip_prefix = base in (0, 16)
    if base == 0:
        base = 10
    elif not 2 <= base <= 36:
        return NAN
    if strip_prefix and text[:2].lower() == "0x":
        text, base = text[2:], 16
    valid = _DIGITS[:base]
    end = 0
    while end < len(text) and text[end].lower() in valid:
        end += 1
    if end == 0:
        return NAN
    if end > 1100:  # more digits than a double can hold in any base: JavaScript gives Infinity
        return -math.inf if negative else math.inf
    number = int(text[:end], base)
    return js_num(-number if negative else number)


def _digits_argument(value: Any, low: int, high: int, name: str) -> int:
    digits = to_integer_or_infinity(value)
    if not low <= digits <= high:
        raise PipeError(f"@number.{name}: digits argument must be between {low} and {high}")
    return int(digits)


def to_fixed(value: Any, digits: Any = 0) -> str:
    """``Number.prototype.toFixed``: fixed-point with ``digits`` decimals (0-100), halves rounded up."""
    places = _digits_argument(digits, 0, 100, "toFixed")
    number = to_number(value)
    if not math.isfinite(number) or abs(number) >= 1e21:
        return number_to_string(number)
    with localcontext(_DECIMAL_CONTEXT):
        rounded = abs(Decimal(number)).quantize(Decimal(1).scaleb(-places))
    sign = "-" if number < 0 else ""
    return sign + f"{rounded:f}"


def _significant(number: int | float, count: int) -> tuple[str, int]:
    """``count`` significant digits of ``abs(number)`` (halves rounded up) and the decimal exponent."""
    with localcontext(_DECIMAL_CONTEXT):
        exact = abs(Decimal(number))
        exponent = exact.adjusted()
        scaled = exact.scaleb(-exponent).quantize(Decimal(1).scaleb(1 - count))
        if scaled >= 10:
            exponent += 1
            scaled = exact.scaleb(-exponent).quantize(Decimal(1).scaleb(1 - count))
    return f"{scaled:f}".replace(".", ""), exponent


def _exponential(digits: str, exponent: int) -> str:
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{mantissa}e{'+' if exponent >= 0 else '-'}{abs(exponent)}"


def to_exponential(value: Any, fraction_digits: Any = UNDEFINED) -> str:
    """``Number.prototype.toExponential``: ``d.ddde+N`` (shortest digits when none are asked for)."""
    number = to_number(value)
    places = None if fraction_digits is UNDEFINED else _digits_argument(fraction_digits, 0, 100, "toExponential")
    if not math.isfinite(number):
        return number_to_string(number)
    sign = "-" if number < 0 else ""
    if number == 0:
        return sign + _exponential("0" * ((places or 0) + 1), 0)
    if places is None:
        digits, point = shortest_digits(abs(float(number)))
        return sign + _exponential(digits, point - 1)
    digits, exponent = _significant(number, places + 1)
    return sign + _exponential(digits, exponent)


def to_precision(value: Any, precision: Any = UNDEFINED) -> str:
    """``Number.prototype.toPrecision``: ``precision`` significant digits (1-100), exponential when needed."""
    number = to_number(value)
    if precision is UNDEFINED:
        return number_to_string(number)
    count = _digits_argument(precision, 1, 100, "toPrecision")
    if not math.isfinite(number):
        return number_to_string(number)
    sign = "-" if number < 0 else ""
    if number == 0:
        return sign + "0" + ("." + "0" * (count - 1) if count > 1 else "")
    digits, exponent = _significant(number, count)
    if exponent < -6 or exponent >= count:
        return sign + _exponential(digits, exponent)
    if exponent == count - 1:
        return sign + digits
    if exponent >= 0:
        return sign + digits[: exponent + 1] + "." + digits[exponent + 1 :]
    return sign + "0." + "0" * (-exponent - 1) + digits


def gte(value: Any, other: Any = UNDEFINED) -> bool:
    """``value >= other``."""
    return greater_or_equal(value, other)


def lte(value: Any, other: Any = UNDEFINED) -> bool:
    """``value <= other``."""
    return lower_or_equal(value, other)


def gt(value: Any, other: Any = UNDEFINED) -> bool:
    """``value > other``."""
    return greater_than(value, other)


def lt(value: Any, other: Any = UNDEFINED) -> bool:
    """``value < other``."""
    return lower_than(value, other)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "isFinite": is_finite,
    "isEven": is_even,
    "isOdd": is_odd,
    "isInteger": is_integer,
    "isNaN": is_nan,
    "parseFloat": parse_float,
    "parseInt": parse_int,
    "toFixed": to_fixed,
    "toExponential": to_exponential,
    "toPrecision": to_precision,
    "gte": gte,
    "lte": lte,
    "gt": gt,
    "lt": lt,
    "max": math_functions.max_,
    "min": math_functions.min_,
    "pow": math_functions.pow_,
    "round": math_functions.round_,
    "add": math_functions.add,
    "subtract": math_functions.subtract,
    "multiply": math_functions.multiply,
    "divide": math_functions.divide,
}
