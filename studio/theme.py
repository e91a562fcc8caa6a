"""Colours, shapes and the page's CSS, in one place. Everything is inline: nothing loads from a CDN."""

from __future__ import annotations

from typing import Literal

#: the colours of a ``pn.pane.Alert`` (its ``alert_type``)
AlertType = Literal["primary", "secondary", "success", "danger", "warning", "info", "light", "dark"]

# activity type -> (colour, Bokeh marker): shape and colour both tell the type
TYPE_STYLE = {
    "trigger": ("#0f766e", "triangle"),
    "worker": ("#2563eb", "square"),
    "await": ("#7c3aed", "diamond"),
    "hook": ("#c2410c", "hex"),
    "cycle": ("#be185d", "circle_cross"),
    "signal": ("#0e7490", "inverted_triangle"),
    "interrupt": ("#b91c1c", "x"),
    "signal-in": ("#64748b", "star"),
}

STATUS_COLORS = {
    "pending": "#e2e8f0",
    "running": "#fcd34d",
    "done": "#86efac",
    "failed": "#fca5a5",
    "interrupted": "#c4b5fd",
}

DIFF_COLORS = {"added": "#bbf7d0", "removed": "#fecaca", "changed": "#fde68a", "same": "#f1f5f9"}
# the outline of a diff mark (green, red, amber); an unchanged activity keeps its type's colour
DIFF_LINES = {"added": "#16a34a", "removed": "#dc2626", "changed": "#d97706"}
DIFF_LABELS = {"added": "added", "removed": "removed", "changed": "changed", "same": "unchanged"}
GHOST_ALPHA = 0.45          # a removed activity is drawn from the old version, faded and dashed

# edge kind -> (colour, dash, width)
EDGE_STYLE = {
    "transition": ("#64748b", "solid", 1.6),
    "cycle": ("#be185d", "dashed", 1.8),
    "hook": ("#c2410c", "dotted", 2.0),
}


def tint(color: str, amount: float = 0.86) -> str:
    """A light version of ``#rrggbb`` (mixed with white)."""
    r, g, b = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    mix = [round(c + (255 - c) * amount) for c in (r, g, b)]
    return "#" + "".join(f"{c:02x}" for c in mix)


def legend_html(kind: str = "type") -> str:
    """A small HTML legend: activity types, statuses or diff marks."""
    if kind == "status":
        items = [(c, s) for s, c in STATUS_COLORS.items()]
    elif kind == "diff":
        items = [(c, DIFF_LABELS[s]) for s, c in DIFF_COLORS.items()]
    else:
        items = [(tint(c), t) for t, (c, _) in TYPE_STYLE.items() if t != "signal-in"]
    chips = "".join(f"<span class='hm-chip' style='background:{c}'>{label}</span>" for c, label in items)
    extra = ("<span class='hm-edge hm-edge-cycle'>cycle</span><span class='hm-edge hm-edge-hook'>hook rule</span>"
             if kind == "type" else "")
    return f"<div class='hm-legend'>{chips}{extra}</div>"


CSS = """
:root { --hm-ink: #0f172a; --hm-muted: #64748b; --hm-line: #e2e8f0; --hm-accent: #0f766e; }
.hm-legend { display: flex; flex-wrap: wrap; gap: 6px; font-size: 12px; color: var(--hm-ink); }
.hm-chip { padding: 2px 8px; border-radius: 10px; border: 1px solid #cbd5e1; }
.hm-edge { padding: 2px 8px; border-bottom: 2px dashed #be185d; }
.hm-edge-hook { border-bottom: 2px dotted #c2410c; }
.hm-muted { color: var(--hm-muted); font-size: 13px; }
.hm-title { font-size: 15px; font-weight: 600; color: var(--hm-ink); margin: 0; }
.hm-kv { font-size: 12.5px; border-collapse: collapse; width: 100%; }
.hm-kv td { padding: 3px 6px; border-bottom: 1px solid var(--hm-line); vertical-align: top; }
.hm-kv td:first-child { color: var(--hm-muted); width: 110px; white-space: nowrap; }
.hm-pre { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px; background: #f8fafc;
  border: 1px solid var(--hm-line); border-radius: 6px; padding: 6px 8px; margin: 2px 0 8px 0;
  max-height: 220px; overflow: auto; white-space: pre-wrap; word-break: break-word; }
.hm-diff { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px; border: 1px solid var(--hm-line);
  border-radius: 6px; padding: 6px 0; max-height: 520px; overflow: auto; background: #fff; }
.hm-diff div { padding: 0 10px; white-space: pre; }
.hm-add { background: #dcfce7; color: #14532d; }
.hm-del { background: #fee2e2; color: #7f1d1d; }
.hm-hunk { background: #f1f5f9; color: var(--hm-muted); }
.hm-badge { display: inline-block; padding: 1px 9px; border-radius: 10px; font-size: 12px; font-weight: 600;
  border: 1px solid rgba(15,23,42,.15); color: var(--hm-ink); }
.hm-status-pending { background: #e2e8f0; } .hm-status-running { background: #fcd34d; }
.hm-status-done { background: #86efac; } .hm-status-failed { background: #fca5a5; }
.hm-status-interrupted { background: #c4b5fd; }
.hm-card-title { font-weight: 600; font-size: 13px; color: var(--hm-ink); text-transform: uppercase;
  letter-spacing: .04em; margin: 4px 0; }
.hm-brand { font-weight: 700; letter-spacing: .02em; }
.hm-review-head { font-size: 13.5px; color: var(--hm-ink); margin-bottom: 6px; }
.hm-review-breaking { background: #fef2f2; border: 1px solid #dc2626; border-left: 5px solid #dc2626;
  border-radius: 6px; padding: 6px 10px; margin: 4px 0 8px 0; color: #7f1d1d; font-size: 13px; }
.hm-review-breaking ul, .hm-review-warnings ul { margin: 4px 0 0 0; padding-left: 20px; }
.hm-review-warnings { color: #92400e; font-size: 12.5px; margin-top: 6px; }
.hm-review-changes { font-size: 12.5px; border-collapse: collapse; width: 100%; }
.hm-review-changes td { padding: 3px 6px; border-bottom: 1px solid var(--hm-line); }
.hm-mark-added { background: #bbf7d0; border-color: #16a34a; }
.hm-mark-removed { background: #fecaca; border-color: #dc2626; border-style: dashed; }
.hm-mark-changed { background: #fde68a; border-color: #d97706; }
"""

TABLE_CSS = """
.tabulator, .tabulator .tabulator-row, .tabulator .tabulator-header, .tabulator .tabulator-cell,
.tabulator .tabulator-footer { font-size: 13px !important; }
.tabulator .tabulator-header .tabulator-col .tabulator-col-content { padding: 6px 8px; }
.tabulator-row .tabulator-cell { padding: 5px 8px; }
.tabulator-row { cursor: pointer; }
"""

GRAPH_ICON = ("<svg xmlns='http://www.w3.org/2000/svg' width='16' height='16' viewBox='0 0 24 24' fill='none' "
              "stroke='currentColor' stroke-width='2'><circle cx='5' cy='12' r='3'/><circle cx='19' cy='5' r='3'/>"
              "<circle cx='19' cy='19' r='3'/><path d='M8 11l8-5M8 13l8 5'/></svg>")
