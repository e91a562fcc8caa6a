"""``@math``: the 39 functions of JavaScript's ``Math`` plus add/subtract/multiply/divide.

Arguments are converted with ToNumber (``true`` is 1, ``'5'`` is 5, ``null`` is 0, ``undefined`` NaN);
results follow IEEE doubles (domain errors give NaN, overflow gives Infinity) and integral results
come back as ``int``. ``add``, ``subtract``, ``multiply`` and ``divide`` flatten array arguments
(a fix over the reference, where add and multiply threw), and ``divide`` by zero is NaN.
"""

from __future__ import annotations

import math
import random as _random
import struct
from collections.abc import Callable, Iterator
from typing import Any

from ...errors import PipeError
from ..js import NAN, UNDEFINED, js_num, to_int32, to_number, to_uint32


def _flatten(operands: tuple[Any, ...] | list[Any], depth: int = 0) -> Iterator[int | float]:
    if depth > 64:
        raise PipeError("array operands are nested too deeply")
    for operand in operands:
        if isinstance(operand, list):
            yield from _flatten(operand, depth + 1)
        else:
            yield to_number(operand)


def _operands(operands: tuple[Any, ...], name: str) -> list[int | float]:
    values = list(_flatten(operands))
    if not values:
        raise PipeError(f"@math.{name} needs at least one operand")
    return values


def add(*operands: Any) -> int | float:
    """The sum of the operands (arrays flattened); 0 with no operands."""
    total: int | float = 0
    for value in _flatten(operands):
        total = js_num(total + value)
    return total


def subtract(*operands: Any) -> int | float:
    """The first operand minus each following one (arrays flattened)."""
    values = _operands(operands, "subtract")
    result = values[0]
    for value in values[1:]:
        result = js_num(result - value)
    return js_num(result)


def multiply(*operands: Any) -> int | float:
    """The product of the operands (arrays flattened)."""
    result: int | float = 1
    for value in _operands(operands, "multiply"):
        result = js_num(result * value)
    return result


def divide(*operands: Any) -> int | float:
    """The first operand divided by each following one (arrays flattened); dividing by zero gives NaN."""
    values = _operands(operands, "divide")
    result: int | float = values[0]
    for value in values[1:]:
        if value == 0:
            return NAN
        result = js_num(result / value)
    return js_num(result)


def _real(function: Callable[[float], float], value: Any, on_error: float = NAN) -> int | float:
    number = float(to_number(value))
    if math.isnan(number):
        return NAN
    try:
        return js_num(function(number))
    except ValueError:
        return on_error
    except OverflowError:
        return math.inf


def _log(function: Callable[[float], float], value: Any, pole: float = 0.0) -> int | float:
    number = float(to_number(value))
    if number == pole:
        return -math.inf
    if number < pole or math.isnan(number):
        return NAN
    return js_num(function(number)) if math.isfinite(number) else math.inf


def abs_(value: Any) -> int | float:
    """Absolute value."""
    return js_num(abs(to_number(value)))


def acos(value: Any) -> int | float:
    """Arc cosine (NaN outside -1..1)."""
    return _real(math.acos, value)


def acosh(value: Any) -> int | float:
    """Inverse hyperbolic cosine (NaN below 1)."""
    return _real(math.acosh, value)


def asin(value: Any) -> int | float:
    """Arc sine."""
    return _real(math.asin, value)


def asinh(value: Any) -> int | float:
    """Inverse hyperbolic sine."""
    return _real(math.asinh, value)


def atan(value: Any) -> int | float:
    """Arc tangent."""
    return _real(math.atan, value)


def atan2(y: Any, x: Any = UNDEFINED) -> int | float:
    """The angle of the point (x, y)."""
    return js_num(math.atan2(float(to_number(y)), float(to_number(x))))


def atanh(value: Any) -> int | float:
    """Inverse hyperbolic tangent (+-Infinity at +-1)."""
    number = float(to_number(value))
    if abs(number) == 1:
        return math.copysign(math.inf, number)
    return _real(math.atanh, number)


def cbrt(value: Any) -> int | float:
    """Cube root (negative numbers too)."""
    number = float(to_number(value))
    if not math.isfinite(number) or number == 0:
        return js_num(number)
    root = math.copysign(abs(number) ** (1 / 3), number)
    nearest = round(root)
    return js_num(nearest if nearest**3 == number else root)


def ceil(value: Any) -> int | float:
    """Round up."""
    number = to_number(value)
    return js_num(math.ceil(number)) if math.isfinite(number) else number


def clz32(value: Any) -> int:
    """Leading zero bits of the 32-bit unsigned integer."""
    return 32 - to_uint32(value).bit_length()


def cos(value: Any) -> int | float:
    """Cosine."""
    return _real(math.cos, value)


def cosh(value: Any) -> int | float:
    """Hyperbolic cosine."""
    return _real(math.cosh, value)


def exp(value: Any) -> int | float:
    """e to the power of the value."""
    number = float(to_number(value))
    return 0 if number == -math.inf else _real(math.exp, number)


def expm1(value: Any) -> int | float:
    """``exp(x) - 1``, accurate near zero."""
    number = float(to_number(value))
    return -1 if number == -math.inf else _real(math.expm1, number)


