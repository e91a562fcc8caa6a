"""The YAML editor: highlighting, compiler errors in the gutter, a live preview, deploy and activate.

``check_manifest`` is pure (text in, compiled app or located errors out); ``annotations_for`` maps
errors to Ace gutter annotations. ``EditorView`` needs only a ``Mesh`` (a ``HotMesh``, for deploy/activate),
so a notebook can use it too.

Deploy stores a version without activating it and shows its review (``HotMesh.review``: what it adds,
removes and changes against the active version, and what breaks running jobs); activation is the
review panel's button, enabled only once that review was shown and its breaking changes confirmed.
The preview colours either activity types or the changes against the active version.
"""

from __future__ import annotations

import html
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import panel as pn
import yaml

from hotmesh_core import ManifestError
from hotmesh_core.compiler import CompiledApp, diff_breaking, load_manifest, plan

from .access import read_only, refusal
from .diff import graph_diffs
from .graph import GraphView
from .mesh import Mesh
from .model import graph_models
from .review import build_review
from .review_panel import ReviewPanel
from .runtime import describe_error
from .theme import AlertType, legend_html

TYPES, CHANGES = "Types", "Changes"


@dataclass
class Check:
    """The outcome of checking a document: ``app`` when valid, else ``errors``."""

    app: CompiledApp | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)    # message, line, column, file, activity
    warnings: tuple[str, ...] = ()
    flattened: str | None = None     # the YAML with every $ref inlined (what deploy sends)

    @property
    def ok(self) -> bool:
        return self.app is not None and not self.errors


def check_manifest(text: str, base_dir: Path | None = None, app_id: str | None = None) -> Check:
    """Load, validate and compile ``text``; errors carry the line and column the compiler gave."""
    if not text.strip():
        return Check(errors=[{"message": "the document is empty", "line": 1, "column": None,
                              "file": None, "activity": None}])
    try:
        loaded = load_manifest(text, base_dir=base_dir)
        result = plan(loaded)
    except ManifestError as exc:
        return Check(errors=[conceal({"message": exc.reason, "line": exc.line, "column": exc.column,
                                      "file": exc.file, "activity": exc.activity}, text, base_dir)])
    except Exception as exc:  # noqa: BLE001 - any crash of the compiler is still a message, not a 500
        return Check(errors=[{"message": f"{type(exc).__name__}: {exc}", "line": 1, "column": None,
                              "file": None, "activity": None}])
    if app_id is not None and result.app.id != app_id:
        return Check(errors=[{"message": f"app.id is '{result.app.id}' but this is app '{app_id}'",
                              "line": _line_of(text, r"^\s*id\s*:"), "column": None, "file": None,
                              "activity": None}])
    flattened = text
    if "$ref" in text:
        plain = json.loads(json.dumps(loaded.document))
        flattened = yaml.safe_dump(plain, sort_keys=False, allow_unicode=True)
    return Check(app=result.app, warnings=result.warnings, flattened=flattened)


# The compiler says why a $ref file cannot be used; told apart, those reasons would let an editor probe
# the server's files (does /etc/x exist? is it a file? readable?). The page gets one sentence for all.
_FILE_REASONS = re.compile(r"^\$ref '(?P<ref>.*)'(?:: file not found| points outside the app folder"
                           r"| resolves \(through a symlink\) outside the app folder| is not a regular file)$", re.S)
_REF = re.compile(r"""\$ref['"]?\s*:\s*['"]?(?P<path>[^'"\s,}#]+)""")
NO_FILE = "$ref '{ref}': no readable file at this path in the app folder"


def conceal(error: dict[str, Any], text: str, base_dir: Path | None) -> dict[str, Any]:
    """``error`` as the page may show it: the same message (and place) whether a $ref file is missing,
    outside the app folder, not a file or unreadable; file names relative to the app folder."""
    root = base_dir.resolve() if base_dir is not None else None
    found = _FILE_REASONS.match(str(error["message"]))
    if found:
        error["message"] = NO_FILE.format(ref=found["ref"])
    elif str(error["message"]).startswith("cannot read manifest") and error.get("file") and root is not None:
        ref, line = _ref_to(text, root, Path(str(error["file"])))     # found, but the server may not read it
        error.update(message=NO_FILE.format(ref=ref), line=line, column=None, file=None)
    if error.get("file") and root is not None and Path(str(error["file"])).is_relative_to(root):
        error["file"] = Path(str(error["file"])).relative_to(root).as_posix()
    return error


