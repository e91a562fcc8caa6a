"""Safe YAML parsing for manifests, with the line of every mapping key kept for error messages.

What is refused (each with a located ``ManifestError``): anchors and aliases (alias bombs),
every explicit tag except the plain JSON ones (``!!python/object/apply:...`` and friends),
nesting deeper than ``max_depth``, more than ``max_nodes`` nodes, duplicate keys and
non-scalar keys. Scalars follow the YAML 1.2 core schema, as the JavaScript parser of the
reference does: only ``true``/``false`` are booleans, there are no sexagesimal numbers and no
timestamps (``version: 2026-11-27`` stays the string label it looks like). Mapping keys are
always strings, converted the way JavaScript converts object keys (``422:`` becomes ``"422"``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..errors import ManifestError

_CORE = "tag:yaml.org,2002:"
_ALLOWED_TAGS = frozenset({"!", *(_CORE + t for t in ("str", "int", "float", "bool", "null", "map", "seq"))})


@dataclass(frozen=True)
class Limits:
    """Caps applied while loading a manifest (each file, and the whole dereferenced document)."""

    max_bytes: int = 1 << 20          # per file
    max_total_bytes: int = 4 << 20    # all files of one manifest together
    max_depth: int = 64               # nesting levels, through $ref included
    max_nodes: int = 250_000          # nodes, after $ref expansion
    max_files: int = 64               # distinct files reached by $ref
    max_ref_chain: int = 8            # files being dereferenced inside one another


class LineDict(dict[str, Any]):
    """A mapping that remembers where it came from: ``file``, its ``line`` and each key's line."""

    __slots__ = ("column", "file", "line", "lines")

    def __init__(self, file: str | None, line: int, column: int | None = None) -> None:
        super().__init__()
        self.file = file
        self.line = line
        self.column = column
        self.lines: dict[str, int] = {}

    def line_of(self, key: str) -> int:
        return self.lines.get(key, self.line)


class LineList(list[Any]):
    """A sequence that remembers ``file``, its ``line`` and the line of each item."""

    __slots__ = ("column", "file", "line", "lines")

    def __init__(self, file: str | None, line: int, column: int | None = None) -> None:
        super().__init__()
        self.file = file
        self.line = line
        self.column = column
        self.lines: list[int] = []

    def line_of(self, index: int) -> int:
        return self.lines[index] if 0 <= index < len(self.lines) else self.line


def located(message: str, node: Any = None, key: Any = None, *, activity: str | None = None,
            file: str | None = None) -> ManifestError:
    """A ManifestError pointing at ``node`` (a LineDict/LineList), or at ``node[key]`` when given."""
    line: int | None = None
    column: int | None = None
    if isinstance(node, (LineDict, LineList)):
        file = node.file if file is None else file
        if key is None:
            line, column = node.line, node.column
        else:
            line = node.line_of(key)
    return ManifestError(message, file=file, line=line, activity=activity, column=column)


def short_tag(tag: str) -> str:
    return "!!" + tag[len(_CORE):] if tag.startswith(_CORE) else tag


