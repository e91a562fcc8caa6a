"""Fleet: the roll call of an app's engines and workers (every process that answers), with their
stream depth, pending entries, counts by status code and throttle, and throttle/pause/resume per
topic or for all, through the quorum.

When nobody answers the roll call in time (a pub/sub hiccup), the rows are this server process's
own members (``HotMesh.members``); depths and pending entries come from Redis either way
(``HotMesh.stream_stats``) and cover every process.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import panel as pn

from hotmesh_core.keys import ENGINE_GROUP, WORKER_GROUP

from .access import read_only, refusal
from .mesh import Mesh
from .runtime import describe_error
from .theme import TABLE_CSS, AlertType

PAUSED = -1
COLUMNS = ["role", "topic", "throttle", "depth", "pending", "consumers", "process", "pid", "counts"]


def throttle_text(ms: int | None) -> str:
    if ms is None:
        return "—"
    return "paused" if ms < 0 or ms >= 2**31 - 1 else (f"{ms} ms" if ms else "none")


def counts_text(counts: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(counts.items(), key=lambda kv: str(kv[0]))) or "0"


async def fleet_rows(mesh: Mesh) -> tuple[list[dict[str, Any]], bool]:
    """Rows of the fleet table, and whether they come from a roll call of every process."""
    stats: dict[str, dict[str, int]] = {}

    async def stream_stats(stream: str, role: str) -> dict[str, int]:
        if stream not in stats:
            stats[stream] = await mesh.stream_stats(stream, ENGINE_GROUP if role == "engine" else WORKER_GROUP)
        return stats[stream]

    profiles = await mesh.roll_call()
    everyone = bool(profiles)
    if not everyone:
        profiles = mesh.members()
    rows = []
    for profile in profiles:
        # one stream per shard: backlog and pending add up, each consumer reads every shard
        per_shard = [await stream_stats(stream, profile["role"])
                     for stream in profile.get("streams") or [profile["stream"]]]
        found = {"backlog": sum(f["backlog"] for f in per_shard), "pending": sum(f["pending"] for f in per_shard),
                 "consumers": max(f["consumers"] for f in per_shard)}
        rows.append({"role": profile["role"], "topic": profile.get("topic") or "(engine)",
                     "process": str(profile.get("guid", ""))[:10],
                     "pid": (profile.get("system") or {}).get("pid", ""),
                     "depth": profile.get("stream_depth", found["backlog"]), "pending": found["pending"],
                     "consumers": found["consumers"], "counts": counts_text(profile.get("counts") or {}),
                     "throttle": throttle_text(profile.get("throttle"))})
    return rows, everyone


class FleetView:
    def __init__(self, mesh: Mesh) -> None:
        self.mesh = mesh
        self.everyone = True
        self.table = pn.widgets.Tabulator(pd.DataFrame(columns=COLUMNS), show_index=False, disabled=True,
                                          selectable=False, theme="bootstrap5", sizing_mode="stretch_width",
                                          layout="fit_data_stretch", css_classes=["hm-fleet-table"],
                                          stylesheets=[TABLE_CSS])
        self.note = pn.pane.HTML("", sizing_mode="stretch_width")
        self.topic = pn.widgets.Select(label="Topic", options=["all"], value="all", width=200)
        self.throttle = pn.widgets.IntInput(label="Throttle (ms between messages)", value=0, start=0, width=220)
        self.apply_button = pn.widgets.Button(label="Apply", color="primary", width=80, align="end")
        self.pause_button = pn.widgets.Button(label="Pause", color="warning", width=80, align="end",
                                              css_classes=["hm-fleet-pause"])
        self.resume_button = pn.widgets.Button(label="Resume", color="success", width=90, align="end",
                                               css_classes=["hm-fleet-resume"])
        for button in (self.apply_button, self.pause_button, self.resume_button):
            button.disabled = read_only(mesh)
        self.message = pn.pane.Alert("", alert_type="info", visible=False, sizing_mode="stretch_width",
                                     css_classes=["hm-fleet-message"])
        self.apply_button.on_click(self._apply)
        self.pause_button.on_click(self._pause)
        self.resume_button.on_click(self._resume)
        self.panel = pn.Column(self.note, self.table,
                               pn.Row(self.topic, self.throttle, self.apply_button, self.pause_button,
                                      self.resume_button),
                               self.message, sizing_mode="stretch_width")

    async def load(self) -> None:
        try:
            rows, self.everyone = await fleet_rows(self.mesh)
        except Exception as exc:  # noqa: BLE001 - shown in the page
            self._say(f"Could not read the fleet: {describe_error(exc)}", "danger")
            return
        self.table.value = pd.DataFrame(rows, columns=COLUMNS)
        topics = ["all", *dict.fromkeys(r["topic"] for r in rows if r["role"] == "worker")]
        if list(self.topic.options) != topics:
            self.topic.options = topics
        if self.topic.value not in topics:
            self.topic.value = "all"
        self.note.object = ("<div class='hm-muted'>Every engine and worker of the app that answered the roll "
                            "call, refreshed every 2 s. Throttles go through the quorum and persist.</div>"
                            if self.everyone else
                            "<div class='hm-muted'>No answer to the roll call in time: the rows are this "
                            "studio server's own engine and workers (depths and pending entries come from "
                            "Redis and cover every process). Throttles still go through the quorum.</div>")

    async def _apply(self, _event: Any = None) -> None:
        await self.set_throttle(int(self.throttle.value or 0))

    async def _pause(self, _event: Any = None) -> None:
        await self.set_throttle(PAUSED)

    async def _resume(self, _event: Any = None) -> None:
        await self.set_throttle(0)

    async def set_throttle(self, ms: int) -> None:
        chosen = self.topic.value or "all"
        what = "paused" if ms < 0 else (f"throttled to {ms} ms" if ms else "resumed")
        if read_only(self.mesh):
            return self._say(refusal("throttle, pause or resume"), "danger")
        try:
            applied = await self.mesh.throttle(ms, topic=None if chosen == "all" else chosen)
            self._say(f"{chosen} {what}: applied by {applied} member(s) of the quorum.", "info")
        except Exception as exc:  # noqa: BLE001 - shown in the page
            self._say(f"Throttle failed: {describe_error(exc)}", "danger")
        await self.load()

    def _say(self, text: str, kind: AlertType) -> None:
        self.message.alert_type, self.message.object, self.message.visible = kind, text, True
