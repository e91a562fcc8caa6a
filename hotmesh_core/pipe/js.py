"""JavaScript value semantics for mapping functions: ``undefined``, coercions, equality, comparison.

The reference engine evaluates ``@pipe`` functions with JavaScript built-ins, so the Python functions
reproduce the abstract operations they rely on (ECMAScript ``ToNumber``, ``ToString``, ``IsLooselyEqual``,
``IsStrictlyEqual``, ``IsLessThan``, ``ToInt32``). Values are JSON values plus ``UNDEFINED`` and dates
(``datetime``); a JavaScript number is a Python ``int`` when integral (as JavaScript would print it) and a
``float`` otherwise (NaN and the infinities included).
"""

from __future__ import annotations

import enum
import math
import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from ..errors import PipeError
from . import jsdate, limits


class Undefined(enum.Enum):
    """The type of :data:`UNDEFINED` (JavaScript ``undefined``): a falsy singleton."""

    UNDEFINED = "UNDEFINED"

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "UNDEFINED"

    __str__ = __repr__


UNDEFINED = Undefined.UNDEFINED
"""JavaScript ``undefined``: a missing path, or a function's "no value". Mapped keys holding it are dropped."""

NAN = float("nan")
MAX_SAFE_INTEGER = 2**53

# WhiteSpace and LineTerminator code points (ECMAScript 12.2, 12.3): what trim() and ToNumber strip.
JS_WHITESPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)

_DECIMAL = re.compile(r"[+-]?(?:Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)")
_RADIX_LITERAL = re.compile(r"0(?:[xX](?P<hex>[0-9a-fA-F]+)|[oO](?P<oct>[0-7]+)|[bB](?P<bin>[01]+))")
_INDEX = re.compile(r"0|[1-9][0-9]*")


def js_type(value: Any) -> str:
    """The JavaScript ``typeof`` family of a value (``null`` separated from ``object``)."""
    if value is UNDEFINED:
        return "undefined"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object"


def is_number(value: Any) -> bool:
    """True for a JavaScript number (an ``int`` or ``float`` that is not a ``bool``)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def js_num(value: float | int) -> int | float:
    """Normalize a numeric result: integral and below 1e21 becomes ``int``; past 2**53 precision is a double's."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return value
        try:
            value = float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    if math.isfinite(value) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    return value


def string_to_number(text: str) -> int | float:
    """ECMAScript StringToNumber: whitespace-trimmed decimal, hex/octal/binary literal, or NaN."""
    text = text.strip(JS_WHITESPACE)
    if not text:
        return 0
    literal = _RADIX_LITERAL.fullmatch(text)
    if literal:
        radix = {"hex": 16, "oct": 8, "bin": 2}[str(literal.lastgroup)]
        return js_num(int(literal[str(literal.lastgroup)], radix))
    if text[:2].lower() in ("0x", "0o", "0b"):
        return NAN
    if not _DECIMAL.fullmatch(text):
        return NAN
    if text.lstrip("+-") == "Infinity":
        return -math.inf if text.startswith("-") else math.inf
    return js_num(float(text))


def to_number(value: Any) -> int | float:
    """ECMAScript ToNumber (objects via ToPrimitive with hint number)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    if value is None:
        return 0
    if value is UNDEFINED:
        return NAN
    if isinstance(value, str):
        return string_to_number(value)
    if isinstance(value, datetime):
        time = jsdate.from_datetime(value)
        return NAN if time is None else time
    return to_number(to_primitive(value, "number"))


def to_integer_or_infinity(value: Any) -> int | float:
    """ECMAScript ToIntegerOrInfinity: NaN becomes 0, fractions truncate, infinities stay."""
    number = to_number(value)
    if math.isnan(number):
        return 0
    if math.isinf(number):
        return number
    return int(number)


def to_int32(value: Any) -> int:
    """ECMAScript ToInt32 (the operand conversion of the bitwise operators)."""
    number = to_number(value)
    if not math.isfinite(number):
        return 0
    wrapped = int(number) % 2**32
    return wrapped - 2**32 if wrapped >= 2**31 else wrapped


def to_uint32(value: Any) -> int:
    """ECMAScript ToUint32 (the left operand of ``>>>``)."""
    return to_int32(value) % 2**32


def number_to_string(value: int | float) -> str:
    """ECMAScript Number::toString: ``1e+21``, ``1.5e-7``, ``0.000001``, ``NaN``, ``Infinity``."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**21:
        return str(value)
    number = float(value)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if number == 0:
        return "0"
    digits, point = shortest_digits(abs(number))
    sign = "-" if number < 0 else ""
    count = len(digits)
    if count <= point <= 21:
        return sign + digits + "0" * (point - count)
    if 0 < point <= 21:
        return sign + digits[:point] + "." + digits[point:]
    if -6 < point <= 0:
        return sign + "0." + "0" * -point + digits
    exponent = point - 1
    mantissa = digits[0] + ("." + digits[1:] if count > 1 else "")
    return f"{sign}{mantissa}e{'+' if exponent >= 0 else '-'}{abs(exponent)}"


def shortest_digits(number: float) -> tuple[str, int]:
    """The shortest round-trip decimal digits of a positive finite float and its decimal-point position."""
    _, digit_tuple, exponent = Decimal(repr(number)).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    assert isinstance(exponent, int)
    return digits, len(digits) + exponent


