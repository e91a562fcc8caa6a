"""Fault injection for crash tests: ``crash_point(name)`` exits the process at a named point.

Set ``HOTMESH_FAULTS`` to a comma-separated list of point names (``leg2.after_step``) to arm them;
``name@N`` fires on the N-th time the point is reached (default the first). With
``HOTMESH_FAULTS_ONCE`` naming a file, a point fires only if that file does not exist yet (it is
created just before the exit), so a restarted process runs clean. Unarmed points cost one dict
lookup. Points: trigger.after_step, leg1.before_step, leg1.after_step, leg2.before_step,
leg2.after_step, complete.before, complete.after, worker.before_reply, worker.after_reply,
scout.after_move.
"""

from __future__ import annotations

import os
from pathlib import Path


def _armed() -> dict[str, int]:
    armed: dict[str, int] = {}
    for item in filter(None, (os.environ.get("HOTMESH_FAULTS") or "").split(",")):
        name, _, nth = item.strip().partition("@")
        armed[name] = int(nth or 1)
    return armed


ARMED = _armed()
_seen: dict[str, int] = {}


def crash_point(name: str) -> None:
    if name not in ARMED:
        return
    _seen[name] = _seen.get(name, 0) + 1
    if _seen[name] != ARMED[name]:
        return
    once = os.environ.get("HOTMESH_FAULTS_ONCE")
    if once:
        marker = Path(once)
        if marker.exists():
            return
        marker.write_text(name)
    os._exit(137)
