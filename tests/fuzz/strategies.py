"""Hypothesis strategies shared by the fuzz properties: JSON values, hostile Python values, odd text."""

from __future__ import annotations

import datetime
import decimal
from typing import Any

from hypothesis import strategies as st

# Text that breaks naive code: control characters, a lone surrogate, BOM, right-to-left marks,
# combining marks, astral characters, NUL, line and paragraph separators.
ODD_TEXT = st.sampled_from([
    "", " ", "\x00", "\ufeff", "\u202e", "\u2028", "\u2029", "\ud800", "\udfff", "e\u0301", "\U0001f600",
    "\t\r\n", "\x1b[31m", "{", "}", "{}", "{{a}}", "$", "@", ".", "..", "-", "%", "\\", "'", '"', "~",
    "a" * 300,
])
TEXT = st.one_of(st.text(max_size=20), ODD_TEXT)
FLOATS = st.floats(allow_nan=True, allow_infinity=True)
INTS = st.one_of(st.integers(-(2**64), 2**64), st.sampled_from([2**53, 2**53 + 1, -(2**63), 10**30]))


def json_values(max_leaves: int = 20) -> st.SearchStrategy[Any]:
    """Plain JSON: what a payload may be (finite floats, string keys)."""
    scalars = st.one_of(st.none(), st.booleans(), INTS, st.floats(allow_nan=False, allow_infinity=False),
                        TEXT)
    return st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(TEXT, inner, max_size=5)), max_leaves=max_leaves)


def nested(depth: int, leaf: Any = 1, *, lists: bool = False) -> Any:
    """``depth`` containers one inside the other (built iteratively: deep enough to hit any cap)."""
    value = leaf
    for _ in range(depth):
        value = [value] if lists else {"n": value}
    return value


DEEP = st.builds(nested, st.integers(0, 200), st.just(1), lists=st.booleans())

# Values no JSON payload may hold, each a way callers get it wrong.
ALIEN = st.one_of(
    st.binary(max_size=8),
    st.frozensets(st.integers(0, 3), max_size=3),
    st.sets(st.integers(0, 3), max_size=3),
    st.datetimes(),
    st.dates(),
    st.times(),
    st.just(decimal.Decimal("1.10")),
    st.just(datetime.timedelta(seconds=3)),
    st.builds(object),
    st.complex_numbers(max_magnitude=10),
    st.sampled_from([float("nan"), float("inf"), float("-inf")]),
)
KEYS = st.one_of(TEXT, st.integers(-3, 3), st.none(), st.booleans(), st.floats(), st.tuples(st.integers()),
                 st.binary(max_size=3), st.just(datetime.date(2026, 1, 1)))


def python_values(max_leaves: int = 25) -> st.SearchStrategy[Any]:
    """Anything a Python caller might hand over: JSON, tuples, alien leaves, non-str keys, depth."""
    scalars = st.one_of(st.none(), st.booleans(), INTS, FLOATS, TEXT, ALIEN, DEEP)
    return st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.tuples(inner, inner), st.dictionaries(KEYS, inner, max_size=4),
        st.dictionaries(TEXT, inner, max_size=4)), max_leaves=max_leaves)