def to_primitive(value: Any, hint: str = "default") -> Any:
    """ECMAScript ToPrimitive for JSON containers and dates (Date prefers a string unless hint is number)."""
    if isinstance(value, list):
        return array_join(value, ",")
    if isinstance(value, dict):
        return "[object Object]"
    if isinstance(value, datetime):
        time = jsdate.from_datetime(value)
        if hint == "number":
            return NAN if time is None else time
        return jsdate.to_string(time)
    return value


def to_string(value: Any) -> str:
    """ECMAScript ToString."""
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if value is UNDEFINED:
        return "undefined"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return number_to_string(value)
    return to_string(to_primitive(value, "string"))


def array_join(items: list[Any], separator: str, _depth: int = 0) -> str:
    """Array.prototype.join: null and undefined become empty strings; nested arrays join with commas."""
    if _depth > 64:
        raise PipeError("cannot join a circular or too deeply nested array")
    parts: list[str] = []
    size = 0
    for item in items:
        if item is None or item is UNDEFINED:
            part = ""
        elif isinstance(item, list):
            part = array_join(item, ",", _depth + 1)
        else:
            part = to_string(item)
        parts.append(part)
        size += len(part) + len(separator)
        check_size(size, "joined string")
    return separator.join(parts)


def truthy(value: Any) -> bool:
    """JavaScript truthiness: false, 0, NaN, '', null and undefined are falsy; [] and {} are truthy."""
    if value is UNDEFINED or value is None or value is False:
        return False
    if isinstance(value, int | float):
        return not (value == 0 or math.isnan(value))
    if isinstance(value, str):
        return value != ""
    return True


def strict_equals(left: Any, right: Any) -> bool:
    """JavaScript ``===``: same type and value; NaN is unequal to itself; objects equal only themselves."""
    kind = js_type(left)
    if kind != js_type(right):
        return False
    if kind in ("undefined", "null"):
        return True
    if kind == "object":
        return left is right
    return bool(left == right)


def loose_equals(left: Any, right: Any) -> bool:
    """JavaScript ``==`` (IsLooselyEqual): ``1 == '1'``, ``null == undefined``, ``true == 1``."""
    left_kind, right_kind = js_type(left), js_type(right)
    if left_kind == right_kind:
        return strict_equals(left, right)
    if {left_kind, right_kind} == {"null", "undefined"}:
        return True
    if left_kind == "boolean":
        return loose_equals(to_number(left), right)
    if right_kind == "boolean":
        return loose_equals(left, to_number(right))
    if {left_kind, right_kind} == {"number", "string"}:
        return bool(to_number(left) == to_number(right))
    if left_kind == "object" and right_kind in ("number", "string"):
        return loose_equals(to_primitive(left), right)
    if right_kind == "object" and left_kind in ("number", "string"):
        return loose_equals(left, to_primitive(right))
    return False


def less_than(left: Any, right: Any) -> bool | None:
    """ECMAScript IsLessThan: strings compare by UTF-16 code units, others as numbers; None if NaN is involved."""
    left, right = to_primitive(left, "number"), to_primitive(right, "number")
    if isinstance(left, str) and isinstance(right, str):
        return left.encode("utf-16-be") < right.encode("utf-16-be")
    left_number, right_number = to_number(left), to_number(right)
    if math.isnan(left_number) or math.isnan(right_number):
        return None
    return left_number < right_number


def greater_than(left: Any, right: Any) -> bool:
    """JavaScript ``left > right``."""
    return less_than(right, left) is True


def greater_or_equal(left: Any, right: Any) -> bool:
    """JavaScript ``left >= right``."""
    return less_than(left, right) is False


def lower_than(left: Any, right: Any) -> bool:
    """JavaScript ``left < right``."""
    return less_than(left, right) is True


def lower_or_equal(left: Any, right: Any) -> bool:
    """JavaScript ``left <= right``."""
    return less_than(right, left) is False


def property_key(value: Any) -> str:
    """ECMAScript ToPropertyKey for data values (numbers print as JavaScript prints them)."""
    return to_string(value)


def array_index(key: str) -> int | None:
    """The integer of a canonical array index key (``'0'``, ``'12'``), else None (``'01'``, ``'-1'``)."""
    return int(key) if _INDEX.fullmatch(key) else None


def get_property(target: Any, key: Any) -> Any:
    """``target[key]`` restricted to own data: dict keys, list/string indices and ``length``."""
    name = property_key(key)
    if isinstance(target, dict):
        return target.get(name, UNDEFINED)
    if isinstance(target, list | str):
        index = array_index(name)
        if index is not None:
            return target[index] if index < len(target) else UNDEFINED
        if name == "length":
            return len(target)
    return UNDEFINED


def describe(value: Any) -> str:
    """A short quoted rendering of a value for error messages."""
    text = repr(to_string(value)) if not isinstance(value, list | dict) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_size(size: int | float, what: str) -> None:
    """Raise ``PipeError`` when a produced string or array would exceed ``MAX_OUTPUT_SIZE``."""
    if size > limits.MAX_OUTPUT_SIZE:
        raise PipeError(f"{what} would exceed the size cap of {limits.MAX_OUTPUT_SIZE}")


def clone(value: Any) -> Any:
    """A deep copy of the JSON containers in ``value`` (scalars and dates are immutable and shared)."""
    if isinstance(value, dict):
        return {key: clone(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clone(item) for item in value]
    return value