def key_text(key: Any) -> str:
    """Convert a YAML key the way JavaScript converts object keys."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, float):
        if math.isnan(key):
            return "NaN"
        if math.isinf(key):
            return "Infinity" if key > 0 else "-Infinity"
        if key.is_integer() and abs(key) < 1e21:
            return str(int(key))
        return repr(key)
    return str(key)


_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")


def _core_resolvers() -> dict[Any, list[tuple[str, re.Pattern[str]]]]:
    table: dict[Any, list[tuple[str, re.Pattern[str]]]] = {}
    for tag, pattern, first in (
        ("bool", _BOOL, "tTfF"),
        ("null", _NULL, ["~", "n", "N", ""]),
        ("int", _INT, "-+0123456789"),
        ("float", _FLOAT, "-+0123456789."),
    ):
        for char in first:
            table.setdefault(char, []).append((_CORE + tag, pattern))
    return table


class _ManifestLoader(yaml.SafeLoader):
    yaml_implicit_resolvers = _core_resolvers()

    def __init__(self, text: str, file: str | None, limits: Limits) -> None:
        super().__init__(text)
        self.file = file
        self.limits = limits
        self.depth = 0
        self.nodes = 0

    def error(self, message: str, mark: Any) -> ManifestError:
        return ManifestError(message, file=self.file, line=mark.line + 1, column=mark.column + 1)

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        mark = event.start_mark
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise self.error("YAML anchors and aliases are not allowed", mark)
        tag = getattr(event, "tag", None)
        if tag is not None and tag not in _ALLOWED_TAGS:
            raise self.error(f"YAML tag '{short_tag(tag)}' is not allowed", mark)
        self.nodes += 1
        if self.nodes > self.limits.max_nodes:
            raise self.error(f"manifest has more than {self.limits.max_nodes} nodes", mark)
        self.depth += 1
        if self.depth > self.limits.max_depth:
            raise self.error(f"manifest nesting is deeper than {self.limits.max_depth} levels", mark)
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _mark(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _construct_map(loader: _ManifestLoader, node: Node) -> LineDict:
    if not isinstance(node, MappingNode):        # '!!map []': an explicit tag on the wrong kind of node
        raise loader.error("a '!!map' tag must be on a mapping", node.start_mark)
    data = LineDict(loader.file, *_mark(node))
    for key_node, value_node in node.value:
        if not isinstance(key_node, ScalarNode):
            raise loader.error("mapping keys must be plain scalars", key_node.start_mark)
        key = key_text(loader.construct_object(key_node, deep=True))
        if key in data:
            raise loader.error(f"duplicate key '{key}'", key_node.start_mark)
        data[key] = loader.construct_object(value_node, deep=True)
        data.lines[key] = key_node.start_mark.line + 1
    return data


def _construct_seq(loader: _ManifestLoader, node: Node) -> LineList:
    if not isinstance(node, SequenceNode):
        raise loader.error("a '!!seq' tag must be on a sequence", node.start_mark)
    data = LineList(loader.file, *_mark(node))
    for item in node.value:
        data.append(loader.construct_object(item, deep=True))
        data.lines.append(item.start_mark.line + 1)
    return data


def _construct_int(loader: _ManifestLoader, node: Node) -> int:
    text = str(loader.construct_scalar(node)).replace("_", "")    # type: ignore[arg-type]
    try:
        if text.startswith("0o"):
            return int(text[2:], 8)
        if text.startswith("0x"):
            return int(text[2:], 16)
        return int(text, 10)
    except ValueError:
        raise loader.error(f"invalid integer {text!r}", node.start_mark) from None


def _construct_float(loader: _ManifestLoader, node: Node) -> float:
    text = str(loader.construct_scalar(node)).replace("_", "").lower()  # type: ignore[arg-type]
    try:
        return float(text.replace(".inf", "inf").replace(".nan", "nan"))
    except ValueError:
        raise loader.error(f"invalid number {text!r}", node.start_mark) from None


_ManifestLoader.add_constructor(_CORE + "map", _construct_map)
_ManifestLoader.add_constructor(_CORE + "seq", _construct_seq)
_ManifestLoader.add_constructor(_CORE + "int", _construct_int)
_ManifestLoader.add_constructor(_CORE + "float", _construct_float)


def parse_yaml(text: str, file: str | None, limits: Limits) -> Any:
    """Parse one YAML document safely; every failure is a located ``ManifestError``."""
    loader: _ManifestLoader | None = None
    try:
        loader = _ManifestLoader(text, file, limits)          # the reader checks characters here
        node = loader.get_single_node()
        return None if node is None else loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(part for part in (exc.context, exc.problem) if part) or "invalid YAML"
        if mark is None:
            raise ManifestError(f"invalid YAML: {message}", file=file) from None
        raise ManifestError(f"invalid YAML: {message}", file=file, line=mark.line + 1,
                            column=mark.column + 1) from None
    except yaml.YAMLError as exc:
        position = getattr(exc, "position", None)
        line = None if position is None else text.count("\n", 0, position) + 1
        reason = getattr(exc, "reason", None) or str(exc)
        raise ManifestError(f"invalid YAML: {reason}", file=file, line=line) from None
    finally:
        if loader is not None:
            loader.dispose()


def plain(value: Any) -> Any:
    """Strip the line bookkeeping: LineDict/LineList become plain dicts and lists (JSON shapes)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
