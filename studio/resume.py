"""Resume a failed run from its failed step, and the run's history (resumes and re-runs).

``ResumePanel`` is the run detail's resume form: shown for a failed run, a choice of the failed
activities (the latest first), an input editor prefilled with the input that activity received,
and a "Resume from <activity>" button that calls ``HotMesh.resume`` (the engine does the work).
``history_html`` renders the ``history`` of an export (pure). No I/O here except through the
callback the run detail hands in.
"""

from __future__ import annotations

import html
import json
from collections.abc import Awaitable, Callable
from typing import Any

import panel as pn

from .inspector import clock
from .status import parse_ts
from .theme import AlertType

ResumeAction = Callable[[str, dict[str, Any] | None], Awaitable[None]]
Say = Callable[[str, AlertType], None]


def failed_executions(export: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The failed activity executions of an export, the latest first."""
    runs = [a for a in (export or {}).get("activities", []) if a.get("error")]
    return sorted(runs, key=lambda a: (a.get("updated") or "", a.get("dad") or ""), reverse=True)


def _pretty(value: Any) -> str:
    return json.dumps(value if value is not None else {}, indent=2, sort_keys=True, default=str)


class ResumePanel:
    """The resume form of one run (hidden unless the run failed)."""

    def __init__(self, action: ResumeAction, say: Say) -> None:
        self._action = action
        self._say = say
        self._inputs: dict[str, Any] = {}
        self.activity = pn.widgets.Select(label="Failed activity", options=[], width=200,
                                          css_classes=["hm-resume-activity"])
        self.editor = pn.widgets.TextAreaInput(label="Input (JSON): edit it, or resume with it as it was",
                                               value="{}", height=130, sizing_mode="stretch_width",
                                               css_classes=["hm-resume-input"])
        self.button = pn.widgets.Button(label="Resume", color="success", width=220,
                                        css_classes=["hm-resume"])
        self.activity.param.watch(self._on_activity, "value")
        self.button.on_click(self._clicked)
        self.panel = pn.Column(pn.pane.HTML("<div class='hm-card-title'>Resume from the failed step</div>"),
                               pn.Row(self.activity, self.button, align="end"), self.editor,
                               sizing_mode="stretch_width", visible=False, css_classes=["hm-resume-form"])

    def show(self, export: dict[str, Any] | None, failed: bool, disabled: bool) -> None:
        """Refresh from a new export: the failed activities and their inputs (the editor keeps
        what the person typed while the same activity stays chosen)."""
        runs = failed_executions(export) if failed else []
        self.panel.visible = bool(runs)
        self.button.disabled = disabled
        if not runs:
            return
        inputs: dict[str, Any] = {}
        for run in runs:
            inputs.setdefault(run["aid"], run.get("input"))
        changed = inputs != self._inputs
        self._inputs = inputs
        if changed:
            self.activity.options = list(inputs)
            if self.activity.value not in inputs:
                self.activity.value = runs[0]["aid"]
            self._on_activity()

    def _on_activity(self, *_: Any) -> None:
        aid = self.activity.value
        self.button.label = f"Resume from {aid}" if aid else "Resume"
        text = _pretty(self._inputs.get(aid or ""))
        self.editor.param.update(value=text, value_input=text)     # no stale typing left behind

    async def _clicked(self, _event: Any = None) -> None:
        aid = self.activity.value
        if not aid:
            return
        text = self.editor.value_input or self.editor.value       # typed (live), else the value
        try:
            data = json.loads(text or "{}")
        except ValueError as exc:
            self._say(f"Invalid input: {exc}", "danger")
            return
        if not isinstance(data, dict):
            self._say("Invalid input: it must be a JSON object", "danger")
            return
        original = self._inputs.get(aid)
        unchanged = data == (original if original is not None else {})   # None: its input is mapped again
        await self._action(aid, None if unchanged else data)


def history_html(export: dict[str, Any] | None) -> str:
    """The run's history: each resume (when, from which activity, with what input, the failed
    attempt's error) and each re-run (the other job), oldest first."""
    history = (export or {}).get("history") or []
    parts = []
    rerun_of = (export or {}).get("rerun_of")
    if rerun_of:
        parts.append(f"<li class='hm-history-item'>re-run of job <code>{html.escape(str(rerun_of))}</code></li>")
    for record in history:
        when = html.escape(clock(record.get("at")))
        if record.get("kind") == "resume":
            error = (record.get("failed") or {}).get("error") or {}
            message = error.get("message") if isinstance(error, dict) else str(error)
            edited = "edited input" if record.get("edited") else "the same input"
            parts.append(
                f"<li class='hm-history-item' data-kind='resume'>{when}: <b>resumed from "
                f"{html.escape(str(record.get('activity')))}</b> with {edited} "
                f"<code>{html.escape(json.dumps(record.get('input'), sort_keys=True))}</code>; the failed attempt: "
                f"{html.escape(str(message))}</li>")
        elif record.get("to"):
            parts.append(f"<li class='hm-history-item' data-kind='rerun'>{when}: <b>re-run</b> as job "
                         f"<code>{html.escape(str(record['to']))}</code></li>")
    if not parts:
        return "<div class='hm-history hm-muted'>No resume or re-run yet.</div>"
    return "<ul class='hm-history'>" + "".join(parts) + "</ul>"


def attempt_rows(export: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Gantt rows (``JobState.timeline`` shape) for the failed attempts a resume replaced, so the
    timeline shows the failed attempt and the one that followed on the same row."""
    rows = []
    for record in (export or {}).get("history") or []:
        failed = record.get("failed") if record.get("kind") == "resume" else None
        if not failed:
            continue
        start, end = parse_ts(failed.get("created")), parse_ts(failed.get("updated"))
        if start is None:
            continue
        rows.append({"aid": record.get("activity"), "dad": failed.get("address"), "start": start,
                     "end": max(end or start, start + 1), "status": "failed"})
    return rows