def _ref_to(text: str, root: Path, target: Path) -> tuple[str, int | None]:
    """The $ref of ``text`` that names ``target`` and its line (the compiler's place for a missing file)."""
    for number, line in enumerate(text.splitlines(), 1):
        for match in _REF.finditer(line):
            if Path(os.path.normpath(root / match["path"])) == target:
                return match["path"], number
    return (target.relative_to(root).as_posix() if target.is_relative_to(root) else target.name), None


def _line_of(text: str, pattern: str) -> int:
    for number, line in enumerate(text.splitlines(), 1):
        if re.search(pattern, line):
            return number
    return 1


def annotations_for(errors: list[dict[str, Any]], top_file: str | None = None) -> list[dict[str, Any]]:
    """Ace annotations (0-based rows) for ``errors``; errors in other ($ref) files go on row 0."""
    out = []
    for error in errors:
        message = error["message"]
        if error.get("activity"):
            message = f"activity '{error['activity']}': {message}"
        elsewhere = error.get("file") not in (None, top_file)
        if elsewhere:
            where = f"{error['file']}" + (f":{error['line']}" if error.get("line") else "")
            out.append({"row": 0, "column": 0, "text": f"in {where}: {message}", "type": "error"})
            continue
        row = max(0, int(error.get("line") or 1) - 1)
        column = max(0, int(error.get("column") or 1) - 1)
        out.append({"row": row, "column": column, "text": message, "type": "error"})
    return out


def error_summary(errors: list[dict[str, Any]]) -> str:
    parts = []
    for error in errors:
        where = []
        if error.get("file"):
            where.append(str(error["file"]))
        if error.get("line"):
            where.append(f"line {error['line']}" + (f", column {error['column']}" if error.get("column") else ""))
        if error.get("activity"):
            where.append(f"activity '{error['activity']}'")
        parts.append((" · ".join(where) + ": " if where else "") + str(error["message"]))
    return "; ".join(parts)


def next_version(text: str, taken: list[str]) -> str:
    """``text`` with its version label raised past every label in ``taken`` (numeric labels)."""
    numbers = [int(v) for v in taken if v.isdigit()]
    match = re.search(r"^(\s*version\s*:\s*)(['\"]?)([^'\"\n]*)(['\"]?)\s*$", text, re.M)
    current = match.group(3).strip() if match else ""
    if current.isdigit():
        numbers.append(int(current))
    label = str(max(numbers, default=0) + 1)
    if not match:
        return text
    return text[:match.start()] + f"{match.group(1)}'{label}'" + text[match.end():]