def floor(value: Any) -> int | float:
    """Round down."""
    number = to_number(value)
    return js_num(math.floor(number)) if math.isfinite(number) else number


def fround(value: Any) -> int | float:
    """The nearest 32-bit float."""
    number = float(to_number(value))
    if not math.isfinite(number):
        return number
    try:
        return js_num(struct.unpack("f", struct.pack("f", number))[0])
    except OverflowError:
        return math.copysign(math.inf, number)


def hypot(*values: Any) -> int | float:
    """The square root of the sum of squares (Infinity wins over NaN)."""
    numbers = [float(to_number(value)) for value in values]
    if any(math.isinf(number) for number in numbers):
        return math.inf
    return js_num(math.hypot(*numbers))


def imul(left: Any, right: Any = UNDEFINED) -> int:
    """32-bit integer multiplication."""
    return to_int32(to_int32(left) * to_int32(right))


def log(value: Any) -> int | float:
    """Natural logarithm (-Infinity at 0, NaN below)."""
    return _log(math.log, value)


def log10(value: Any) -> int | float:
    """Base-10 logarithm."""
    return _log(math.log10, value)


def log1p(value: Any) -> int | float:
    """``log(1 + x)``, accurate near zero."""
    return _log(math.log1p, value, pole=-1.0)


def log2(value: Any) -> int | float:
    """Base-2 logarithm."""
    return _log(math.log2, value)


def max_(*values: Any) -> int | float:
    """The largest value (-Infinity with none; NaN if any is NaN)."""
    numbers = [to_number(value) for value in values]
    if any(math.isnan(number) for number in numbers):
        return NAN
    return js_num(max(numbers)) if numbers else -math.inf


def min_(*values: Any) -> int | float:
    """The smallest value (Infinity with none; NaN if any is NaN)."""
    numbers = [to_number(value) for value in values]
    if any(math.isnan(number) for number in numbers):
        return NAN
    return js_num(min(numbers)) if numbers else math.inf


def pow_(base: Any, exponent: Any = UNDEFINED) -> int | float:
    """``base ** exponent`` with JavaScript's special cases (``1 ** NaN`` is NaN, ``0 ** -1`` Infinity)."""
    x, y = float(to_number(base)), float(to_number(exponent))
    if math.isnan(y):
        return NAN
    if y == 0:
        return 1
    if math.isnan(x) or (abs(x) == 1 and math.isinf(y)):
        return NAN
    odd_integer = y.is_integer() and abs(y) < 2**53 and int(y) % 2 == 1
    try:
        return js_num(math.pow(x, y))
    except ZeroDivisionError:
        return -math.inf if odd_integer and math.copysign(1, x) < 0 else math.inf
    except ValueError:
        if x == 0:
            return -math.inf if odd_integer and math.copysign(1, x) < 0 else math.inf
        return NAN
    except OverflowError:
        return -math.inf if x < 0 and odd_integer else math.inf


def random() -> float:
    """A pseudo-random float in [0, 1)."""
    return _random.random()


def round_(value: Any) -> int | float:
    """JavaScript rounding: halves go toward +Infinity (``round(2.5) == 3``, ``round(-2.5) == -2``)."""
    number = to_number(value)
    if not math.isfinite(number) or isinstance(number, int):
        return number
    whole = math.floor(number)
    return js_num(whole + 1 if number - whole >= 0.5 else whole)


def sign(value: Any) -> int | float:
    """-1, 0 or 1 (NaN for NaN)."""
    number = to_number(value)
    if math.isnan(number):
        return NAN
    return (number > 0) - (number < 0)


def sin(value: Any) -> int | float:
    """Sine."""
    return _real(math.sin, value)


def sinh(value: Any) -> int | float:
    """Hyperbolic sine."""
    number = float(to_number(value))
    result = _real(math.sinh, number)
    return math.copysign(math.inf, number) if math.isinf(result) else result


def sqrt(value: Any) -> int | float:
    """Square root (NaN below 0)."""
    return _real(math.sqrt, value)


def tan(value: Any) -> int | float:
    """Tangent."""
    return _real(math.tan, value)


def tanh(value: Any) -> int | float:
    """Hyperbolic tangent."""
    return _real(math.tanh, value)


def trunc(value: Any) -> int | float:
    """Drop the fraction."""
    number = to_number(value)
    return js_num(math.trunc(number)) if math.isfinite(number) else number


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "add": add,
    "subtract": subtract,
    "multiply": multiply,
    "divide": divide,
    "abs": abs_,
    "acos": acos,
    "acosh": acosh,
    "asin": asin,
    "asinh": asinh,
    "atan": atan,
    "atan2": atan2,
    "atanh": atanh,
    "cbrt": cbrt,
    "ceil": ceil,
    "clz32": clz32,
    "cos": cos,
    "cosh": cosh,
    "exp": exp,
    "expm1": expm1,
    "floor": floor,
    "fround": fround,
    "hypot": hypot,
    "imul": imul,
    "log": log,
    "log10": log10,
    "log1p": log1p,
    "log2": log2,
    "max": max_,
    "min": min_,
    "pow": pow_,
    "random": random,
    "round": round_,
    "sign": sign,
    "sin": sin,
    "sinh": sinh,
    "sqrt": sqrt,
    "tan": tan,
    "tanh": tanh,
    "trunc": trunc,
}
