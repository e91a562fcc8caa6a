"""What the inspector shows for one activity: its YAML, and per execution its input, output, hook
data, error and timings (HTML built from an export; pure functions)."""

from __future__ import annotations

import html
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml

from hotmesh_core.compiler.model import Activity

from .status import parse_ts

SKIP = {"line", "file", "consumes", "ancestors", "children", "graph", "trigger", "code_job_maps"}


def activity_yaml(activity: Activity, source: str | None = None, folder: Path | None = None) -> str:
    """The activity's block from the deployed YAML when it can be found, else the compiled form."""
    text = source
    if activity.file and folder is not None:
        path = (folder / activity.file).resolve()
        inside = path.is_relative_to(folder.resolve())        # only the app's own files are shown
        text = path.read_text() if inside and path.is_file() else None
    if text and activity.line:
        block = yaml_block(text, activity.line)
        if block:
            return block
    compiled = {k: v for k, v in asdict(activity).items() if v not in (None, (), {}, []) and k not in SKIP}
    return yaml.safe_dump(json.loads(json.dumps(compiled)), sort_keys=False)


def yaml_block(text: str, line: int) -> str:
    """The lines of the mapping entry that starts at ``line`` (1-based), dedented."""
    lines = text.splitlines()
    if not 1 <= line <= len(lines):
        return ""
    head = lines[line - 1]
    indent = len(head) - len(head.lstrip())
    block = [head]
    for nxt in lines[line:]:
        if nxt.strip() and len(nxt) - len(nxt.lstrip()) <= indent:
            break
        block.append(nxt)
    while block and not block[-1].strip():
        block.pop()
    return "\n".join(row[indent:] for row in block)


def _pre(value: Any, css: str = "hm-pre") -> str:
    text = value if isinstance(value, str) else json.dumps(value, indent=2, sort_keys=True, default=str)
    return f"<pre class='{css}'>{html.escape(text)}</pre>"


def executions_of(export: dict[str, Any] | None, aid: str) -> list[dict[str, Any]]:
    if not export:
        return []
    return [a for a in export.get("activities", []) if a["aid"] == aid]


def inspector_html(activity: Activity | None, aid: str, export: dict[str, Any] | None, status: str,
                   yaml_text: str = "") -> str:
    """The inspector body for ``aid``: header, YAML, then each execution (newest first)."""
    runs = executions_of(export, aid)
    kind = activity.type if activity else (runs[0].get("type") if runs else "?")
    title = html.escape(activity.title or "") if activity else ""
    parts = [f"<div class='hm-title'>{html.escape(aid)} <span class='hm-badge hm-status-{status}'>{status}</span>"
             f"</div><div class='hm-muted'>{html.escape(str(kind))}{' · ' + title if title else ''} · "
             f"{len(runs)} attempt(s)/execution(s)</div>"]
    for number, run in enumerate(reversed(runs), 1):
        started, updated = parse_ts(run.get("created")), parse_ts(run.get("updated"))
        duration = f"{updated - started} ms" if started is not None and updated is not None else "—"
        rows = [("address", run.get("dad")), ("started", clock(run.get("created"))),
                ("updated", clock(run.get("updated"))), ("duration", duration)]
        table = "".join(f"<tr><td>{k}</td><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
        parts.append(f"<div class='hm-card-title'>Execution {len(runs) - number + 1}</div>"
                     f"<table class='hm-kv'>{table}</table>")
        if run.get("error"):
            parts.append("<div class='hm-card-title' style='color:#b91c1c'>Error</div>" + _pre(_json(run["error"])))
        parts.append("<div class='hm-card-title'>Input</div>" + _pre(run.get("input")
                                                                   if run.get("input") is not None else {}))
        parts.append("<div class='hm-card-title'>Output</div>" + _pre(run.get("output")
                                                                    if run.get("output") is not None else {}))
        if run.get("hook") is not None:
            parts.append("<div class='hm-card-title'>Signal data</div>" + _pre(run["hook"]))
    if not runs:
        parts.append("<div class='hm-muted'>Not run yet in this job.</div>")
    for number, record in enumerate(resumed_attempts(export, aid), 1):
        failed = record.get("failed") or {}
        parts.append(f"<div class='hm-card-title hm-earlier-attempt'>Failed attempt {number} (resumed "
                     f"{html.escape(clock(record.get('at')))})</div>"
                     + "<div class='hm-card-title' style='color:#b91c1c'>Error</div>" + _pre(failed.get("error") or {})
                     + "<div class='hm-card-title'>Input</div>" + _pre(failed.get("input") or {}))
    if yaml_text:
        parts.append("<div class='hm-card-title'>YAML</div>" + _pre(yaml_text))
    return "<div class='hm-inspector'>" + "".join(parts) + "</div>"


def resumed_attempts(export: dict[str, Any] | None, aid: str) -> list[dict[str, Any]]:
    """The history records of the resumes of ``aid`` (each holds the failed attempt it replaced)."""
    return [r for r in (export or {}).get("history") or [] if r.get("kind") == "resume" and r.get("activity") == aid]


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def clock(value: str | None) -> str:
    """``20250101120000.123`` -> ``2025-01-01 12:00:00.123 UTC``."""
    if not value or len(value) < 14:
        return value or "—"
    return f"{value[0:4]}-{value[4:6]}-{value[6:8]} {value[8:10]}:{value[10:12]}:{value[12:]} UTC"
