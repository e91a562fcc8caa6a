"""The runs search language: parse a query into clauses, with located errors (pure, no I/O).

A query is clauses separated by spaces (an optional ``and`` between them); a run must match all:

- ``status:failed`` (``running``, ``done``, ``failed``, ``interrupted``; a comma gives a choice:
  ``status:failed,interrupted``), ``graph:demo.greet`` (or ``topic:``), ``version:2``;
- ``id:job-12`` or a bare word: the job id starts with it;
- time: ``since:15m`` (``s``, ``m``, ``h``, ``d``), ``after:2026-12-01`` and
  ``before:2026-12-01T10:30`` (UTC; a date, a date and time, or epoch milliseconds);
- a field of the input or of the output: ``data.customer = 42``, ``output.total > 100``.
  ``data.<path>`` is the trigger's input, ``output.<path>`` the job's data (``$job.data``).
  Operators ``=``, ``!=``, ``<``, ``>``, ``<=``, ``>=`` and ``contains``; the value is JSON
  (``42``, ``"a b"``, ``true``, ``null``) or a bare word (a string). A number matches a number or
  a numeric string; ``<``/``>`` with a string compare text (ISO dates sort right); ``!=`` and the
  comparisons only match runs that have the field; ``contains`` is case-insensitive and looks
  into the JSON text of lists and objects.

``parse(text)`` returns a ``Query`` or raises ``QueryError`` with the column (0-based) of the
problem; ``QueryError.pointer(text)`` draws a caret under it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

STATUSES = ("running", "done", "failed", "interrupted")
KEYS = {"status": "status", "graph": "topic", "topic": "topic", "version": "version", "id": "id",
        "since": "since", "after": "after", "before": "before"}
OPERATORS = ("contains", "<=", ">=", "!=", "=", "<", ">")
SOURCES = ("data", "output")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_WORD = re.compile(r"[^\s=<>!\"]+")
_PATH = re.compile(r"[A-Za-z0-9_\-$@]+(\.[A-Za-z0-9_\-$@]+)*$")


class QueryError(ValueError):
    """A query that does not parse; ``column`` is where (0-based), ``message`` what is wrong."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(f"{message} (column {column + 1})")
        self.message = message
        self.column = column

    def pointer(self, text: str) -> str:
        """The query and a caret under the problem, for a monospace display."""
        return f"{text}\n{' ' * self.column}^"


@dataclass(frozen=True)
class FieldClause:
    """``<source>.<path> <op> <value>``: ``source`` is ``data`` (input) or ``output``."""

    source: str
    path: tuple[str, ...]
    op: str
    value: Any

    @property
    def name(self) -> str:
        return ".".join((self.source, *self.path))


@dataclass(frozen=True)
class Query:
    text: str = ""
    statuses: frozenset[str] = frozenset()
    topics: frozenset[str] = frozenset()
    versions: frozenset[str] = frozenset()
    id_prefixes: tuple[str, ...] = ()
    since_seconds: int | None = None
    after_ms: int | None = None
    before_ms: int | None = None
    fields: tuple[FieldClause, ...] = field(default_factory=tuple)

    @property
    def empty(self) -> bool:
        return self == Query(self.text)

    @property
    def output_fields(self) -> tuple[FieldClause, ...]:
        return tuple(f for f in self.fields if f.source == "output")


