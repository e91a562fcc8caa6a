"""Evaluate mapping values and ``@pipe`` expressions (spec 2.8, 2.9).

A mapping value is a scalar, an object (mapped key by key), a list (mapped item by item) or a pipe
``{'@pipe': [rows...]}``. A string is dynamic only when the whole string is ``{...}``:

- ``{@ns.fn}``: a function; as a plain value or row-0 cell it is called with no arguments, in the
  first cell of a later row it is called with every value of the previous row;
- ``{$input}``, ``{$output}``, ``{$item}``, ``{$key}``, ``{$index}`` (and paths below them, such as
  ``{$item.full_name}``): the current ``@reduce`` iteration;
- anything else, ``{a.b.c}``: a path into the context, walking dict keys and list indices only.
  ``{$hook.data.x}`` is an alias of ``{$self.hook.data.x}``.

Pipe rows: row 0 is a list of cells, each resolved. Each later row ``[fn, extra...]`` calls ``fn``
with the previous row's values; the result plus the resolved extra cells form the new row. A nested
``{'@pipe': ...}`` row is evaluated on its own and queued; the next ordinary row (or ``@reduce``)
receives the queue as its arguments. ``{'@reduce': body}`` takes ``[iterable, initial]`` from the
previous row and folds the body (a pipe seeded with ``[$output]``) over the items or keys.

Values read from the context are copied, so in-place functions (``@array.push``) never change the
caller's data. ``check`` walks an expression statically, for the compiler. What is an expression, a
function, a reference or a reduce variable is defined in ``syntax`` (shared with the compiler).

Time: the engine evaluates an activity's mappings inside ``time_budget`` (``Settings.mapping_budget_ms``).
Size caps (``limits``) bound each function call, but not how many heavy calls a mapping makes, so
the clock is read after each function call (one ``monotonic()``, nothing when no budget is set)
and the evaluation stops with ``PipeError`` once the budget is spent: a mapping holds the engine's
event loop for at most the budget plus one call. Only time spent evaluating counts (the step's
Redis round trips between two ``resolve`` calls do not).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from ..errors import PipeError
from . import functions, jsdate, limits
from .js import UNDEFINED, array_index, clone
from .syntax import PIPE, REDUCE, expression, function_name, is_reduce_variable, parts, path


def _brief(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def walk(root: Any, segments: list[str]) -> Any:
    """Follow ``segments`` through dict keys and list indices (and a list's ``length``); UNDEFINED if absent."""
    current = root
    for segment in segments:
        if isinstance(current, Mapping):
            if segment not in current:
                return UNDEFINED
            current = current[segment]
        elif isinstance(current, list):
            index = array_index(segment)
            if index is not None and index < len(current):
                current = current[index]
            elif segment == "length":
                current = len(current)
            else:
                return UNDEFINED
        else:
            return UNDEFINED
    return current


class Budget:
    """The evaluation time the mappings of one activity step may spend (see ``time_budget``)."""

    def __init__(self, seconds: float, what: str) -> None:
        self.seconds = seconds
        self.what = what
        self.spent = 0.0                       # by the finished ``resolve`` calls of this step
        self.since: float | None = None        # when the running ``resolve`` call started

    def check(self, reference: str) -> None:
        if self.since is not None and self.spent + time.monotonic() - self.since > self.seconds:
            raise PipeError(f"{self.what}: its mappings ran past their time budget of "
                            f"{self.seconds * 1000:g} ms (stopped after {{@{reference}}}); "
                            "map less data or do the work in a worker")


_BUDGET: ContextVar[Budget | None] = ContextVar("hotmesh_mapping_budget", default=None)


@contextmanager
def time_budget(seconds: float, what: str) -> Iterator[Budget | None]:
    """Give the mappings evaluated inside (this task) ``seconds`` of evaluation time in all;
    ``what`` names them in the error (``activity 'a1'``). ``seconds <= 0``: no budget."""
    budget = Budget(seconds, what) if seconds > 0 else None
    token = _BUDGET.set(budget)
    try:
        yield budget
    finally:
        _BUDGET.reset(token)


class _Evaluation:
    """One top-level evaluation: the context, the shared ``@reduce`` iteration budget and the
    step's time budget (None: unbounded)."""

    def __init__(self, context: Mapping[str, Any], budget: Budget | None = None) -> None:
        self.context = context
        self.iterations = 0
        self.budget = budget

    def call(self, name: str, arguments: Any) -> Any:
        result = functions.call(name, arguments)
        if self.budget is not None:
            self.budget.check(name)
        return result

    def reference(self, term: str, frame: Mapping[str, Any] | None, copy: bool = True) -> Any:
        segments = path(term)
        if is_reduce_variable(term):
            return UNDEFINED if frame is None else walk(frame, segments)
        found = walk(self.context, segments)
        return clone(found) if copy else found

    def cell(self, value: Any, frame: Mapping[str, Any] | None) -> Any:
        term = expression(value)
        if term is None:
            return clone(value)
        name = function_name(term)
        if name is not None:
            return self.call(name, ())
        return self.reference(term, frame)

    def apply(self, row: list[Any], index: int, arguments: list[Any], frame: Mapping[str, Any] | None) -> Any:
        term = expression(row[0]) if row else None
        name = function_name(term)
        if name is not None:
            return self.call(name, arguments)
        if term is not None and is_reduce_variable(term):
            return self.reference(term, frame)
        raise PipeError(f"pipe row {index} must start with a {{@namespace.function}}, got {_brief(row[:1])}")

    def pipe(self, rows: Any, frame: Mapping[str, Any] | None, seed: list[Any] | None, depth: int) -> Any:
        _check_rows(rows, depth)
        resolved = seed
        queue: list[Any] = []
        for index, row in enumerate(rows):
            kind = _row_kind(row, index)
            if kind == PIPE:
                queue.append(self.pipe(row[PIPE], frame, None, depth + 1))
                continue
            if queue:
                resolved, queue = queue, []
            if kind == REDUCE:
                if resolved is None:
                    raise PipeError(f"@reduce at pipe row {index} has no previous row to take [items, initial] from")
                resolved = [self.reduce(row[REDUCE], resolved, depth + 1)]
            elif resolved is None:
                resolved = [self.cell(cell, frame) for cell in row]
            else:
                value = self.apply(row, index, resolved, frame)
                resolved = [value, *(self.cell(cell, frame) for cell in row[1:])]
        if resolved is None:
            raise PipeError("a pipe of only nested pipes needs a final row to combine their results")
        return resolved[0] if resolved else UNDEFINED

    def reduce(self, body: Any, prior: list[Any], depth: int) -> Any:
        items = prior[0] if prior else UNDEFINED
        initial = prior[1] if len(prior) > 1 else None
        output = None if initial is UNDEFINED else clone(initial)
        if isinstance(items, list):
            pairs: list[tuple[str, Any]] = [(str(position), item) for position, item in enumerate(items)]
        elif isinstance(items, dict):
            pairs = [(str(key), item) for key, item in items.items()]
        elif isinstance(items, str):
            pairs = [(str(position), char) for position, char in enumerate(items)]
        else:
            pairs = []
        for position, (key, item) in enumerate(pairs):
            self.iterations += 1
            if self.iterations > limits.MAX_REDUCE_ITERATIONS:
                raise PipeError(f"@reduce exceeded {limits.MAX_REDUCE_ITERATIONS} iterations")
            frame = {"$input": items, "$output": output, "$item": item, "$key": key, "$index": position}
            output = self.pipe(body, frame, [output], depth)
        return output


def _check_rows(rows: Any, depth: int) -> None:
    if depth > limits.MAX_PIPE_DEPTH:
        raise PipeError(f"pipes are nested more than {limits.MAX_PIPE_DEPTH} deep")
    if not isinstance(rows, list) or not rows:
        raise PipeError(f"a pipe must be a non-empty list of rows, got {_brief(rows)}")
    if len(rows) > limits.MAX_PIPE_ROWS:
        raise PipeError(f"a pipe has {len(rows)} rows; the cap is {limits.MAX_PIPE_ROWS}")


def _row_kind(row: Any, index: int) -> str:
    if isinstance(row, list):
        return "row"
    if isinstance(row, dict) and len(row) == 1 and (PIPE in row or REDUCE in row):
        return PIPE if PIPE in row else REDUCE
    raise PipeError(f"pipe row {index} must be a list, or a {{'@pipe'}} or {{'@reduce'}} object, got {_brief(row)}")


def export(value: Any, _active: set[int] | None = None) -> Any:
    """A JSON-ready copy of a result: undefined members dropped, undefined items as null, dates as ISO."""
    if isinstance(value, datetime):
        time = jsdate.from_datetime(value)
        return None if time is None else jsdate.iso_string(time)
    if not isinstance(value, dict | list):
        return value
    active = set() if _active is None else _active
    if id(value) in active:
        raise PipeError("the result is a circular structure")
    active.add(id(value))
    try:
        if isinstance(value, dict):
            return {key: export(item, active) for key, item in value.items() if item is not UNDEFINED}
        return [None if item is UNDEFINED else export(item, active) for item in value]
    finally:
        active.discard(id(value))


def _evaluate(value: Any, evaluation: _Evaluation) -> Any:
    term = expression(value)
    if term is not None:
        name = function_name(term)
        if name is not None:
            return evaluation.call(name, ())
        return evaluation.reference(term, None, copy=False)  # export() copies it
    if isinstance(value, dict):
        if PIPE in value:
            return evaluation.pipe(value[PIPE], None, None, 1)
        mapped = {key: _evaluate(item, evaluation) for key, item in value.items()}
        return {key: item for key, item in mapped.items() if item is not UNDEFINED}
    if isinstance(value, list):
        return [_evaluate(item, evaluation) for item in value]
    return value


def resolve(value: Any, context: Mapping[str, Any]) -> Any:
    """Evaluate one mapping value against ``context``; UNDEFINED when it resolves to nothing.

    Raises ``PipeError`` for an unknown function, a malformed pipe, a failing function, an exceeded
    cap or a spent time budget.
    """
    budget = _BUDGET.get()
    if budget is not None and budget.since is None:
        budget.since = time.monotonic()
        try:
            return _resolve(value, _Evaluation(context, budget))
        finally:
            budget.spent += time.monotonic() - budget.since
            budget.since = None
    return _resolve(value, _Evaluation(context, budget))


def _resolve(value: Any, evaluation: _Evaluation) -> Any:
    try:
        return export(_evaluate(value, evaluation))
    except RecursionError as exc:
        raise PipeError("mapping value nested too deeply") from exc


def map_rules(rules: Mapping[str, Any] | None, context: Mapping[str, Any]) -> dict[str, Any]:
    """Resolve every rule; keys resolving to UNDEFINED are dropped (null is kept)."""
    if not rules:
        return {}
    mapped = {key: resolve(rule, context) for key, rule in rules.items()}
    return {key: value for key, value in mapped.items() if value is not UNDEFINED}


def check(value: Any) -> None:
    """Raise ``PipeError`` if ``value`` names an unknown or forbidden function or holds a malformed pipe."""
    try:
        _check_value(value)
    except RecursionError as exc:
        raise PipeError("mapping value nested too deeply") from exc


def _check_value(value: Any) -> None:
    for part in parts(value):
        if isinstance(part, Mapping):
            if len(part) != 1:
                raise PipeError(f"a {{'@pipe'}} object must have no other keys, got {sorted(map(str, part))}")
            _check_pipe(part[PIPE], seeded=False, depth=1)
        else:
            _check_cells([part])


def _check_cells(cells: list[Any]) -> None:
    for cell in cells:
        name = function_name(expression(cell))
        if name is not None:
            functions.lookup(name)


def _check_pipe(rows: Any, seeded: bool, depth: int) -> None:
    _check_rows(rows, depth)
    have_prior, queued = seeded, False
    for index, row in enumerate(rows):
        kind = _row_kind(row, index)
        if kind == PIPE:
            _check_pipe(row[PIPE], seeded=False, depth=depth + 1)
            queued = True
            continue
        if kind == REDUCE:
            if not (have_prior or queued):
                raise PipeError(f"@reduce at pipe row {index} has no previous row to take [items, initial] from")
            _check_pipe(row[REDUCE], seeded=True, depth=depth + 1)
        elif have_prior or queued:
            term = expression(row[0]) if row else None
            if term is None or not (function_name(term) is not None or is_reduce_variable(term)):
                raise PipeError(f"pipe row {index} must start with a {{@namespace.function}}, got {_brief(row[:1])}")
            _check_cells(row)
        else:
            _check_cells(row)
        have_prior, queued = True, False
    if not have_prior:
        raise PipeError("a pipe of only nested pipes needs a final row to combine their results")