class EditorView:
    """Edit an app's YAML; ``on_deployed(version, activated)`` is called after a deploy."""

    def __init__(self, mesh: Mesh | None = None, folder: Path | None = None, app_id: str | None = None,
                 on_deployed: Any = None, height: int = 560) -> None:
        self.mesh = mesh
        self.folder = folder
        self.app_id = app_id
        self.on_deployed = on_deployed
        self.read_only = read_only(mesh)
        self.check = Check()
        self._active_app: CompiledApp | None = None
        self._text_checked: str | None = None
        self.code = pn.widgets.CodeEditor(language="yaml", height=height, sizing_mode="stretch_width",
                                          theme="github_light_default", soft_tabs=True, indent=2,
                                          css_classes=["hm-editor"], print_margin=False)
        self.status = pn.pane.Alert("", alert_type="secondary", sizing_mode="stretch_width",
                                    css_classes=["hm-editor-status"], margin=(5, 5))
        self.deploy_button = pn.widgets.Button(label="Deploy", color="primary", disabled=True,
                                               css_classes=["hm-deploy"], width=90)
        self.review_button = pn.widgets.Button(label="Review changes", color="light", disabled=True, width=130,
                                               css_classes=["hm-review-button"])
        self.review = ReviewPanel(self._activate, read_only=self.read_only)
        self.bump_button = pn.widgets.Button(label="New version label", color="light", width=140)
        self.revert_button = pn.widgets.Button(label="Revert", color="light", width=80)
        self.outcome = pn.pane.Alert("", alert_type="info", visible=False, sizing_mode="stretch_width",
                                     css_classes=["hm-deploy-outcome"], margin=(5, 5))
        self.graph_select = pn.widgets.Select(options=[], width=220)
        self.preview_note = pn.pane.HTML("", align="center")
        self.colour = pn.widgets.RadioButtonGroup(options=[TYPES, CHANGES], value=TYPES, color="light",
                                                  disabled=True, css_classes=["hm-preview-colour"], width=160)
        self.legend = pn.pane.HTML(legend_html("type"))
        self.preview = GraphView(name="preview", height=470, direction="TB")   # tall fits the side panel
        self.relayouts = 0
        self.deployed_versions: list[str] = []
        self.deployed_message = ""
        self._original = ""
        self.code.param.watch(self._on_text, "value")
        self.graph_select.param.watch(lambda _e: self._show_preview(), "value")
        self.colour.param.watch(lambda _e: self._show_preview(), "value")
        self.deploy_button.on_click(self._deploy)
        self.review_button.on_click(self._on_review)
        self.bump_button.on_click(self._bump)
        self.revert_button.on_click(lambda _e: self.load(self._original))
        self.panel = pn.Row(
            pn.Column(pn.Row(self.deploy_button, self.review_button, self.bump_button, self.revert_button),
                      self.status, self.outcome, self.review.panel, self.code, sizing_mode="stretch_width"),
            pn.Column(pn.Row(pn.pane.HTML("<div class='hm-card-title'>Live preview</div>", align="center"),
                             self.graph_select),
                      pn.Row(self.colour, self.preview_note),
                      pn.pane.Bokeh(self.preview.figure, sizing_mode="stretch_width"),
                      self.legend, width=480),
            sizing_mode="stretch_width")

    def load(self, text: str, original: bool = False) -> None:
        if original:
            self._original = text
        self.outcome.visible = False
        self.code.value = text
        self._on_text()

    def _on_text(self, *_: Any) -> None:
        text = self.code.value or ""
        if text == self._text_checked:
            return
        self._text_checked = text
        self.check = check_manifest(text, self.folder, self.app_id)
        gate = self.review.gate
        if not gate.deployed or gate.activated:       # a review is of the text it was made from
            self.review.clear()
        self._show_check()

    @property
    def active_app(self) -> CompiledApp | None:
        """The active version: breaking changes and the preview's changes are against it."""
        return self._active_app

    @active_app.setter
    def active_app(self, app: CompiledApp | None) -> None:
        self._active_app = app
        self._show_check()

    def _show_check(self) -> None:
        self.code.annotations = annotations_for(self.check.errors)
        self.deploy_button.disabled = not self.check.ok or self.mesh is None or self.read_only
        self.review_button.disabled = not self.check.ok or self.mesh is None
        self.colour.disabled = self.active_app is None
        if self.check.ok:
            assert self.check.app is not None
            app = self.check.app
            count = sum(len(g.activities) for g in app.graphs)
            note = f" · {len(self.check.warnings)} warning(s): {'; '.join(self.check.warnings)}" \
                if self.check.warnings else ""
            breaking = diff_breaking(self.active_app, app) if self.active_app is not None else []
            if breaking:
                note += (f" · **{len(breaking)} breaking change(s)** for jobs running on version "
                         f"{self.active_app.version}: {'; '.join(breaking)}")   # type: ignore[union-attr]
            self.status.alert_type = "warning" if breaking else "success"
            self.status.object = (f"Valid: app **{app.id}** version **{app.version}**, {len(app.graphs)} "
                                  f"graph(s), {count} activities{note}")
            topics = [g.subscribes for g in app.graphs]
            if list(self.graph_select.options) != topics:
                self.graph_select.options = topics
            if self.graph_select.value not in topics:
                self.graph_select.value = topics[0] if topics else None
            self._show_preview()
        else:
            self.status.alert_type = "danger"
            self.status.object = "Invalid, deploy is disabled: " + error_summary(self.check.errors)
            self.preview_note.object = "<span class='hm-muted'>the last valid document</span>"

    def _show_preview(self) -> None:
        if not self.check.ok or self.check.app is None:
            return
        changes = self.colour.value == CHANGES and self.active_app is not None
        if changes:
            assert self.active_app is not None
            diffs = {d.topic: d for d in graph_diffs(self.active_app, self.check.app)}
            models = {topic: d.model for topic, d in diffs.items()}
        else:
            models = {m.topic: m for m in graph_models(self.check.app)}
        topic = self.graph_select.value if self.graph_select.value in models else next(iter(models), None)
        if topic is None:
            return
        if self.preview.show(models[topic]):
            self.relayouts += 1
        if changes:
            self.preview.set_marks(diffs[topic].marks)
            self.preview_note.object = (f"<span class='hm-muted'>changes against active version "
                                        f"{html.escape(self.active_app.version)}</span>")   # type: ignore[union-attr]
        else:
            self.preview.colour_by_type()
            self.preview_note.object = "<span class='hm-muted'>the current document</span>"
        self.legend.visible = not changes         # the diff's legend is on the chart

    def _bump(self, _event: Any) -> None:
        self.load(next_version(self.code.value or "", self.deployed_versions))

    async def _on_review(self, _event: Any) -> None:
        await self._review()

    async def _review(self) -> bool:
        """Show what the document changes against the active version; False when it could not."""
        if not self.check.ok or self.mesh is None:
            return False
        text = self.check.flattened or self.code.value
        try:
            plan = await self.mesh.review(text)
            active = await self.mesh.compiled(plan.active) if plan.active is not None else None
        except Exception as exc:  # noqa: BLE001 - shown in the page
            self._say("danger", f"Review failed: {describe_error(exc)}")
            return False
        self.review.show(build_review(plan, active))
        self.active_app = active
        if active is not None:
            self.colour.value = CHANGES          # the preview shows the same changes, in colour
        return True

    async def _deploy(self, _event: Any) -> None:
        """Review, then store the version; activation waits for the review panel's button."""
        if self.read_only:                 # the button is off; a crafted click still ends here
            self._say("danger", refusal("deploy"))
            return
        if not self.check.ok or self.mesh is None:
            return
        text = self.check.flattened or self.code.value
        self.deploy_button.disabled = True
        self._say("info", "Reviewing and deploying…")
        try:
            if not await self._review():
                return
            version = await self.mesh.deploy(text)
        except Exception as exc:  # noqa: BLE001 - shown in the page
            self._say("danger", f"Deploy failed: {describe_error(exc)}")
            return
        finally:
            self.deploy_button.disabled = not self.check.ok
        self.review.mark_deployed(version)
        self._original = self.code.value
        review = self.review.review
        step = ("confirm the breaking changes, then activate it" if review and review.needs_confirmation
                else "activate it when ready")
        self._say("success", f"Deployed version **{version}** (not active yet). Review the changes below, {step}.")
        self.deployed_message = f"Deployed version **{version}**."
        if version not in self.deployed_versions:
            self.deployed_versions.append(version)
        if self.on_deployed is not None:
            await self.on_deployed(version, False)

    async def _activate(self) -> None:
        """The review panel's Activate: re-checked against the active version, then the quorum."""
        review = self.review.review
        if review is None or self.mesh is None:
            return
        try:
            active = await self.mesh.active_version()
            if active != review.active:           # someone activated another version since the review
                plan = await self.mesh.review(await self.mesh.source(review.version) or "")
                current = await self.mesh.compiled(active) if active is not None else None
                self.review.show(build_review(plan, current), deployed=True)
                self.active_app = current
                self._say("warning", f"The active version is now {active}, not {review.active}: "
                                     "the review was made again, check it before activating.")
                return
            result = await self.mesh.activate(review.version)
        except Exception as exc:  # noqa: BLE001 - shown in the page
            self._say("danger", f"Activation of version {review.version} failed: {describe_error(exc)}")
            self.review.refresh()
            return
        activated = result is not False
        if activated:
            self.review.mark_activated()
        else:
            self.review.refresh()
        self._say("success" if activated else "danger",
                  f"{self.deployed_message} Activation: **{activation_text(result)}**.")
        if activated and self.on_deployed is not None:
            await self.on_deployed(review.version, True)

    def _say(self, kind: AlertType, message: str) -> None:
        self.outcome.visible = True
        self.outcome.alert_type, self.outcome.object = kind, message


def activation_text(result: Any) -> str:
    """The activation outcome as the protocol returned it (True today; a report when quorum lands)."""
    if result is True:
        return "active on all engines"
    if result is False:
        return "refused"
    if isinstance(result, dict):
        return ", ".join(f"{k}: {v}" for k, v in result.items())
    return str(result)