def parse(text: str) -> Query:
    """Parse ``text``; raises ``QueryError`` (with the column) when it is malformed."""
    return _Parser(text).parse()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0
        self.parts: dict[str, Any] = {"statuses": set(), "topics": set(), "versions": set(), "id_prefixes": [],
                                      "fields": []}

    def parse(self) -> Query:
        while self._skip_space() < len(self.text):
            start = self.at
            word = self._word()
            if word.lower() == "and" and self._skip_space() < len(self.text):
                continue
            key, colon, value = word.partition(":")
            if colon and key.lower() in KEYS:
                self._keyed(KEYS[key.lower()], value, start + len(key) + 1)
            elif colon:
                raise QueryError(f"unknown filter '{key}:' (use {', '.join(k + ':' for k in KEYS)})", start)
            elif self._peek_operator() is not None or word.split(".")[0] in SOURCES and "." in word:
                self._field(word, start)
            else:
                self.parts["id_prefixes"].append(word)
        p = self.parts
        return Query(self.text, frozenset(p["statuses"]), frozenset(p["topics"]), frozenset(p["versions"]),
                     tuple(p["id_prefixes"]), p.get("since"), p.get("after"), p.get("before"), tuple(p["fields"]))

    # -- lexing --------------------------------------------------------------------------------
    def _skip_space(self) -> int:
        while self.at < len(self.text) and self.text[self.at].isspace():
            self.at += 1
        return self.at

    def _word(self) -> str:
        found = _WORD.match(self.text, self.at)
        if not found:
            raise QueryError(f"unexpected '{self.text[self.at]}'", self.at)
        self.at = found.end()
        return found.group()

    def _peek_operator(self) -> str | None:
        rest = self.text[self._skip_space():]
        for op in OPERATORS:
            if rest.startswith(op) and (op != "contains" or rest[len(op):len(op) + 1] in ("", " ", '"')):
                return op
        return None

    # -- clauses -------------------------------------------------------------------------------
    def _keyed(self, key: str, value: str, column: int) -> None:
        if not value:
            raise QueryError(f"'{self.text[column - 1 - len(key):column]}' needs a value", column)
        if key == "status":
            for status in value.split(","):
                if status not in STATUSES:
                    raise QueryError(f"unknown status '{status}' (one of {', '.join(STATUSES)})", column)
            self.parts["statuses"].update(value.split(","))
        elif key in ("topic", "version"):
            self.parts[key + "s"].update(v for v in value.split(",") if v)
        elif key == "id":
            self.parts["id_prefixes"].append(value)
        elif key == "since":
            self.parts["since"] = _duration(value, column)
        else:
            self.parts[key] = _instant(value, column)

    def _field(self, name: str, start: int) -> None:
        source, _, path = name.partition(".")
        if source not in SOURCES:
            raise QueryError(f"a field starts with data. (the input) or output. (the job data), not '{source}'",
                             start)
        if not path or not _PATH.match(path):
            raise QueryError(f"'{name}' is not a field path (e.g. data.customer or output.total)", start)
        op_at = self._skip_space()
        op = self._peek_operator()
        if op is None:
            where = "end of query" if op_at >= len(self.text) else f"'{self.text[op_at]}'"
            raise QueryError(f"expected an operator (=, !=, <, >, <=, >=, contains) after {name}, found {where}",
                             op_at)
        self.at += len(op)
        value_at = self._skip_space()
        if value_at >= len(self.text):
            raise QueryError(f"expected a value after '{op}'", value_at)
        value = self._value()
        if op not in ("=", "!=") and (isinstance(value, bool) or not isinstance(value, int | float | str)):
            raise QueryError(f"'{op}' takes a number or text, not {json.dumps(value)}", value_at)
        self.parts["fields"].append(FieldClause(source, tuple(path.split(".")), op, value))

    def _value(self) -> Any:
        start = self.at
        if self.text[start] == '"':
            decoder = json.JSONDecoder()
            try:
                value, end = decoder.raw_decode(self.text, start)
            except ValueError:
                raise QueryError("unterminated string (a closing \" is missing)", start) from None
            self.at = end
            return value
        word = self._word()
        if word in ("true", "false", "null"):
            return json.loads(word)
        try:
            number = float(word)
        except ValueError:
            return word
        return int(number) if number.is_integer() and "." not in word and "e" not in word.lower() else number


def _duration(value: str, column: int) -> int:
    found = re.fullmatch(r"(\d+)([smhd])", value)
    if not found:
        raise QueryError(f"'{value}' is not a duration (e.g. 30s, 15m, 2h, 7d)", column)
    return int(found.group(1)) * UNITS[found.group(2)]


def _instant(value: str, column: int) -> int:
    if value.isdigit() and len(value) >= 10:
        return int(value)
    for form in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"):
        try:
            return int(datetime.strptime(value, form).replace(tzinfo=UTC).timestamp() * 1000)
        except ValueError:
            continue
    raise QueryError(f"'{value}' is not a time (2026-12-01, 2026-12-01T10:30 or epoch ms, UTC)", column)
