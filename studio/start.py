"""Start a job: pick the graph's topic, fill the form built from its input schema or type JSON."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

import panel as pn

from hotmesh_core.compiler import CompiledApp

from .access import read_only, refusal
from .forms import InputForm, check_input, parse_input
from .mesh import Mesh
from .runtime import describe_error
from .theme import AlertType


class StartJob:
    def __init__(self, mesh: Mesh, on_started: Callable[[str], Awaitable[None] | None] | None = None,
                 example: dict[str, Any] | None = None) -> None:
        self.mesh = mesh
        self.on_started = on_started
        self.example = example or {}
        self.app: CompiledApp | None = None
        self.form: InputForm | None = None
        self.topic = pn.widgets.Select(label="Topic", options=[], width=220, css_classes=["hm-start-topic"])
        self.mode = pn.widgets.RadioButtonGroup(options=["Form", "JSON"], value="JSON", color="light",
                                                width=140, align="end", css_classes=["hm-start-mode"])
        self.json = pn.widgets.TextAreaInput(label="Input (JSON object)", value="{}", height=120,
                                             sizing_mode="stretch_width", css_classes=["hm-start-json"])
        self.form_area = pn.Column(sizing_mode="stretch_width")
        self.button = pn.widgets.Button(label="Start job", color="primary", width=120,
                                        css_classes=["hm-start"], disabled=read_only(mesh))
        self.message = pn.pane.Alert("", alert_type="danger", visible=False, sizing_mode="stretch_width",
                                     css_classes=["hm-start-message"])
        self.topic.param.watch(lambda _e: self._build_form(), "value")
        self.mode.param.watch(self._switch, "value")
        self.button.on_click(self._start)
        self.panel = pn.Column(pn.Row(self.topic, self.mode), self.form_area, self.json,
                               pn.Row(self.button), self.message, max_width=720, sizing_mode="stretch_width")

    def set_app(self, app: CompiledApp | None) -> None:
        self.app = app
        topics = [g.subscribes for g in app.graphs] if app else []
        example_topic = self.example.get("topic")
        self.topic.options = topics
        if example_topic in topics:
            self.topic.value = example_topic
        self._build_form()

    def schema(self) -> Any:
        if self.app is None or not self.topic.value:
            return None
        graph = next((g for g in self.app.graphs if g.subscribes == self.topic.value), None)
        return graph.input_schema if graph else None

    def _build_form(self) -> None:
        schema = self.schema()
        initial = self.example.get("data") if self.example.get("topic") == self.topic.value else {}
        self._set_json(json.dumps(initial or {}, indent=1))
        if schema and isinstance(schema, dict) and schema.get("properties"):
            self.form = InputForm(schema, initial)
            self.form_area.objects = [self.form.panel]
            self.mode.disabled = False
            self.mode.value = "Form"
        else:
            self.form = None
            self.form_area.objects = [pn.pane.HTML("<div class='hm-muted'>This graph declares no input schema: "
                                                   "type the input as JSON.</div>")]
            self.mode.value = "JSON"
            self.mode.disabled = True
        self._switch()

    def _switch(self, *_: Any) -> None:
        form_mode = self.mode.value == "Form" and self.form is not None
        if form_mode:
            with contextlib.suppress(ValueError):
                self.form.fill(parse_input(self._json_text()))   # type: ignore[union-attr]
        elif self.form is not None:
            with contextlib.suppress(ValueError):
                self._set_json(json.dumps(self.form.data(), indent=1))
        self.form_area.visible = form_mode or self.form is None
        self.json.visible = not form_mode

    def data(self) -> dict[str, Any]:
        if self.mode.value == "Form" and self.form is not None:
            return self.form.data()
        return parse_input(self._json_text())

    def _json_text(self) -> str:
        # value_input follows every key press; value only on blur, which may come after a click
        return self.json.value_input or self.json.value or ""

    def _set_json(self, text: str) -> None:
        self.json.param.update(value=text, value_input=text)

    async def _start(self, _event: Any = None) -> None:
        self.message.visible = False
        if read_only(self.mesh):
            return self._say(refusal("start a job"))
        if not self.topic.value:
            return self._say("No active graph to start: deploy and activate a version first.")
        try:
            data = self.data()
        except ValueError as exc:
            return self._say(str(exc))
        problems = check_input(data, self.schema())
        if problems:
            return self._say("The input does not fit the graph's schema: " + "; ".join(problems))
        try:
            jid = await self.mesh.pub(self.topic.value, data)
        except Exception as exc:  # noqa: BLE001 - shown in the page
            return self._say(f"Could not start the job: {describe_error(exc)}")
        self._say(f"Started job {jid}.", "success")
        if self.on_started is not None:
            result = self.on_started(jid)
            if result is not None:
                await result

    def _say(self, text: str, kind: AlertType = "danger") -> None:
        self.message.alert_type, self.message.object, self.message.visible = kind, text, True
