"""The review before activation, as data: what a candidate version changes against the active one.

``build_review`` turns ``HotMesh.review``'s ``Plan`` (warnings, breaking changes) and the active
compiled app into a ``Review`` (added, removed and changed activities, graphs, breaking changes);
``review_html`` renders it; ``Gate`` says whether the Activate button may be pressed. Pure: no
Panel, no Redis, so the rules are unit-tested (``review_panel.py`` is the widget).
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from hotmesh_core.compiler import CompiledApp
from hotmesh_core.deployment import Plan

from .diff import activity_changes


@dataclass(frozen=True)
class Change:
    """One activity the candidate adds, removes or changes (``fields``: what differs)."""

    aid: str
    graph: str
    mark: str                       # added | removed | changed
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class Review:
    app_id: str
    version: str                    # the candidate
    active: str | None              # the version it is compared with (None: nothing active yet)
    changes: tuple[Change, ...]
    graphs_added: tuple[str, ...]
    graphs_removed: tuple[str, ...]
    breaking: tuple[str, ...]       # why jobs started on the active version may be stranded
    warnings: tuple[str, ...]
    in_flight: int | None = None    # jobs running on the active version, when the Plan counts them

    def marked(self, mark: str) -> list[Change]:
        return [c for c in self.changes if c.mark == mark]

    @property
    def needs_confirmation(self) -> bool:
        return bool(self.breaking)

    @property
    def unchanged(self) -> bool:
        return not (self.changes or self.graphs_added or self.graphs_removed)


def build_review(plan: Plan, active_app: CompiledApp | None) -> Review:
    """The review of ``plan.app`` against ``active_app`` (the compiled ``plan.active``)."""
    new = plan.app
    changes: list[Change] = []
    added_graphs: tuple[str, ...] = ()
    removed_graphs: tuple[str, ...] = ()
    if active_app is not None:
        old = active_app
        for aid in sorted(new.activities.keys() - old.activities.keys()):
            changes.append(Change(aid, new.activities[aid].graph, "added"))
        for aid in sorted(old.activities.keys() - new.activities.keys()):
            changes.append(Change(aid, old.activities[aid].graph, "removed"))
        for aid in sorted(old.activities.keys() & new.activities.keys()):
            fields = activity_changes(old, new, aid)
            if fields:
                changes.append(Change(aid, new.activities[aid].graph, "changed", tuple(fields)))
        added_graphs = tuple(sorted(set(new.subscriptions) - set(old.subscriptions)))
        removed_graphs = tuple(sorted(set(old.subscriptions) - set(new.subscriptions)))
    in_flight = getattr(plan, "in_flight", None)      # a later Plan may count the jobs it strands
    return Review(new.id, new.version, plan.active, tuple(changes), added_graphs, removed_graphs,
                  tuple(plan.breaking), tuple(plan.warnings), in_flight if isinstance(in_flight, int) else None)


@dataclass
class Gate:
    """When may the reviewed version be activated: once its review was shown, the version is
    deployed, and its breaking changes (if any) were confirmed."""

    review: Review | None = None
    deployed: bool = False
    confirmed: bool = False
    activated: bool = False

    def blocked(self) -> str | None:
        """Why Activate is disabled, or None when it may be pressed."""
        if self.review is None:
            return "review the changes first"
        if self.activated:
            return f"version {self.review.version} is active"
        if not self.deployed:
            return "deploy this version first"
        if self.review.needs_confirmation and not self.confirmed:
            return "confirm the breaking changes first"
        return None


MARK_TITLES = {"added": "Added", "removed": "Removed", "changed": "Changed"}


def review_html(review: Review) -> str:
    """The review as the page shows it: breaking changes first and highlighted, then what changes."""
    esc = html.escape
    if review.active is None:
        against = "nothing is active yet: this will be the first active version"
    elif review.active == review.version:
        against = "already the active version"
    else:
        against = f"against the active version <b>{esc(review.active)}</b>"
    parts = [f"<div class='hm-review-head'>Version <b>{esc(review.version)}</b> of {esc(review.app_id)}, "
             f"{against}</div>"]
    if review.breaking:
        items = "".join(f"<li>{esc(reason)}</li>" for reason in review.breaking)
        stranded = (f" {review.in_flight} job(s) are running on version {esc(str(review.active))}."
                    if review.in_flight else "")
        parts.append(f"<div class='hm-review-breaking'><b>{len(review.breaking)} breaking change(s)</b>: jobs "
                     f"started on version {esc(str(review.active))} may be stranded.{stranded}<ul>{items}</ul></div>")
    elif review.in_flight is not None:
        parts.append(f"<div class='hm-muted'>{review.in_flight} job(s) running on the active version.</div>")
    rows = []
    for graph in review.graphs_added:
        rows.append(_row("added", f"graph {esc(graph)}", ""))
    for graph in review.graphs_removed:
        rows.append(_row("removed", f"graph {esc(graph)}", ""))
    for change in review.changes:
        rows.append(_row(change.mark, esc(change.aid), esc(", ".join(change.fields)) or esc(change.graph)))
    if rows:
        parts.append("<table class='hm-review-changes'>" + "".join(rows) + "</table>")
    elif review.active is not None:
        parts.append("<div class='hm-muted'>No activity changes.</div>")
    if review.warnings:
        items = "".join(f"<li>{esc(w)}</li>" for w in review.warnings)
        parts.append(f"<div class='hm-review-warnings'>{len(review.warnings)} warning(s)<ul>{items}</ul></div>")
    return "<div class='hm-review-body'>" + "".join(parts) + "</div>"


def _row(mark: str, name: str, detail: str) -> str:
    return (f"<tr class='hm-review-{mark}' data-mark='{mark}'><td><span class='hm-chip hm-mark-{mark}'>"
            f"{MARK_TITLES[mark]}</span></td><td><b>{name}</b></td><td class='hm-muted'>{detail}</td></tr>")
