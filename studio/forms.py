"""Job input: parse and check JSON against a graph's input schema, and a form built from it.

Only the JSON Schema subset that graph input schemas use is checked here (object properties,
``type``, ``required``, ``enum``, ``default``); the engine stays the authority when the job runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import panel as pn

TYPES: dict[str, type | tuple[type, ...]] = {"string": str, "integer": int, "number": (int, float), "boolean": bool, "object": dict, "array": list}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str
    required: bool
    default: Any = None
    description: str = ""
    enum: tuple[Any, ...] = ()


def schema_fields(schema: Any) -> list[FieldSpec]:
    """The top-level fields of an object schema, in declaration order (empty for anything else)."""
    if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
        return []
    required = set(schema.get("required") or [])
    fields = []
    for name, spec in schema["properties"].items():
        spec = spec if isinstance(spec, dict) else {}
        kind = spec.get("type", "string")
        kind = kind[0] if isinstance(kind, list) and kind else kind
        fields.append(FieldSpec(str(name), str(kind), name in required, spec.get("default"),
                                str(spec.get("description") or ""), tuple(spec.get("enum") or ())))
    return fields


def parse_input(text: str) -> dict[str, Any]:
    """Parse the JSON input box; raises ``ValueError`` with a message a person can act on."""
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"Invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    if not isinstance(data, dict):
        raise ValueError("The job input must be a JSON object, like {\"name\": \"world\"}")
    return data


def check_input(data: dict[str, Any], schema: Any) -> list[str]:
    """Problems of ``data`` against ``schema`` (empty when it fits or there is no schema)."""
    problems = []
    for spec in schema_fields(schema):
        if spec.name not in data:
            if spec.required:
                problems.append(f"'{spec.name}' is required")
            continue
        value = data[spec.name]
        expected = TYPES.get(spec.type)
        wrong_bool = isinstance(value, bool) and spec.type in ("integer", "number")
        if expected and (not isinstance(value, expected) or wrong_bool):
            problems.append(f"'{spec.name}' must be {_article(spec.type)} {spec.type}, not {json.dumps(value)}")
        elif spec.enum and value not in spec.enum:
            problems.append(f"'{spec.name}' must be one of {', '.join(json.dumps(v) for v in spec.enum)}")
    return problems


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


class InputForm:
    """Widgets for the fields of an input schema; ``data()`` collects what was entered."""

    def __init__(self, schema: Any, initial: dict[str, Any] | None = None) -> None:
        self.fields = schema_fields(schema)
        initial = initial or {}
        self.widgets: dict[str, pn.widgets.Widget] = {}
        for spec in self.fields:
            value = initial.get(spec.name, spec.default)
            self.widgets[spec.name] = _widget(spec, value)
        self.panel = pn.Column(*self.widgets.values(), sizing_mode="stretch_width", css_classes=["hm-form"])

    def data(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for spec in self.fields:
            widget = self.widgets[spec.name]
            value = widget.value
            if spec.type in ("object", "array"):
                if not str(value).strip():
                    continue
                try:
                    value = json.loads(value)
                except json.JSONDecodeError:
                    raise ValueError(f"'{spec.name}' must be JSON ({spec.type})") from None
            elif _blank(spec, value):
                continue
            out[spec.name] = value
        return out

    def fill(self, data: dict[str, Any]) -> None:
        for spec in self.fields:
            if spec.name in data:
                value = data[spec.name]
                self.widgets[spec.name].value = json.dumps(value) if spec.type in ("object", "array") else value


def _blank(spec: FieldSpec, value: Any) -> bool:
    """An optional field left empty is left out of the input."""
    return (spec.type == "string" and value == "" and not spec.required) or \
        (spec.type in ("integer", "number") and value is None)


def _widget(spec: FieldSpec, value: Any) -> pn.widgets.Widget:
    label = spec.name + (" *" if spec.required else "")
    common = {"label": label, "description": spec.description or None, "sizing_mode": "stretch_width"}
    if spec.enum:
        return pn.widgets.Select(options=list(spec.enum), value=value if value in spec.enum else spec.enum[0],
                                 **common)
    if spec.type == "boolean":
        return pn.widgets.Checkbox(label=label, value=bool(value))
    if spec.type == "integer":
        return pn.widgets.IntInput(value=value if isinstance(value, int) else None, **common)
    if spec.type == "number":
        return pn.widgets.FloatInput(value=value if isinstance(value, int | float) else None, **common)
    if spec.type in ("object", "array"):
        return pn.widgets.TextInput(value=json.dumps(value) if value is not None else "",
                                    placeholder="JSON", **common)
    return pn.widgets.TextInput(value="" if value is None else str(value), **common)
